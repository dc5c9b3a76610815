"""Realized PnL of positions from their fills, by average cost (docs/metrics.md, "Realized PnL").

Which fills: those of the position's exchange and symbol whose datetime lies in its life, from
opened_at to closed_at (to now while it is open), both ends included; at an instant two positions
share (one closes, the next opens) the fill belongs to the one that closes.

How: each fill moves a signed quantity q (+amount for a buy, -amount for a sell, less a fee charged
in the base currency) at its price p. By average cost, adding to the holding adds q x p to its cost
basis; reducing it realizes (p - average cost) x the amount reduced; a fill that crosses zero closes
the holding, then opens the other side with the rest at p. Summed over the fills this is

    realized = -sum(q x p) + basis held at the end - fees

so a position that starts and ends flat (every closed one whose fills explain it) needs only sums,
computed in one aggregate over the fills; only a position still held needs its fills in order, to
know the average cost of what it holds. Fees in the quote currency, and base fees at the fill price,
are `realized_fees` (a rebate counts negative); fees in any other currency are summed per currency in
`realized_other_fees`, neither converted nor in the PnL.

When the fills do not explain the position (none at all; a closed position they leave holding
something; an open one they leave holding other than it says; lives that overlap) every figure is
NULL and `realized_note` says why: never a 0 that looks like a result.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.db import connection, transaction
from django.utils import timezone

from apps.exchanges.models import Exchange
from apps.execution.models import Position, Side

EIGHT = Decimal("0.00000001")
MONEY_LIMIT = Decimal(10) ** 12  # NUMERIC(20,8) holds less than this
PRECISION = 60  # sums of products of NUMERIC(20,8) values are exact well within it
FIELDS = ("realized_pnl", "realized_fees", "realized_other_fees", "realized_at", "realized_note")
UNKNOWN_CURRENCY = "unknown"  # the key of fees recorded without a currency


class Reason:
    """Why a position has no realized PnL: the codes compute_realized_pnl counts."""

    NO_EXCHANGE = "no exchange"
    NO_END = "no closed_at"
    OVERLAP = "lives overlap"
    NO_FILLS = "no fills"
    NOT_FLAT = "fills leave a holding at the close"
    HOLDING_DIFFERS = "fills hold other than the position"
    CHANGED = "fills changed during the computation"
    OUT_OF_RANGE = "out of range"


@dataclass(frozen=True)
class Realized:
    """A position's realized figures, as they are stored (rounded), or NULL with the reason."""

    realized_pnl: Decimal | None
    realized_fees: Decimal | None
    realized_other_fees: dict[str, str] | None
    realized_note: str | None
    reason: str | None  # a Reason when realized_pnl is NULL
    fills: int


@dataclass
class RealizedReport:
    computed: int = 0  # positions with a realized PnL
    changed: int = 0  # positions whose stored figures changed
    fills: int = 0
    not_computed: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # Reason: count

    def summary(self) -> str:
        total = self.computed + sum(self.not_computed.values())
        text = f"{total} positions, {self.fills} fills: realized PnL for {self.computed}"
        if self.not_computed:
            reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.not_computed.items()))
            text += f", NULL for {sum(self.not_computed.values())} ({reasons})"
        return f"{text}; {self.changed} changed."


# --- Reading ------------------------------------------------------------------------------------------

# The positions of the lanes (exchange, symbol) in scope, each with its neighbours in its lane.
_LANE_ROWS = """
SELECT id, exchange_id, symbol, side, amount, is_open, opened_at, closed_at,
       realized_pnl, realized_fees, realized_other_fees, realized_note,
       lag(id) OVER lane, lag(closed_at) OVER lane,
       lead(id) OVER lane, lead(opened_at) OVER lane
FROM positions
WHERE {lanes}
WINDOW lane AS (PARTITION BY exchange_id, symbol ORDER BY opened_at, id)
ORDER BY id
"""

# Each fill of the lanes with the position it belongs to. The lane's positions, in the order they
# opened, are arrays; width_bucket finds the last one opened at or before the fill (a binary search,
# not a comparison with every position of the symbol), which owns the fill if it had not closed
# yet, except at an instant it shares with the previous one, which closed then and takes the fill.
_ASSIGNED = """
WITH lane_rows AS (
    SELECT id, exchange_id, symbol, opened_at, COALESCE(closed_at, %(now)s) AS ends,
           COALESCE(lag(closed_at) OVER lane = opened_at, FALSE) AS shares_start
    FROM positions
    WHERE exchange_id IS NOT NULL AND ({lanes})
    WINDOW lane AS (PARTITION BY exchange_id, symbol ORDER BY opened_at, id)
),
lanes AS (
    SELECT exchange_id, symbol,
           upper(split_part(symbol, '/', 1)) AS base,
           upper(split_part(split_part(symbol, '/', 2), ':', 1)) AS quote,
           array_agg(opened_at ORDER BY opened_at, id) AS opens,
           array_agg(ends ORDER BY opened_at, id) AS ends,
           array_agg(id ORDER BY opened_at, id) AS ids,
           array_agg(shares_start ORDER BY opened_at, id) AS shares_start,
           min(opened_at) AS first_opened,
           max(ends) AS last_ends
    FROM lane_rows
    GROUP BY exchange_id, symbol
),
fills AS (
    SELECT t.id, t.datetime, t.side, t.price, t.amount, COALESCE(t.fee, 0) AS fee,
           upper(t.fee_currency) AS fee_currency,
           l.base, l.quote, l.opens, l.ends, l.ids, l.shares_start,
           width_bucket(t.datetime, l.opens) AS bucket
    FROM trades t
    JOIN lanes l ON l.exchange_id = t.exchange_id AND l.symbol = t.symbol
    WHERE t.datetime >= l.first_opened AND t.datetime <= l.last_ends {fills}
),
assigned AS (
    SELECT CASE
               WHEN bucket = 0 THEN NULL
               WHEN bucket > 1 AND shares_start[bucket] AND datetime = opens[bucket] THEN ids[bucket - 1]
               WHEN datetime <= ends[bucket] THEN ids[bucket]
           END AS position_id,
           id, datetime, price,
           CASE WHEN side = 'buy' THEN amount ELSE -amount END
               - CASE WHEN fee_currency = base AND fee_currency <> quote THEN fee ELSE 0 END AS quantity,
           CASE WHEN fee_currency = quote THEN fee
                WHEN fee_currency = base THEN fee * price
                ELSE 0 END AS fee_value,
           CASE WHEN fee <> 0 AND fee_currency IS DISTINCT FROM quote AND fee_currency IS DISTINCT FROM base
                THEN COALESCE(NULLIF(fee_currency, ''), 'UNKNOWN') END AS other_currency,
           fee
    FROM fills
)
"""

_TOTALS = (
    _ASSIGNED
    + """
SELECT position_id, other_currency, count(*), sum(quantity), sum(quantity * price), sum(fee_value),
       sum(CASE WHEN other_currency IS NOT NULL THEN fee END)
FROM assigned
WHERE position_id IS NOT NULL {targets}
GROUP BY position_id, other_currency
"""
)

_IN_ORDER = (
    _ASSIGNED
    + """
SELECT quantity, price
FROM assigned
WHERE position_id = %(position)s
ORDER BY datetime, id
"""
)


@dataclass
class _Totals:
    fills: int = 0
    held: Decimal = Decimal(0)  # the signed quantity held at the end: + long, - short
    flow: Decimal = Decimal(0)  # sum(q x p): what buying cost less what selling brought
    fees: Decimal = Decimal(0)
    other_fees: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class _Row:
    id: int
    exchange_id: int | None
    symbol: str
    side: str
    amount: Decimal
    is_open: bool | None
    opened_at: datetime
    closed_at: datetime | None
    stored: tuple  # realized_pnl, realized_fees, realized_other_fees, realized_note as stored
    previous_id: int | None
    previous_closed_at: datetime | None
    next_id: int | None
    next_opened_at: datetime | None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None or self.is_open is False


def realized_pnl_compute(
    *,
    exchange: Exchange | None = None,
    position_ids: list[int] | None = None,
    now: datetime | None = None,
) -> dict[int, Realized]:
    """The realized figures of the positions on `exchange`, or those of `position_ids`, or of all
    positions; counting an open position's fills up to `now`. Reads only."""
    now = now or timezone.now()
    scope = _Scope(exchange=exchange, position_ids=position_ids)
    return dict(_compute(scope, _lane_rows(scope), now=now))


@dataclass(frozen=True)
class _Scope:
    """The positions computed: one exchange's, some by id, or all; and the lanes they stand in."""

    exchange: Exchange | None = None
    position_ids: list[int] | None = None

    def lanes(self) -> tuple[str, dict]:
        """The positions of every lane (exchange, symbol) the scope touches: their neighbours decide
        which fills are whose."""
        if self.position_ids is not None:
            return (
                "id = ANY(%(ids)s) OR (exchange_id, symbol) IN "
                "(SELECT exchange_id, symbol FROM positions WHERE id = ANY(%(ids)s))",
                {"ids": list(self.position_ids)},
            )
        if self.exchange is not None:
            return "exchange_id = %(exchange)s", {"exchange": self.exchange.pk}
        return "TRUE", {}


def _lane_rows(scope: _Scope) -> list[_Row]:
    lanes, params = scope.lanes()
    with connection.cursor() as cursor:
        cursor.execute(_LANE_ROWS.format(lanes=lanes), params)
        rows = cursor.fetchall()
    return [
        _Row(*values[:8], stored=_as_stored(values[8:12]), previous_id=values[12],
             previous_closed_at=values[13], next_id=values[14], next_opened_at=values[15])
        for values in rows
    ]  # fmt: skip


def _as_stored(values) -> tuple:
    pnl, fees, other, note = values
    if isinstance(other, str):  # Django reads jsonb as text and decodes it in the field
        other = json.loads(other)
    return pnl, fees, other, note


def _compute(scope: _Scope, rows: list[_Row], *, now: datetime):
    """(position id, Realized) for each position of `rows` in the scope."""
    wanted = None if scope.position_ids is None else set(scope.position_ids)
    targets = [row for row in rows if wanted is None or row.id in wanted]
    if not targets:
        return
    lanes, params = scope.lanes()
    params |= {"now": now}
    fills = targets_filter = ""
    if scope.position_ids is not None:
        targets_filter = "AND position_id = ANY(%(targets)s)"
        params["targets"] = [row.id for row in targets]
        if len(targets) == 1:  # one position (a close): its life only, which the indexes find
            row = targets[0]
            fills = "AND t.symbol = %(symbol)s AND t.datetime >= %(from)s AND t.datetime <= %(to)s"
            params |= {"symbol": row.symbol, "from": row.opened_at, "to": row.closed_at or now}
    totals: dict[int, _Totals] = defaultdict(_Totals)
    with connection.cursor() as cursor, localcontext(prec=PRECISION):
        cursor.execute(_TOTALS.format(lanes=lanes, fills=fills, targets=targets_filter), params)
        for position_id, currency, count, held, flow, fees, other in cursor.fetchall():
            total = totals[position_id]
            total.fills += count
            total.held += held
            total.flow += flow
            total.fees += fees
            if currency is not None:
                key = UNKNOWN_CURRENCY if currency == "UNKNOWN" else currency
                total.other_fees[key] = total.other_fees.get(key, Decimal(0)) + other
    for row in targets:
        yield row.id, _realized(row, totals.get(row.id), now=now)


def _realized(row: _Row, total: _Totals | None, *, now: datetime) -> Realized:
    refused = _unexplained(row, total)
    if refused is not None:
        return refused
    basis = Decimal(0)
    if total.held:
        held, basis, fills = _holding_in_order(row, now=now)
        if (held, fills) != (total.held, total.fills):
            return _null(Reason.CHANGED, "Fills were recorded while this was computed; compute again.", total)
    with localcontext(prec=PRECISION):
        pnl = -total.flow + basis - total.fees
    for name, value in (("realized_pnl", pnl), ("realized_fees", total.fees)):
        if abs(value) >= MONEY_LIMIT:
            return _null(Reason.OUT_OF_RANGE, f"{name} {value:.8f} is out of range for NUMERIC(20,8).", total)
    other = {currency: f"{amount:.8f}" for currency, amount in sorted(total.other_fees.items())} or None
    note = None
    if other:
        note = (
            f"Fees in {', '.join(other)} are not converted and not in realized_pnl (see realized_other_fees)."
        )
    return Realized(
        realized_pnl=pnl.quantize(EIGHT, rounding=ROUND_HALF_UP),
        realized_fees=total.fees.quantize(EIGHT, rounding=ROUND_HALF_UP),
        realized_other_fees=other,
        realized_note=note,
        reason=None,
        fills=total.fills,
    )


def _unexplained(row: _Row, total: _Totals | None) -> Realized | None:
    """NULL with the reason when the fills cannot give this position's result."""
    if row.exchange_id is None:
        return _null(Reason.NO_EXCHANGE, "The position has no exchange, so no fills can be its own.", total)
    if row.closed_at is None and row.is_open is False:
        return _null(Reason.NO_END, "The position is closed without a closed_at: its life has no end.", total)
    ends = row.closed_at
    if row.previous_id is not None and (
        row.previous_closed_at is None or row.previous_closed_at > row.opened_at
    ):
        return _null(
            Reason.OVERLAP,
            f"Its life overlaps that of position {row.previous_id} (closed "
            f"{_when(row.previous_closed_at)}): a fill in both cannot be told apart.",
            total,
        )
    if row.next_id is not None and (ends is None or row.next_opened_at < ends):
        return _null(
            Reason.OVERLAP,
            f"Its life overlaps that of position {row.next_id} (opened {_when(row.next_opened_at)}): "
            "a fill in both cannot be told apart.",
            total,
        )
    until = "closed_at" if row.closed else "now"
    if total is None:
        return _null(
            Reason.NO_FILLS,
            f"No fills of {row.symbol} on its exchange are recorded between opened_at and {until}.",
            None,
        )
    base = row.symbol.split("/")[0]
    if row.closed and total.held:
        return _null(
            Reason.NOT_FLAT,
            f"The fills leave {_holding(total.held, base)} at the close: a fill is missing, or lies "
            "outside opened_at..closed_at.",
            total,
        )
    if not row.closed:
        says = row.amount if row.side == Side.BUY else -row.amount
        if total.held != says:
            return _null(
                Reason.HOLDING_DIFFERS,
                f"The fills hold {_holding(total.held, base)}; the position says {_holding(says, base)}: a "
                "fill is missing, or lies outside opened_at..now.",
                total,
            )
    return None


def _holding_in_order(row: _Row, *, now: datetime) -> tuple[Decimal, Decimal, int]:
    """(quantity held, its cost basis at average cost, fills) after this position's fills in order."""
    lanes, params = _Scope(position_ids=[row.id]).lanes()
    fills = "AND t.symbol = %(symbol)s AND t.datetime >= %(from)s AND t.datetime <= %(to)s"
    params |= {"now": now, "position": row.id, "symbol": row.symbol, "from": row.opened_at, "to": now}
    with connection.cursor() as cursor:
        cursor.execute(_IN_ORDER.format(lanes=lanes, fills=fills), params)
        held, basis, count = Decimal(0), Decimal(0), 0
        with localcontext(prec=PRECISION):
            while batch := cursor.fetchmany(10_000):
                for quantity, price in batch:
                    held, basis = average_cost_step(held, basis, quantity, price)
                count += len(batch)
    return held, basis, count


def average_cost_step(
    held: Decimal, basis: Decimal, quantity: Decimal, price: Decimal
) -> tuple[Decimal, Decimal]:
    """One fill of signed `quantity` at `price` on a holding (signed `held`, cost `basis` = held x
    average cost): (held, basis) after it. What it realizes is the change in -sum(q x p) + basis."""
    after = held + quantity
    if not held or (held > 0) == (quantity > 0):  # opening or adding: the average moves
        return after, basis + quantity * price
    if after and (after > 0) != (held > 0):  # crossing zero: the rest opens the other side at price
        return after, after * price
    return after, (basis * after / held if after else Decimal(0))  # reducing: the average stays


def _null(reason: str, note: str, total: _Totals | None) -> Realized:
    return Realized(None, None, None, note, reason, total.fills if total else 0)


def _holding(held: Decimal, base: str) -> str:
    if not held:
        return "nothing"
    return f"{abs(held).normalize():f} {base} {'long' if held > 0 else 'short'}"


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "never"


# --- Writing ------------------------------------------------------------------------------------------


@transaction.atomic
def position_realized_pnl_update(*, position: Position, now: datetime | None = None) -> Realized:
    """Compute one position's realized figures and store them on it (and on the instance given)."""
    now = now or timezone.now()
    (result,) = realized_pnl_compute(position_ids=[position.pk], now=now).values()
    values = _stored(result, now)
    Position.objects.filter(pk=position.pk).update(**values)
    for name, value in values.items():
        setattr(position, name, value)
    return result


@transaction.atomic
def realized_pnl_update(*, exchange: Exchange | None = None, now: datetime | None = None) -> RealizedReport:
    """Recompute the realized figures of every position (on `exchange`, or all) and store those that
    changed. A position closed meanwhile keeps what its close wrote."""
    now = now or timezone.now()
    scope = _Scope(exchange=exchange)
    rows = _lane_rows(scope)
    stored = {row.id: row for row in rows}
    report = RealizedReport()
    changed: list[tuple[_Row, Realized]] = []
    for position_id, result in _compute(scope, rows, now=now):
        report.fills += result.fills
        if result.reason is None:
            report.computed += 1
        else:
            report.not_computed[result.reason] += 1
        row = stored[position_id]
        if _figures(result) != row.stored:
            changed.append((row, result))
    report.changed = _write(changed, now)
    return report


def _figures(result: Realized) -> tuple:
    return result.realized_pnl, result.realized_fees, result.realized_other_fees, result.realized_note


def _stored(result: Realized, now: datetime) -> dict:
    return {
        "realized_pnl": result.realized_pnl,
        "realized_fees": result.realized_fees,
        "realized_other_fees": result.realized_other_fees,
        "realized_at": now,
        "realized_note": result.realized_note,
    }


_WRITE = """
UPDATE positions AS p
SET realized_pnl = v.pnl, realized_fees = v.fees, realized_other_fees = v.other::jsonb,
    realized_at = %(now)s, realized_note = v.note
FROM unnest(%(ids)s::int[], %(pnl)s::numeric[], %(fees)s::numeric[], %(other)s::text[], %(note)s::text[],
            %(closed)s::timestamptz[]) AS v(id, pnl, fees, other, note, closed_at)
WHERE p.id = v.id AND p.closed_at IS NOT DISTINCT FROM v.closed_at
"""


def _write(changed: list[tuple[_Row, Realized]], now: datetime) -> int:
    """One UPDATE for them all; a row whose closed_at moved since it was read is left alone."""
    if not changed:
        return 0
    params = {
        "now": now,
        "ids": [row.id for row, _ in changed],
        "pnl": [result.realized_pnl for _, result in changed],
        "fees": [result.realized_fees for _, result in changed],
        "other": [
            json.dumps(result.realized_other_fees) if result.realized_other_fees is not None else None
            for _, result in changed
        ],
        "note": [result.realized_note for _, result in changed],
        "closed": [row.closed_at for row, _ in changed],
    }
    with connection.cursor() as cursor:
        cursor.execute(_WRITE, params)
        return cursor.rowcount
