"""Recording trades (fills): keyed on the exchange's trade id, a repeat is a no-op."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.common.clock import from_ms
from apps.exchanges.models import Exchange
from apps.execution.models import Order, Side, Trade


class TradeConflict(Exception):
    """The trade id is already recorded for another exchange or symbol."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TradeRecordResult:
    trade: Trade
    outcome: str  # "created" or "unchanged"


@transaction.atomic
def trade_record(
    *,
    exchange: Exchange,
    trade_id: str,
    symbol: str,
    side: Side | str,
    price: Decimal,
    amount: Decimal,
    timestamp: int,
    order_id: str | None = None,
    cost: Decimal | None = None,
    fee: Decimal | None = None,
    fee_currency: str | None = None,
    raw_data: Any = None,
) -> TradeRecordResult:
    """Record one fill. The same trade id again (same exchange and symbol) changes nothing.

    `cost` defaults to price x amount, as ccxt computes it. A trade naming an order links to it;
    the order must be recorded first (POST it, then its trades).
    """
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be greater than zero."})
    if price < 0:
        raise ValidationError({"price": "The price must not be negative."})
    existing = Trade.objects.select_related("exchange").filter(pk=trade_id).first()
    if existing is not None:
        return _repeat(existing, exchange=exchange, symbol=symbol)

    order = None
    if order_id:
        order = Order.objects.filter(pk=order_id).only("pk", "exchange_id").first()
        if order is None:
            raise ValidationError(
                {"order": f"Order {order_id} is not recorded; POST it to /api/v1/orders/ before its trades."}
            )
        if order.exchange_id != exchange.pk:
            raise ValidationError({"order": f"Order {order_id} is recorded on another exchange."})
    trade = Trade(
        id=trade_id,
        order=order,
        exchange=exchange,
        symbol=symbol,
        side=Side(side),
        price=price,
        amount=amount,
        cost=cost if cost is not None else price * amount,
        fee=fee,
        fee_currency=fee_currency or None,
        timestamp=timestamp,
        datetime=from_ms(timestamp),
        raw_data=raw_data,
    )
    try:
        with transaction.atomic():
            trade.save(force_insert=True)
    except IntegrityError:
        # A concurrent request recorded the same trade id first.
        existing = Trade.objects.select_related("exchange").get(pk=trade_id)
        return _repeat(existing, exchange=exchange, symbol=symbol)
    return TradeRecordResult(trade=trade, outcome="created")


def _repeat(existing: Trade, *, exchange: Exchange, symbol: str) -> TradeRecordResult:
    if existing.exchange_id != exchange.pk or existing.symbol != symbol:
        where = existing.exchange.name if existing.exchange_id else "no exchange"
        raise TradeConflict(
            f"Trade id {existing.id} is already recorded for {existing.symbol} on {where}.",
            field="id",
        )
    return TradeRecordResult(trade=existing, outcome="unchanged")
