"""Cash flows: deposits, withdrawals and transfers between accounts, recorded once each (docs/metrics.md).

Three writers: reconciliation records what the exchange reports (`cash_flows_from_exchange`), agents post
through the API and operators add them in the admin (`cash_flow_record`, `cash_flow_transfer`). A flow with
an `external_id` (the exchange's transaction id, or the sender's own) is recorded once, whoever sends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.clock import from_ms, to_ms
from apps.exchanges.models import Exchange

from ..models import INFLOWS, CashFlow, CashFlowKind, CashFlowSource
from .rates import MissingRate, RateBook

MONEY_PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class FlowOutcome:
    flow: CashFlow
    created: bool  # False: a flow with that external id was recorded before, and is returned unchanged


def _money(value, *, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({name: f"{value!r} is not a number."}) from None
    if not amount.is_finite():
        raise ValidationError({name: f"{value!r} is not a finite number."})
    return amount.quantize(MONEY_PLACES)


def cash_flow_validate(
    *, kind: str, currency: str, amount: Decimal, fee: Decimal | None, moment: datetime
) -> None:
    errors = {}
    if kind not in CashFlowKind.values:
        errors["kind"] = f"{kind!r} is not a kind of cash flow; one of: {', '.join(CashFlowKind.values)}."
    if not currency or not currency.strip():
        errors["currency"] = "Name the currency (e.g. USDT, BTC)."
    if amount <= 0:
        errors["amount"] = f"The amount must be positive (got {amount}); the kind says which way it went."
    if fee is not None and fee < 0:
        errors["fee"] = f"A fee must not be negative (got {fee})."
    if fee is not None and kind in INFLOWS and fee > 0:
        errors["fee"] = "Only money leaving an account (a withdrawal, a transfer out) carries a fee."
    if moment > timezone.now() + timedelta(minutes=5):
        errors["datetime"] = f"{moment.isoformat()} is in the future."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def cash_flow_record(
    *,
    exchange: Exchange,
    kind: str,
    currency: str,
    amount: Decimal,
    source: str,
    moment: datetime | None = None,
    fee: Decimal | None = None,
    value: Decimal | None = None,
    external_id: str | None = None,
    txid: str | None = None,
    transfer_group: uuid.UUID | None = None,
    recorded_by: str = "",
    note: str = "",
) -> FlowOutcome:
    """Record one flow. `value` is its amount in the reporting currency when the sender knows it; without it
    the snapshot that follows values it at its own rate for `currency`."""
    from django.conf import settings

    moment = moment or timezone.now()
    amount = _money(amount, name="amount")
    fee = None if fee is None else _money(fee, name="fee")
    value = None if value is None else _money(value, name="value")
    currency = (currency or "").strip().upper()
    cash_flow_validate(kind=kind, currency=currency, amount=amount, fee=fee, moment=moment)
    if value is not None and value < 0:
        raise ValidationError({"value": f"The value must not be negative (got {value})."})
    if source not in CashFlowSource.values:
        raise ValidationError({"source": f"{source!r} is not a source of cash flows."})
    if external_id is not None:
        existing = CashFlow.objects.filter(exchange=exchange, kind=kind, external_id=external_id).first()
        if existing is not None:
            return FlowOutcome(existing, created=False)
    flow = CashFlow(
        exchange=exchange,
        kind=kind,
        currency=currency,
        amount=amount,
        fee=fee,
        value=value,
        reporting_currency=settings.REPORTING_CURRENCY if value is not None else None,
        external_id=external_id or None,
        txid=txid or None,
        transfer_group=transfer_group,
        source=source,
        recorded_by=recorded_by,
        note=note,
        timestamp=to_ms(moment),
        datetime=moment,
    )
    try:
        with transaction.atomic():
            flow.save(force_insert=True)
    except IntegrityError:  # the same external id, recorded by a concurrent writer
        existing = CashFlow.objects.get(exchange=exchange, kind=kind, external_id=external_id)
        return FlowOutcome(existing, created=False)
    return FlowOutcome(flow, created=True)


@transaction.atomic
def cash_flow_transfer(
    *,
    from_exchange: Exchange,
    to_exchange: Exchange,
    currency: str,
    amount: Decimal,
    source: str,
    moment: datetime | None = None,
    fee: Decimal | None = None,
    value: Decimal | None = None,
    external_id: str | None = None,
    recorded_by: str = "",
    note: str = "",
) -> tuple[CashFlow, CashFlow]:
    """A transfer between two of the owner's accounts: a `transfer_out` of `amount` (and its fee) from one,
    a `transfer_in` of `amount` into the other, sharing a transfer group. The portfolio's combined flow is
    nil (only the fee, a cost, leaves it); each account's own returns are measured net of its leg."""
    if from_exchange.pk == to_exchange.pk:
        raise ValidationError({"to_exchange": "A transfer goes between two different accounts."})
    group = uuid.uuid4()
    common = {"currency": currency, "amount": amount, "source": source, "moment": moment, "value": value,
              "transfer_group": group, "recorded_by": recorded_by, "note": note}  # fmt: skip
    out = cash_flow_record(
        exchange=from_exchange, kind=CashFlowKind.TRANSFER_OUT, fee=fee, external_id=external_id, **common
    )
    into = cash_flow_record(
        exchange=to_exchange, kind=CashFlowKind.TRANSFER_IN, external_id=external_id, **common
    )
    return out.flow, into.flow


def _ccxt_flow(transaction_: Mapping, kind: str) -> dict | None:
    """A ccxt transaction structure as cash_flow_record's arguments; None for one not completed."""
    if transaction_.get("status") not in (None, "ok"):
        return None
    amount = transaction_.get("amount")
    timestamp = transaction_.get("timestamp")
    if not amount or timestamp is None:
        return None
    fee = (transaction_.get("fee") or {}).get("cost") if kind == CashFlowKind.WITHDRAWAL else None
    identifier = transaction_.get("id") or transaction_.get("txid")
    return {
        "kind": kind,
        "currency": transaction_.get("currency") or "",
        "amount": amount,
        "fee": fee or None,
        "external_id": str(identifier) if identifier is not None else None,
        "txid": transaction_.get("txid"),
        "moment": from_ms(int(timestamp)),
    }


def cash_flows_from_exchange(
    *, exchange: Exchange, deposits: Iterable[Mapping], withdrawals: Iterable[Mapping]
) -> int:
    """Record the completed deposits and withdrawals ccxt read from the exchange; returns how many were new.
    Each is recorded once (its transaction id), so reading an overlapping window again adds nothing."""
    created = 0
    for flows, kind in ((deposits, CashFlowKind.DEPOSIT), (withdrawals, CashFlowKind.WITHDRAWAL)):
        for transaction_ in flows or []:
            arguments = _ccxt_flow(transaction_, kind)
            if arguments is None:
                continue
            outcome = cash_flow_record(exchange=exchange, source=CashFlowSource.EXCHANGE, **arguments)
            created += outcome.created
    return created


def flows_between(*, exchange: Exchange, after: datetime | None, until: datetime) -> list[CashFlow]:
    flows = CashFlow.objects.filter(exchange=exchange, datetime__lte=until)
    if after is not None:
        flows = flows.filter(datetime__gt=after)
    return list(flows.order_by("datetime", "pk"))


def net_flow(flows: Iterable[CashFlow], *, book: RateBook, exchange: Exchange) -> Decimal:
    """In minus out, in the reporting currency: a flow's own `value` when it was given in this reporting
    currency, else its amount at the book's rate. A fee is not a flow (it stays in the return)."""
    total = Decimal(0)
    for flow in flows:
        if flow.value is not None and flow.reporting_currency == book.reporting:
            value = flow.value
        else:
            try:
                value = book.value(flow.amount, flow.currency)
            except MissingRate as missing:
                raise ValidationError(
                    {"exchange": f"{exchange.name}: its {flow.kind} of {flow.amount} {flow.currency} on "
                     f"{flow.datetime:%Y-%m-%d}: {missing}"}
                ) from None  # fmt: skip
        total += value if flow.kind in INFLOWS else -value
    return total.quantize(MONEY_PLACES)


def cash_effect(flows: Iterable[CashFlow], *, currency: str) -> Decimal:
    """How the flows moved the account's cash in `currency`: in adds, out takes the amount and its fee."""
    total = Decimal(0)
    for flow in flows:
        if flow.currency != currency:
            continue
        total += flow.amount if flow.kind in INFLOWS else -(flow.amount + (flow.fee or 0))
    return total
