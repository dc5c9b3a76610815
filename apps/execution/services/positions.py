"""Positions: open or update one per (exchange, symbol), close it and keep its realized PnL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.exchanges.models import Exchange
from apps.execution.models import Position, Side
from apps.execution.services.realized import position_realized_pnl_update

EIGHT = Decimal("0.00000001")
FOUR = Decimal("0.0001")
# NUMERIC(20,8) and NUMERIC(10,4) limits: a derived value beyond them cannot be stored.
MONEY_LIMIT = Decimal(10) ** 12
RATIO_LIMIT = Decimal(10) ** 6

_UPDATABLE = (
    "side",
    "amount",
    "entry_price",
    "current_price",
    "unrealized_pnl",
    "unrealized_pnl_percentage",
    "value",
    "stop_loss",
    "take_profit",
)


@dataclass(frozen=True)
class PositionResult:
    position: Position
    outcome: str  # "created", "updated", "closed" or "unchanged"


def _derived(
    *, side: str, amount: Decimal, entry_price: Decimal, current_price: Decimal
) -> tuple[Decimal, Decimal | None, Decimal]:
    """(unrealized_pnl, unrealized_pnl_percentage, value) as the position's side implies."""
    direction = 1 if side == Side.BUY else -1
    pnl = _rounded((current_price - entry_price) * amount * direction)
    basis = entry_price * amount
    try:
        pct = (pnl / basis * 100).quantize(FOUR, rounding=ROUND_HALF_UP) if basis else None
    except InvalidOperation:
        pct = None
    value = _rounded(current_price * amount)
    return pnl, pct, value


def _rounded(money: Decimal) -> Decimal:
    """To 8 places, unless it is beyond NUMERIC(20,8) anyway: _fits refuses it then, naming the field,
    whereas quantizing past Decimal's 28 significant digits would raise InvalidOperation."""
    return money if abs(money) >= MONEY_LIMIT else money.quantize(EIGHT, rounding=ROUND_HALF_UP)


def _fits(values: dict) -> None:
    for name in ("unrealized_pnl", "value"):
        if values.get(name) is not None and abs(values[name]) >= MONEY_LIMIT:
            raise ValidationError({name: f"{values[name]} is out of range for NUMERIC(20,8)."})
    pct = values.get("unrealized_pnl_percentage")
    if pct is not None and abs(pct) >= RATIO_LIMIT:
        raise ValidationError({"unrealized_pnl_percentage": f"{pct} is out of range for NUMERIC(10,4)."})


@transaction.atomic
def position_open_or_update(
    *,
    exchange: Exchange,
    symbol: str,
    side: Side | str,
    amount: Decimal,
    entry_price: Decimal,
    current_price: Decimal,
    unrealized_pnl: Decimal | None = None,
    unrealized_pnl_percentage: Decimal | None = None,
    value: Decimal | None = None,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    opened_at: datetime | None = None,
) -> PositionResult:
    """Open the position for (exchange, symbol), or update the open one.

    Unrealized PnL, its percentage and the value are derived from the prices when not given.
    Concurrent calls for the same (exchange, symbol) serialise on the open position's row; the
    partial unique index decides the race to open it.
    """
    side = Side(side)
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be greater than zero; close the position instead."})
    pnl, pct, derived_value = _derived(
        side=side, amount=amount, entry_price=entry_price, current_price=current_price
    )
    values = {
        "side": side,
        "amount": amount,
        "entry_price": entry_price,
        "current_price": current_price,
        "unrealized_pnl": unrealized_pnl if unrealized_pnl is not None else pnl,
        "unrealized_pnl_percentage": (
            unrealized_pnl_percentage if unrealized_pnl_percentage is not None else pct
        ),
        "value": value if value is not None else derived_value,
        "stop_loss": stop_loss,
        "take_profit": take_profit,
    }
    _fits(values)

    position = _open_position(exchange, symbol)
    if position is None:
        created = Position(
            exchange=exchange,
            symbol=symbol,
            is_open=True,
            opened_at=opened_at or timezone.now(),
            **values,
        )
        try:
            with transaction.atomic():
                created.save(force_insert=True)
        except IntegrityError:
            position = _open_position(exchange, symbol)
            if position is None:  # pragma: no cover - the only unique constraint is the open one
                raise
        else:
            return PositionResult(position=created, outcome="created")

    changed = []
    for name in _UPDATABLE:
        new = values[name]
        if new is not None and getattr(position, name) != new:
            setattr(position, name, new)
            changed.append(name)
    if not changed:
        return PositionResult(position=position, outcome="unchanged")
    position.save(update_fields=changed)
    position.refresh_from_db(fields=["updated_at"])  # set by the database trigger
    return PositionResult(position=position, outcome="updated")


@transaction.atomic
def position_close(
    *,
    position: Position,
    closed_at: datetime | None = None,
    current_price: Decimal | None = None,
) -> PositionResult:
    """Close a position: is_open false, closed_at set; the final price updates the PnL if given.
    Its realized PnL is computed from the fills of its life and kept with it (services/realized.py).

    Closing a closed position changes nothing (a retried close is harmless).
    """
    position = Position.objects.select_for_update(of=("self",)).select_related("exchange").get(pk=position.pk)
    if position.is_open is False:
        return PositionResult(position=position, outcome="unchanged")
    closed_at = closed_at or timezone.now()
    if closed_at < position.opened_at:
        raise ValidationError({"closed_at": "A position cannot close before it opened."})
    changed = ["is_open", "closed_at"]
    position.is_open = False
    position.closed_at = closed_at
    if current_price is not None:
        pnl, pct, value = _derived(
            side=position.side,
            amount=position.amount,
            entry_price=position.entry_price,
            current_price=current_price,
        )
        position.current_price = current_price
        position.unrealized_pnl, position.unrealized_pnl_percentage, position.value = pnl, pct, value
        _fits({"unrealized_pnl": pnl, "unrealized_pnl_percentage": pct, "value": value})
        changed += ["current_price", "unrealized_pnl", "unrealized_pnl_percentage", "value"]
    position.save(update_fields=changed)
    position_realized_pnl_update(position=position)
    position.refresh_from_db(fields=["updated_at"])
    return PositionResult(position=position, outcome="closed")


def _open_position(exchange: Exchange, symbol: str) -> Position | None:
    return (
        Position.objects.select_for_update(of=("self",))
        .select_related("exchange")
        .filter(exchange=exchange, symbol=symbol, is_open=True)
        .first()
    )
