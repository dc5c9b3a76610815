"""Acting on discrepancies: adopt the exchange's version into the record, or dismiss with a reason.

Adopting goes through the services the API uses: the order upsert and its state machine (a filled order
never becomes open again, whoever asks), the trade batch, the position services, status events, and the
writes attributed to the `reconciliation` principal. A discrepancy is acted on once: adopting or dismissing
one that is no longer open is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.agents.models import Agent, WriteAction
from apps.agents.services import agent_writes_record
from apps.execution import ccxt as vocabulary
from apps.execution.models import Order, Position
from apps.execution.services.orders import OrderConflict, order_upsert
from apps.execution.services.positions import position_close, position_open_or_update
from apps.execution.services.trades import TradeConflict, trades_record_many
from apps.system_events.models import Severity
from apps.system_events.services import system_event_record

from ..models import Discrepancy, DiscrepancyKind, DiscrepancyState
from .compare import TERMINAL_STATUSES, exchange_status, money

ACTOR = "reconciliation"
AUTO_ADOPT_CHOICES = ("missing_trade", "terminal_status")
ORDER_KINDS = (
    DiscrepancyKind.MISSING_ORDER,
    DiscrepancyKind.EXTERNAL_ORDER,
    DiscrepancyKind.ORDER_DIFFERS,
    DiscrepancyKind.STALE_OPEN_ORDER,
)
TRADES_BATCH = 1_000


def reconciliation_principal() -> Agent:
    """The principal reconciliation's writes are attributed to; its token is random and revoked at once,
    so nothing can ever authenticate as it."""
    agent = Agent.objects.filter(name=ACTOR).first()
    if agent is None:
        digest = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
        agent, _ = Agent.objects.get_or_create(
            name=ACTOR, defaults={"token_digest": digest, "revoked_at": timezone.now()}
        )
    return agent


# --- ccxt's structures as the services' arguments -------------------------------------------------


def order_arguments(remote: Mapping[str, Any]) -> dict[str, Any]:
    fee = vocabulary.fee(fee=remote.get("fee"), fees=remote.get("fees"))
    return {
        "order_id": str(remote["id"]),
        "client_order_id": vocabulary.client_order_id(remote.get("clientOrderId")),
        "symbol": remote["symbol"],
        "side": vocabulary.side(remote["side"]),
        "type": vocabulary.order_type(remote.get("type") or "limit"),
        "status": vocabulary.order_status(remote.get("status") or "open"),
        "amount": money(remote["amount"]),
        "timestamp": int(remote["timestamp"]),
        "filled": money(remote.get("filled")),
        "price": money(remote.get("price")),
        "cost": money(remote.get("cost")),
        "average": money(remote.get("average")),
        "fee": money(fee.cost),
        "fee_currency": fee.currency,
        "stop_price": money(remote.get("stopPrice") or remote.get("triggerPrice")),
        "take_profit_price": money(remote.get("takeProfitPrice")),
        "stop_loss_price": money(remote.get("stopLossPrice")),
        "raw_data": remote.get("info"),
    }


def trade_arguments(remote: Mapping[str, Any], exchange) -> dict[str, Any]:
    fee = vocabulary.fee(fee=remote.get("fee"), fees=remote.get("fees"))
    return {
        "exchange": exchange,
        "trade_id": str(remote["id"]),
        "order_id": str(remote["order"]) if remote.get("order") else None,
        "symbol": remote["symbol"],
        "side": vocabulary.side(remote["side"]),
        "price": money(remote["price"]),
        "amount": money(remote["amount"]),
        "cost": money(remote.get("cost")),
        "fee": money(fee.cost),
        "fee_currency": fee.currency,
        "timestamp": int(remote["timestamp"]),
        "raw_data": remote.get("info"),
    }


# --- one discrepancy -------------------------------------------------------------------------------


def _open(discrepancy: Discrepancy) -> Discrepancy:
    locked = Discrepancy.objects.select_for_update().select_related("exchange").get(pk=discrepancy.pk)
    if locked.state != DiscrepancyState.OPEN:
        raise ValidationError(
            {"state": f"Discrepancy {locked.pk} is {locked.state}, not open: it was acted on already."}
        )
    return locked


def _adopt_order(discrepancy: Discrepancy) -> str:
    remote = discrepancy.exchange_version or {}
    if remote.get("status") == "unknown":
        raise ValidationError(
            {"exchange_version": f"The exchange has no order {discrepancy.subject}: there is no version of "
             "its to adopt. Find out what happened to it, then dismiss this with the reason."}
        )  # fmt: skip
    try:
        result = order_upsert(exchange=discrepancy.exchange, actor=ACTOR, **order_arguments(remote))
    except OrderConflict as conflict:
        raise ValidationError({conflict.field or "status": str(conflict)}) from None
    if result.outcome != "unchanged":
        action = WriteAction.CREATED if result.outcome == "created" else WriteAction.UPDATED
        agent_writes_record(
            agent=reconciliation_principal(), resource="orders", action=action, object_ids=[result.order.pk]
        )
    order = result.order
    return f"Order {order.pk} {result.outcome} from the exchange's version (status {order.status})."


def _adopt_trade(discrepancy: Discrepancy) -> str:
    remote = discrepancy.exchange_version or {}
    order_id = str(remote["order"]) if remote.get("order") else None
    notes = []
    if order_id and not Order.objects.filter(pk=order_id).exists():
        # The fill's order must be recorded first; adopt it too when reconciliation found it.
        pending = Discrepancy.objects.filter(
            exchange=discrepancy.exchange,
            state=DiscrepancyState.OPEN,
            kind__in=[DiscrepancyKind.MISSING_ORDER, DiscrepancyKind.EXTERNAL_ORDER],
            subject=order_id,
        ).first()
        if pending is None:
            raise ValidationError(
                {"order": f"The fill's order {order_id} is not recorded and no run found it on the exchange; "
                 "reconcile again (it fetches the order), then adopt its discrepancy first."}
            )  # fmt: skip
        notes.append(discrepancy_adopt(discrepancy=pending, actor=ACTOR).note)
    (result,) = trades_record_many(trades=[trade_arguments(remote, discrepancy.exchange)])
    if isinstance(result, TradeConflict):
        raise ValidationError({"id": str(result)})
    if isinstance(result, Exception):
        raise result
    if result.outcome == "created":
        agent_writes_record(
            agent=reconciliation_principal(), resource="trades", action=WriteAction.CREATED,
            object_ids=[result.trade.pk],
        )  # fmt: skip
    return " ".join([*notes, f"Fill {result.trade.pk} {result.outcome} from the exchange's version."])


def _adopt_position(discrepancy: Discrepancy) -> str:
    remote = discrepancy.exchange_version
    exchange = discrepancy.exchange
    ours = Position.objects.filter(exchange=exchange, symbol=discrepancy.subject, is_open=True).first()
    if not remote:
        if ours is None:
            return "Neither side holds a position any more; nothing to change."
        position_close(position=ours)
        return f"Position {ours.pk} closed: the exchange holds none."
    entry = money(remote.get("entryPrice"))
    mark = money(remote.get("markPrice")) or entry
    if entry is None:
        raise ValidationError({"exchange_version": "The exchange's position has no entry price to record."})
    result = position_open_or_update(
        exchange=exchange,
        symbol=discrepancy.subject,
        side=vocabulary.position_side(remote["side"]),
        amount=money(remote["contracts"]),
        entry_price=entry,
        current_price=mark,
        unrealized_pnl=money(remote.get("unrealizedPnl")),
    )
    return f"Position {result.position.pk} {result.outcome} from the exchange's version."


_ADOPTERS = {
    DiscrepancyKind.MISSING_TRADE: _adopt_trade,
    **dict.fromkeys(ORDER_KINDS, _adopt_order),
    DiscrepancyKind.POSITION_DIFFERS: _adopt_position,
    DiscrepancyKind.BALANCE_DIFFERS: lambda d: (
        "Balances are not rows of the record: the exchange's balance stands, and the next run compares "
        "from it."
    ),
}


def _acted(discrepancy: Discrepancy, *, state: str, actor: str, note: str) -> Discrepancy:
    discrepancy.state = state
    discrepancy.acted_by = (actor or "")[:150]
    discrepancy.acted_at = timezone.now()
    discrepancy.note = note
    discrepancy.save(update_fields=["state", "acted_by", "acted_at", "note"])
    return discrepancy


@transaction.atomic
def discrepancy_adopt(*, discrepancy: Discrepancy, actor: str) -> Discrepancy:
    """Record the exchange's version; raises ValidationError (and changes nothing) when it cannot be."""
    discrepancy = _open(discrepancy)
    note = _ADOPTERS[discrepancy.kind](discrepancy)
    _acted(discrepancy, state=DiscrepancyState.ADOPTED, actor=actor, note=note)
    system_event_record(
        event_type="discrepancy_adopted",
        severity=Severity.INFO,
        message=f"{discrepancy.get_kind_display()} {discrepancy.subject} on {discrepancy.exchange.name}: "
        f"adopted by {actor}. {note}",
        data={"discrepancy": discrepancy.pk, "kind": discrepancy.kind, "actor": actor},
        related_order_id=discrepancy.subject if discrepancy.kind in ORDER_KINDS else None,
        related_symbol=discrepancy.symbol or None,
    )
    return discrepancy


@transaction.atomic
def discrepancy_dismiss(*, discrepancy: Discrepancy, reason: str, actor: str) -> Discrepancy:
    """Close a discrepancy without touching the record, saying why (a reason is required)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the difference is dismissed; the reason is kept with it."})
    discrepancy = _open(discrepancy)
    return _acted(discrepancy, state=DiscrepancyState.DISMISSED, actor=actor, note=reason[:5000])


def discrepancies_adopt(*, discrepancies: Iterable[Discrepancy], actor: str) -> tuple[int, dict[int, str]]:
    """Adopt each, in id order, each on its own: (how many adopted, {id: why not} for the others).

    A fill's order is adopted with the fill; when that order is in the same batch it counts as adopted."""
    adopted, refused = 0, {}
    chosen = sorted(discrepancies, key=lambda d: d.pk)
    for discrepancy in chosen:
        if discrepancy.state == DiscrepancyState.OPEN:
            current = Discrepancy.objects.filter(pk=discrepancy.pk).values_list("state", flat=True).first()
            if current == DiscrepancyState.ADOPTED:  # adopted a moment ago, with one of its fills
                adopted += 1
                continue
        try:
            discrepancy_adopt(discrepancy=discrepancy, actor=actor)
            adopted += 1
        except ValidationError as error:
            refused[discrepancy.pk] = " ".join(error.messages)
    return adopted, refused


@transaction.atomic
def discrepancies_dismiss(*, discrepancies: Iterable[Discrepancy], reason: str, actor: str) -> int:
    """Dismiss all of them with one reason, or none (one that is not open refuses the lot)."""
    rows = list(discrepancies)
    for discrepancy in sorted(rows, key=lambda d: d.pk):
        discrepancy_dismiss(discrepancy=discrepancy, reason=reason, actor=actor)
    return len(rows)


# --- by the setting -----------------------------------------------------------------------------


def _auto_adoptable(discrepancy: Discrepancy, choices: set[str]) -> bool:
    if discrepancy.kind == DiscrepancyKind.MISSING_TRADE:
        return "missing_trade" in choices
    if discrepancy.kind in (DiscrepancyKind.ORDER_DIFFERS, DiscrepancyKind.STALE_OPEN_ORDER):
        remote = discrepancy.exchange_version or {}
        return (
            "terminal_status" in choices
            and remote.get("status") not in (None, "unknown")
            and exchange_status(remote) in TERMINAL_STATUSES
        )
    return False


def discrepancies_auto_adopt(*, exchange) -> int:
    """Adopt what RECONCILIATION_AUTO_ADOPT allows (terminal statuses first, then missing fills, oldest
    first); what cannot be adopted stays open with the reason in its note. The number adopted."""
    choices = set(settings.RECONCILIATION_AUTO_ADOPT)
    unknown = choices - set(AUTO_ADOPT_CHOICES)
    if unknown:
        raise ValidationError(
            {"RECONCILIATION_AUTO_ADOPT": f"Unknown: {', '.join(sorted(unknown))}; "
             f"choose from {', '.join(AUTO_ADOPT_CHOICES)}."}
        )  # fmt: skip
    candidates = Discrepancy.objects.filter(exchange=exchange, state=DiscrepancyState.OPEN).order_by("id")
    adopted = 0
    for discrepancy in candidates.iterator():
        if not _auto_adoptable(discrepancy, choices):
            continue
        try:
            discrepancy_adopt(discrepancy=discrepancy, actor=ACTOR)
            adopted += 1
        except ValidationError as error:
            Discrepancy.objects.filter(pk=discrepancy.pk).update(
                note=f"Not adopted automatically: {' '.join(error.messages)}"[:5000]
            )
    return adopted
