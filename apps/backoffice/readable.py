"""Changelist columns as a trader reads them (apps/common/formatting.py): money in its currency to 2 places
with its sign coloured, prices and amounts without padding zeros, percentages with %, times labelled UTC.

Each column keeps the model field's ordering, so sorting by it works as before.
"""

from __future__ import annotations

from datetime import UTC

from django.contrib import admin

from apps.common.formatting import DASH, money, percent, plain_money, price, quantity, quote_currency


def _utc_text(value) -> str:
    if value is None:
        return DASH
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"


def utc_column(field: str, description: str):
    @admin.display(description=f"{description} (UTC)", ordering=field)
    def column(self, obj):
        return _utc_text(getattr(obj, field))

    column.__name__ = f"{field}_utc"
    return column


def money_column(field: str, description: str, *, signed: bool = True, places: int = 2, currency=None):
    """`currency`: a function of the row giving its currency (default: the symbol's quote currency)."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        which = currency(obj) if currency else quote_currency(getattr(obj, "symbol", None))
        return money(getattr(obj, field), which, signed=signed, places=places)

    column.__name__ = f"{field}_money"
    return column


def quantity_column(field: str, description: str):
    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return quantity(getattr(obj, field))

    column.__name__ = f"{field}_quantity"
    return column


def price_column(field: str, description: str):
    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return price(getattr(obj, field))

    column.__name__ = f"{field}_price"
    return column


def percent_column(field: str, description: str):
    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return percent(getattr(obj, field))

    column.__name__ = f"{field}_percent"
    return column


def fee_column(field: str = "fee", currency_field: str = "fee_currency"):
    @admin.display(description="fee", ordering=field)
    def column(self, obj):
        value = getattr(obj, field)
        if value is None:
            return DASH
        return f"{plain_money(value, signed=False, places=4)} {getattr(obj, currency_field) or ''}".strip()

    column.__name__ = f"{field}_with_currency"
    return column
