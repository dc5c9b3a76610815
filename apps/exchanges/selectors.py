"""Reads of exchange accounts that more than one command or view needs."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from .models import Exchange


def exchanges_named(names: Iterable[str], *, what: str) -> list[Exchange]:
    """The accounts named (ccxt ids, any case), or every active one when none is; refuses unknown names and,
    with none named, an empty list, saying what is registered. `what` names the work, for the message."""
    names = sorted({name.strip().lower() for name in names if name.strip()})
    if not names:
        exchanges = list(Exchange.objects.filter(is_active=True).order_by("name"))
        if not exchanges:
            raise ValidationError(
                {"exchange": f"No active exchange to {what}; register one with add_exchange."}
            )
        return exchanges
    exchanges = list(Exchange.objects.filter(name__in=names).order_by("name"))
    missing = sorted(set(names) - {e.name for e in exchanges})
    if missing:
        registered = ", ".join(Exchange.objects.order_by("name").values_list("name", flat=True)) or "none"
        raise ValidationError(
            {"exchange": f"Unknown exchange: {', '.join(missing)}. Registered: {registered}."}
        )
    return exchanges
