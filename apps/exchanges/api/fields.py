"""An exchange named by its ccxt id in a request body (`"exchange": "binance"`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.exchanges.models import Exchange

CONTEXT_KEY = "exchanges_by_name"


def prefetch_exchanges(names: Iterable[Any], context: dict) -> None:
    """Look every named exchange up in one query and keep the answers (None for unknown) in `context`."""
    wanted = {n.strip().lower() for n in names if isinstance(n, str) and n.strip()}
    cache = context.setdefault(CONTEXT_KEY, {})
    wanted -= cache.keys()
    if not wanted:
        return
    found = {e.name: e for e in Exchange.objects.filter(name__in=wanted)}
    for name in wanted:
        cache[name] = found.get(name)


@extend_schema_field(OpenApiTypes.STR)
class ExchangeNameField(serializers.Field):
    default_error_messages = {
        "invalid": 'Name the exchange by its ccxt id, e.g. "binance".',
        "unknown": "No exchange named {name!r} is registered (see GET /api/v1/exchanges/).",
        "inactive": "The exchange {name!r} is deactivated; an operator must activate it first.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "The exchange's ccxt id, e.g. binance (GET /api/v1/exchanges/).")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Exchange:
        if not isinstance(data, str) or not data.strip() or len(data) > 50:
            self.fail("invalid")
        name = data.strip().lower()
        cache = self.context.setdefault(CONTEXT_KEY, {})
        if name not in cache:
            prefetch_exchanges([name], self.context)
        exchange = cache[name]
        if exchange is None:
            self.fail("unknown", name=name)
        if exchange.is_active is False:
            self.fail("inactive", name=name)
        return exchange

    def to_representation(self, value: Exchange) -> str:
        return value.name
