"""Recording orders: upsert on client_order_id under the order state machine, status changes as events."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.common.clock import from_ms
from apps.exchanges.models import Exchange
from apps.execution import ccxt
from apps.execution.models import Order, OrderStatus, OrderType, Side
from apps.system_events.models import Severity
from apps.system_events.services import system_event_record

ORDER_STATUS_CHANGED = "order_status_changed"

# Before the terminal states, an order only moves forward: pending -> open -> partially_filled.
_PROGRESS = {OrderStatus.PENDING: 0, OrderStatus.OPEN: 1, OrderStatus.PARTIALLY_FILLED: 2}

# Fields an update may change; None in an update means "not reported", never "erase".
_UPDATABLE = (
    "status",
    "amount",
    "filled",
    "remaining",
    "cost",
    "price",
    "average",
    "fee",
    "fee_currency",
    "stop_price",
    "take_profit_price",
    "stop_loss_price",
    "decision_id",
    "raw_data",
)


class OrderConflict(Exception):
    """The order cannot take this state: the recorded row is left as it was."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class OrderUpsertResult:
    order: Order
    outcome: str  # "created", "updated" or "unchanged"
    previous_status: str | None


def order_effective_status(*, status: str, filled: Decimal) -> OrderStatus:
    """An open order with something filled is partially filled, whatever the exchange called it."""
    status = OrderStatus(status)
    if status == OrderStatus.OPEN and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def _validate(*, status: OrderStatus, amount: Decimal, filled: Decimal) -> None:
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be greater than zero."})
    if filled < 0:
        raise ValidationError({"filled": "The filled amount must not be negative."})
    if filled > amount:
        raise ValidationError({"filled": f"The filled amount {filled} exceeds the order's amount {amount}."})
    if status == OrderStatus.PARTIALLY_FILLED and filled == 0:
        raise ValidationError({"status": "A partially filled order must have a filled amount above zero."})


def _check_transition(order: Order, *, status: OrderStatus, filled: Decimal, amount: Decimal) -> None:
    old = OrderStatus(order.status)
    if old in OrderStatus.terminal() and status != old:
        raise OrderConflict(
            f"Order {order.id} is {old}, a final state; it cannot become {status}.",
            field="status",
        )
    if filled < (order.filled or 0):
        raise OrderConflict(
            f"Order {order.id} has {order.filled} filled; the filled amount never decreases (got {filled}).",
            field="filled",
        )
    if old in _PROGRESS and status in _PROGRESS and _PROGRESS[status] < _PROGRESS[old]:
        raise OrderConflict(
            f"Order {order.id} is {old}; it cannot go back to {status}.",
            field="status",
        )
    if old in OrderStatus.terminal() and amount != order.amount:
        raise OrderConflict(
            f"Order {order.id} is {old}; its amount ({order.amount}) can no longer change.",
            field="amount",
        )


def _record_status_change(order: Order, *, previous: str | None, actor: str | None) -> None:
    severity = (
        Severity.WARNING if order.status in (OrderStatus.REJECTED, OrderStatus.EXPIRED) else Severity.INFO
    )
    moved = f"moved from {previous} to {order.status}" if previous else f"recorded as {order.status}"
    system_event_record(
        event_type=ORDER_STATUS_CHANGED,
        severity=severity,
        message=f"Order {order.id} ({order.side} {order.amount} {order.symbol}) {moved}.",
        data={
            "order_id": order.id,
            "client_order_id": order.client_order_id,
            "exchange": order.exchange.name if order.exchange_id else None,
            "from": previous,
            "to": order.status,
            "filled": str(order.filled),
            "amount": str(order.amount),
            "agent": actor,
        },
        related_order_id=order.id,
        related_symbol=order.symbol,
    )


@transaction.atomic
def order_upsert(
    *,
    exchange: Exchange,
    order_id: str,
    client_order_id: str | None,
    symbol: str,
    side: Side | str,
    type: OrderType | str,
    status: OrderStatus | str,
    amount: Decimal,
    timestamp: int,
    filled: Decimal | None = None,
    price: Decimal | None = None,
    cost: Decimal | None = None,
    average: Decimal | None = None,
    fee: Decimal | None = None,
    fee_currency: str | None = None,
    stop_price: Decimal | None = None,
    take_profit_price: Decimal | None = None,
    stop_loss_price: Decimal | None = None,
    decision_id: str | None = None,
    raw_data: Any = None,
    actor: str | None = None,
) -> OrderUpsertResult:
    """Record an order, or bring the recorded one up to date, keyed on `client_order_id`.

    Without a client order id, or with one of ccxt's placeholders ("0", empty: see
    apps.execution.ccxt.client_order_id), the exchange's id stands in for it. Terminal states (filled,
    canceled, rejected, expired) are final, the filled amount never decreases and an order never
    moves back before a state it reached: such a change raises OrderConflict and nothing is
    written. `remaining` is always amount - filled. Every accepted change of status, the first
    one included, is recorded as an `order_status_changed` system event.

    Two concurrent calls for the same order serialise on its row (SELECT ... FOR UPDATE, with the
    unique index deciding the race to insert it): one creates, the other updates.
    """
    filled = filled if filled is not None else Decimal(0)
    client_order_id = ccxt.client_order_id(client_order_id) or order_id
    status = order_effective_status(status=status, filled=filled)
    _validate(status=status, amount=amount, filled=filled)
    values = {
        "status": status,
        "amount": amount,
        "filled": filled,
        "remaining": amount - filled,
        "cost": cost,
        "price": price,
        "average": average,
        "fee": fee,
        "fee_currency": fee_currency or None,
        "stop_price": stop_price,
        "take_profit_price": take_profit_price,
        "stop_loss_price": stop_loss_price,
        "decision_id": decision_id,
        "raw_data": raw_data,
    }

    order = _locked(client_order_id)
    if order is None:
        created = Order(
            id=order_id,
            client_order_id=client_order_id,
            exchange=exchange,
            symbol=symbol,
            side=Side(side),
            type=OrderType(type),
            timestamp=timestamp,
            datetime=from_ms(timestamp),
            **{**values, "cost": cost if cost is not None else Decimal(0)},
        )
        try:
            with transaction.atomic():
                created.save(force_insert=True)
        except IntegrityError:
            # Another request inserted it first (the unique index waited for it to commit), or the
            # exchange's id is already recorded under another client order id.
            order = _locked(client_order_id) or _recorded_under_placeholder(order_id, client_order_id)
            if order is None:
                other = Order.objects.filter(pk=order_id).values_list("client_order_id", flat=True).first()
                raise OrderConflict(
                    f"Order id {order_id} is already recorded with client_order_id {other!r}.",
                    field="id",
                ) from None
        else:
            _record_status_change(created, previous=None, actor=actor)
            return OrderUpsertResult(order=created, outcome="created", previous_status=None)

    _check_identity(order, exchange=exchange, order_id=order_id, symbol=symbol, side=side)
    _check_transition(order, status=status, filled=filled, amount=amount)
    previous = order.status
    changed = []
    if order.client_order_id != client_order_id:  # a row keyed on a placeholder takes its real key
        order.client_order_id = client_order_id
        changed.append("client_order_id")
    for name in _UPDATABLE:
        new = values[name]
        if new is None:
            continue
        if getattr(order, name) != new:
            setattr(order, name, new)
            changed.append(name)
    if not changed:
        return OrderUpsertResult(order=order, outcome="unchanged", previous_status=order.status)
    order.save(update_fields=changed)
    order.refresh_from_db(fields=["updated_at"])  # set by the database trigger
    if order.status != previous:
        _record_status_change(order, previous=previous, actor=actor)
    return OrderUpsertResult(order=order, outcome="updated", previous_status=previous)


def _locked(client_order_id: str) -> Order | None:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("exchange")
        .filter(client_order_id=client_order_id)
        .first()
    )


def _recorded_under_placeholder(order_id: str, client_order_id: str) -> Order | None:
    """The order keyed on a placeholder client order id ("0") before placeholders were read as none.

    Such a row (at most one: the column is unique) is the same order reported without a client id.
    """
    if client_order_id != order_id:
        return None
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("exchange")
        .filter(pk=order_id, client_order_id__in=ccxt.PLACEHOLDER_CLIENT_ORDER_IDS)
        .first()
    )


def _check_identity(order: Order, *, exchange: Exchange, order_id: str, symbol: str, side: str) -> None:
    """The same client order id must describe the same order."""
    if order.id != order_id:
        raise OrderConflict(
            f"client_order_id {order.client_order_id!r} is order {order.id}, not {order_id}.",
            field="client_order_id",
        )
    if order.exchange_id != exchange.pk:
        raise OrderConflict(
            f"Order {order.id} is recorded on {order.exchange.name if order.exchange_id else 'no exchange'}, "
            f"not {exchange.name}.",
            field="exchange",
        )
    if order.symbol != symbol or order.side != side:
        raise OrderConflict(
            f"Order {order.id} is {order.side} {order.symbol}; an update cannot make it {side} {symbol}.",
            field="symbol" if order.symbol != symbol else "side",
        )
