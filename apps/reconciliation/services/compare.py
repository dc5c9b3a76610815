"""The comparison: the exchange's orders, fills, balances and positions against the record's, as findings.

Pure functions over ccxt's unified structures and the record's rows: no fetching, no writing. Numbers
are compared as the columns hold them (NUMERIC(20, 8)), so ccxt's float parsing and derived averages
never show as differences of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings

from apps.execution import ccxt as vocabulary
from apps.execution.models import Order, OrderStatus, Position, Trade
from apps.execution.services.orders import order_effective_status

from ..models import DiscrepancyKind
from .exchange_view import decimal

SCALE = Decimal("0.00000001")
OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
TERMINAL_STATUSES = (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED)
# The client order ids exchanges give orders placed by hand (Binance's web, iOS and Android apps).
MANUAL_CLIENT_ORDER_ID = re.compile(r"^(web_|ios_|and_|android_|electron_|app_)")


@dataclass
class Finding:
    kind: str
    subject: str
    symbol: str = ""
    exchange_version: Any = None
    record_version: Any = None
    differences: dict[str, list] = field(default_factory=dict)


def money(value: Any) -> Decimal | None:
    number = decimal(value)
    return None if number is None else number.quantize(SCALE, rounding=ROUND_HALF_UP)


def text(value: Decimal | None) -> str | None:
    """As the column writes it: eight places, never an exponent (0 is 0.00000000, not 0E-8)."""
    return None if value is None else format(value.quantize(SCALE), "f")


def exchange_json(structure: Mapping[str, Any]) -> dict[str, Any]:
    """A ccxt structure as JSON for the discrepancy (its `info`, the exchange's own reply, included)."""
    if "trades" not in structure:  # a fill's: kept as it is, not copied (50,000 of them in a busy month)
        return structure
    return {k: v for k, v in structure.items() if k not in ("trades",)}


# --- orders ---------------------------------------------------------------------------------------


def exchange_status(order: Mapping[str, Any]) -> OrderStatus:
    """The seed's status of a ccxt order, `open` with a fill read as partially_filled."""
    status = vocabulary.order_status(order.get("status") or "open")
    return order_effective_status(status=status, filled=money(order.get("filled")) or Decimal(0))


def order_record_version(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "status": order.status,
        "amount": text(order.amount),
        "filled": text(order.filled),
        "average": text(order.average),
        "fee": text(order.fee),
        "fee_currency": order.fee_currency,
        "decision_id": order.decision_id,
    }


def order_differences(order: Order, remote: Mapping[str, Any]) -> dict[str, list]:
    """Field by field [record, exchange] where they differ: status, filled, average, fee."""
    found: dict[str, list] = {}
    status = exchange_status(remote)
    if order.status != status:
        found["status"] = [order.status, status.value]
    filled = money(remote.get("filled"))
    if filled is not None and filled != order.filled:
        found["filled"] = [text(order.filled), text(filled)]
    average = money(remote.get("average"))
    if average is not None and order.average is not None and average != order.average:
        found["average"] = [text(order.average), text(average)]
    elif average is not None and order.average is None and filled:
        found["average"] = [None, text(average)]
    fee = vocabulary.fee(fee=remote.get("fee"), fees=remote.get("fees"))
    cost = money(fee.cost)
    if cost is not None and (order.fee is None or cost != order.fee):
        found["fee"] = [text(order.fee), text(cost)]
    return found


def placed_by_an_agent(remote: Mapping[str, Any]) -> bool:
    """Whether an order the record lacks looks placed through the API by an agent (else: external)."""
    client_id = vocabulary.client_order_id(remote.get("clientOrderId"))
    if not client_id:
        return False
    prefixes = tuple(settings.RECONCILIATION_AGENT_ORDER_PREFIXES)
    if prefixes:
        return str(client_id).startswith(prefixes)
    return not MANUAL_CLIENT_ORDER_ID.match(str(client_id))


def compare_orders(remote_orders: Mapping[str, Mapping], recorded: Mapping[str, Order]) -> list[Finding]:
    """Each exchange order against the record: missing, external, or differing."""
    findings = []
    for order_id, remote in remote_orders.items():
        order = recorded.get(order_id)
        if order is None:
            kind = (
                DiscrepancyKind.MISSING_ORDER
                if placed_by_an_agent(remote)
                else DiscrepancyKind.EXTERNAL_ORDER
            )
            findings.append(
                Finding(
                    kind=kind,
                    subject=order_id,
                    symbol=remote.get("symbol") or "",
                    exchange_version=exchange_json(remote),
                )
            )
            continue
        differences = order_differences(order, remote)
        if differences:
            stale = order.status in OPEN_STATUSES and exchange_status(remote) in TERMINAL_STATUSES
            findings.append(
                Finding(
                    kind=DiscrepancyKind.STALE_OPEN_ORDER if stale else DiscrepancyKind.ORDER_DIFFERS,
                    subject=order_id,
                    symbol=order.symbol,
                    exchange_version=exchange_json(remote),
                    record_version=order_record_version(order),
                    differences=differences,
                )
            )
    return findings


def stale_open_order(order: Order, remote: Mapping[str, Any] | str) -> Finding | None:
    """An order open in the record checked by id: a finding when the exchange has it closed or not at all."""
    if remote == "unknown":
        return Finding(
            kind=DiscrepancyKind.STALE_OPEN_ORDER,
            subject=order.id,
            symbol=order.symbol,
            exchange_version={"id": order.id, "status": "unknown"},
            record_version=order_record_version(order),
            differences={"status": [order.status, "unknown"]},
        )
    if exchange_status(remote) in OPEN_STATUSES:
        return None
    return Finding(
        kind=DiscrepancyKind.STALE_OPEN_ORDER,
        subject=order.id,
        symbol=order.symbol,
        exchange_version=exchange_json(remote),
        record_version=order_record_version(order),
        differences=order_differences(order, remote),
    )


# --- fills ------------------------------------------------------------------------------------------


def compare_trades(remote_trades: Iterable[Mapping], recorded_ids: set[str]) -> list[Finding]:
    return [
        Finding(
            kind=DiscrepancyKind.MISSING_TRADE,
            subject=str(trade["id"]),
            symbol=trade.get("symbol") or "",
            exchange_version=exchange_json(trade),
        )
        for trade in remote_trades
        if str(trade["id"]) not in recorded_ids
    ]


# --- balances ----------------------------------------------------------------------------------


def fills_effect(trades: Iterable[Trade]) -> dict[str, Decimal]:
    """How recorded fills moved each asset: a buy adds the base and spends the quote, a sell the reverse;
    each fee is paid in its currency (a negative fee, a rebate, is received)."""
    effect: dict[str, Decimal] = {}
    for trade in trades:
        base, _, quote = trade.symbol.partition("/")
        quote = quote.split(":")[0]
        sign = Decimal(1) if trade.side == "buy" else Decimal(-1)
        effect[base] = effect.get(base, Decimal(0)) + sign * trade.amount
        effect[quote] = effect.get(quote, Decimal(0)) - sign * trade.cost
        if trade.fee and trade.fee_currency:
            effect[trade.fee_currency] = effect.get(trade.fee_currency, Decimal(0)) - trade.fee
    return effect


def flows_effect(deposits: Iterable[Mapping], withdrawals: Iterable[Mapping]) -> dict[str, Decimal]:
    """Completed deposits add, completed withdrawals (and their fees) take away."""
    effect: dict[str, Decimal] = {}
    for flows, sign in ((deposits, Decimal(1)), (withdrawals, Decimal(-1))):
        for flow in flows:
            if flow.get("status") not in (None, "ok"):
                continue
            currency = flow.get("currency")
            amount = money(flow.get("amount")) or Decimal(0)
            effect[currency] = effect.get(currency, Decimal(0)) + sign * amount
            fee = (flow.get("fee") or {}).get("cost")
            if sign < 0 and fee:
                effect[currency] -= money(fee)
    return effect


def tolerance(balance: Decimal) -> Decimal:
    return max(
        settings.RECONCILIATION_BALANCE_TOLERANCE,
        settings.RECONCILIATION_BALANCE_TOLERANCE_RELATIVE * abs(balance),
    )


def compare_balances(
    *, anchor: Mapping[str, Decimal], effects: Iterable[Mapping[str, Decimal]], actual: Mapping[str, Decimal]
) -> list[Finding]:
    """Expected = the last run's balances + what recorded fills and cash flows moved since; each asset
    beyond the tolerance from the exchange's total is a finding."""
    expected = dict(anchor)
    for effect in effects:
        for asset, change in effect.items():
            expected[asset] = expected.get(asset, Decimal(0)) + change
    findings = []
    for asset in sorted(set(expected) | set(actual)):
        want, have = expected.get(asset, Decimal(0)), actual.get(asset, Decimal(0))
        if abs(have - want) > tolerance(have):
            findings.append(
                Finding(
                    kind=DiscrepancyKind.BALANCE_DIFFERS,
                    subject=asset,
                    exchange_version={"asset": asset, "total": text(have)},
                    record_version={"asset": asset, "expected": text(want)},
                    differences={"total": [text(want), text(have)], "by": [None, text(have - want)]},
                )
            )
    return findings


# --- positions ---------------------------------------------------------------------------------


def compare_positions(remote: Iterable[Mapping], recorded: Mapping[str, Position]) -> list[Finding]:
    """Open contract positions by symbol: side and size (contracts) must agree; one side flat is a finding."""
    findings = []
    by_symbol = {p["symbol"]: p for p in remote if (money(p.get("contracts")) or 0) != 0}
    for symbol in sorted(set(by_symbol) | set(recorded)):
        theirs, ours = by_symbol.get(symbol), recorded.get(symbol)
        differences: dict[str, list] = {}
        their_side = vocabulary.position_side(theirs["side"]).value if theirs else None
        their_size = money(theirs.get("contracts")) if theirs else None
        if (ours.side if ours else None) != their_side:
            differences["side"] = [ours.side if ours else None, their_side]
        if (ours.amount if ours else None) != their_size:
            differences["amount"] = [text(ours.amount) if ours else None, text(their_size)]
        if differences:
            findings.append(
                Finding(
                    kind=DiscrepancyKind.POSITION_DIFFERS,
                    subject=symbol,
                    symbol=symbol,
                    exchange_version=exchange_json(theirs) if theirs else None,
                    record_version={
                        "symbol": symbol,
                        "side": ours.side,
                        "amount": text(ours.amount),
                        "entry_price": text(ours.entry_price),
                    }
                    if ours
                    else None,
                    differences=differences,
                )
            )
    return findings
