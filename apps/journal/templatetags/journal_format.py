"""Template filters for the journal's pages: money, percent and quantity (apps/common/formatting.py)."""

from django import template

from apps.common import formatting

register = template.Library()


@register.filter
def money(value, currency=None):
    return formatting.money(value, currency or None)


@register.filter
def money_unsigned(value, currency=None):
    return formatting.money(value, currency or None, signed=False)


@register.filter
def percent(value):
    return formatting.percent(value, signed=False)


@register.filter
def ratio(value):
    """A ratio to 2 places (profit factor, average R), or — ."""
    return formatting.plain_money(value, signed=False) if value is not None else formatting.DASH


@register.filter
def signed_ratio(value):
    return formatting.money(value) if value is not None else formatting.DASH


@register.filter
def quantity(value):
    return formatting.quantity(value)
