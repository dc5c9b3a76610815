"""Recording trades (fills): keyed on the exchange's trade id, a repeat is a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

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
    _check_amounts(price=price, amount=amount)
    existing = Trade.objects.select_related("exchange").filter(pk=trade_id).first()
    if existing is not None:
        return _repeat(existing, exchange=exchange, symbol=symbol)

    order = None
    if order_id:
        order = Order.objects.filter(pk=order_id).only("pk", "exchange_id").first()
    trade = _new_trade(
        exchange=exchange, trade_id=trade_id, symbol=symbol, side=side, price=price, amount=amount,
        timestamp=timestamp, order_id=order_id, order=order, cost=cost, fee=fee, fee_currency=fee_currency,
        raw_data=raw_data,
    )  # fmt: skip
    try:
        with transaction.atomic():
            trade.save(force_insert=True)
    except IntegrityError:
        # A concurrent request recorded the same trade id first.
        existing = Trade.objects.select_related("exchange").get(pk=trade_id)
        return _repeat(existing, exchange=exchange, symbol=symbol)
    return TradeRecordResult(trade=trade, outcome="created")


@transaction.atomic
def trades_record_many(*, trades: Sequence[dict[str, Any]]) -> list[TradeRecordResult | Exception]:
    """Record many fills (each a dict of trade_record's arguments) with a fixed number of queries.

    Per item: its result, or the ValidationError or TradeConflict that trade_record would raise for
    it. When any item fails nothing is written, so the caller can report every refusal. A trade id
    repeated in the list is recorded once (the first); the later ones are unchanged repeats.
    """
    ids = [item["trade_id"] for item in trades]
    existing = {trade.pk: trade for trade in Trade.objects.select_related("exchange").filter(pk__in=ids)}
    order_ids = {item["order_id"] for item in trades if item.get("order_id")}
    orders = {order.pk: order for order in Order.objects.filter(pk__in=order_ids).only("pk", "exchange_id")}
    planned: dict[str, Trade] = {}
    results: list[TradeRecordResult | Exception] = []
    for item in trades:
        try:
            _check_amounts(price=item["price"], amount=item["amount"])
            earlier = existing.get(item["trade_id"]) or planned.get(item["trade_id"])
            if earlier is not None:
                results.append(_repeat(earlier, exchange=item["exchange"], symbol=item["symbol"]))
                continue
            trade = _new_trade(**item, order=orders.get(item.get("order_id") or ""))
        except (ValidationError, TradeConflict) as exc:
            results.append(exc)
            continue
        planned[trade.pk] = trade
        results.append(TradeRecordResult(trade=trade, outcome="created"))
    if planned and not any(isinstance(result, Exception) for result in results):
        # created_at as the value its default would give (CURRENT_TIMESTAMP: this transaction's start),
        # so no row holds a DEFAULT expression and Django sends the rows as arrays (UNNEST) instead of
        # a statement with 13 placeholders per trade.
        with connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_TIMESTAMP")
            (started,) = cursor.fetchone()
        for trade in planned.values():
            trade.created_at = started
        try:
            with transaction.atomic():
                Trade.objects.bulk_create(planned.values())
        except IntegrityError:
            # A concurrent request recorded one of these ids first: one by one, as trade_record does.
            return [_record_or_refusal(item) for item in trades]
    return results


def _record_or_refusal(item: dict[str, Any]) -> TradeRecordResult | Exception:
    try:
        with transaction.atomic():
            return trade_record(**item)
    except (ValidationError, TradeConflict) as exc:
        return exc


def _check_amounts(*, price: Decimal, amount: Decimal) -> None:
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be greater than zero."})
    if price < 0:
        raise ValidationError({"price": "The price must not be negative."})


def _new_trade(
    *,
    exchange: Exchange,
    trade_id: str,
    symbol: str,
    side: Side | str,
    price: Decimal,
    amount: Decimal,
    timestamp: int,
    order_id: str | None = None,
    order: Order | None = None,
    cost: Decimal | None = None,
    fee: Decimal | None = None,
    fee_currency: str | None = None,
    raw_data: Any = None,
) -> Trade:
    """The Trade to insert, its order (looked up by the caller) checked: recorded, on this exchange."""
    if order_id:
        if order is None:
            raise ValidationError(
                {"order": f"Order {order_id} is not recorded; POST it to /api/v1/orders/ before its trades."}
            )
        if order.exchange_id != exchange.pk:
            raise ValidationError({"order": f"Order {order_id} is recorded on another exchange."})
    return Trade(
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


def _repeat(existing: Trade, *, exchange: Exchange, symbol: str) -> TradeRecordResult:
    if existing.exchange_id != exchange.pk or existing.symbol != symbol:
        where = existing.exchange.name if existing.exchange_id else "no exchange"
        raise TradeConflict(
            f"Trade id {existing.id} is already recorded for {existing.symbol} on {where}.",
            field="id",
        )
    return TradeRecordResult(trade=existing, outcome="unchanged")
