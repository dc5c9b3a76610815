"""ccxt's unified structures to the seed's vocabulary: statuses, order types, fees, position sides."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from apps.execution.models import OrderStatus, OrderType, Side

# ccxt's unified order statuses, and spellings exchanges use, onto the seed's. `open` with a
# filled amount becomes partially_filled in the order service, where the filled amount is known.
STATUS_SYNONYMS = {
    "closed": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELED,
    "new": OrderStatus.OPEN,
    "partially-filled": OrderStatus.PARTIALLY_FILLED,
    "partial": OrderStatus.PARTIALLY_FILLED,
}

# ccxt passes most exchanges' own order types through (lower case, with - or _).
TYPE_SYNONYMS = {
    "limit_maker": OrderType.LIMIT,
    "post_only": OrderType.LIMIT,
    "fok": OrderType.LIMIT,
    "ioc": OrderType.LIMIT,
    "stop": OrderType.STOP_LOSS,
    "stop_market": OrderType.STOP_LOSS,
    "stop_loss_market": OrderType.STOP_LOSS,
    "stop_limit": OrderType.STOP_LOSS_LIMIT,
    "take_profit_market": OrderType.TAKE_PROFIT,
}

POSITION_SIDES = {"long": Side.BUY, "short": Side.SELL}


def _token(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def order_status(value: Any) -> Any:
    """The seed's status for a ccxt (or seed) status; anything else is returned for the validator."""
    if isinstance(value, str):
        raw = value.strip().lower()
        if raw in STATUS_SYNONYMS:
            return STATUS_SYNONYMS[raw]
        token = _token(value)
        if token in OrderStatus.values:
            return token
    return value


def order_type(value: Any) -> Any:
    token = _token(value)
    if isinstance(token, str):
        if token in OrderType.values:
            return token
        if token in TYPE_SYNONYMS:
            return TYPE_SYNONYMS[token]
    return value


def position_side(value: Any) -> Any:
    token = _token(value)
    return POSITION_SIDES.get(token, token) if isinstance(token, str) else value


def apply_fee(item: dict) -> None:
    """ccxt's `fee: {cost, currency}` (or its `fees` list) onto the seed's `fee` and `fee_currency`.

    A list in one currency is summed; a list in several currencies cannot be one column, so it is
    left for the validator to refuse with a message saying so.
    """
    fee = item.get("fee")
    fees = item.pop("fees", None)
    if isinstance(fee, dict):
        item["fee"] = fee.get("cost")
        if item.get("fee_currency") is None and fee.get("currency") is not None:
            item["fee_currency"] = fee.get("currency")
        return
    if fee is not None or not isinstance(fees, list) or not fees:
        return
    entries = [f for f in fees if isinstance(f, dict) and f.get("cost") is not None]
    if len(entries) != len(fees):
        item["fee"] = fees  # a malformed list: the field reports it
        return
    currencies = {f.get("currency") for f in entries}
    if len(currencies) > 1:
        item["fee"] = {"__several_currencies__": sorted(str(c) for c in currencies)}
        return
    try:
        total = sum((Decimal(str(f["cost"])) for f in entries), Decimal(0))
    except (InvalidOperation, ValueError, TypeError):
        item["fee"] = fees
        return
    item["fee"] = total
    if item.get("fee_currency") is None:
        item["fee_currency"] = currencies.pop()
