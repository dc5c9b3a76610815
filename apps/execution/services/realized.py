"""Realized PnL of positions from their fills, by average cost (docs/metrics.md, "Realized PnL").

Which fills: those of the position's exchange and symbol whose datetime lies in its life, from
opened_at to closed_at (to now while it is open), both ends included; at an instant two positions
share (one closes, the next opens) the fill belongs to the one that closes.

How: each fill moves a signed quantity q (+amount for a buy, -amount for a sell, less a fee charged
in the base currency) at its price p. By average cost, adding to the holding adds q x p to its cost
basis; reducing it realizes (p - average cost) x the amount reduced; a fill that crosses zero closes
the holding, then opens the other side with the rest at p. Summed over the fills this is

    realized = -sum(q x p) + basis still held - fees

so a position that starts and ends flat (every closed one whose fills explain it) needs only sums:
one aggregate over the fills, in SQL, computes and stores every position's figures. Only an open
position still holding needs its fills in order, for the average cost of what it holds; those are
folded here in Python first (one per exchange and symbol at most) and their basis handed to the
aggregate. Fees in the quote currency, and base fees at the fill price, are `realized_fees` (a rebate
counts negative); fees in any other currency are summed per currency in `realized_other_fees`,
neither converted nor in the PnL.

When the fills do not explain the position (none at all; a closed position they leave holding
something; an open one they leave holding other than it says; lives that overlap) every figure is
NULL and `realized_note` says why: never a 0 that looks like a result. So is a figure NUMERIC(20,8)
cannot hold.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from apps.exchanges.models import Exchange
from apps.execution.models import Position

PRECISION = 60  # the fold's divisions; sums of NUMERIC(20,8) products are exact well within it
FIELDS = ("realized_pnl", "realized_fees", "realized_other_fees", "realized_at", "realized_note")
UNKNOWN_CURRENCY = "unknown"  # the key of fees recorded without a currency
# Hash aggregation of a million fills into tens of thousands of positions holds about 60 MB of sums.
WORK_MEM = "64MB"


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
        positions = "1 position" if total == 1 else f"{total} positions"
        text = f"{positions}, {self.fills} fills: realized PnL for {self.computed}"
        if self.not_computed:
            reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.not_computed.items()))
            text += f", NULL for {sum(self.not_computed.values())} ({reasons})"
        return f"{text}; {self.changed} changed."


# --- The statement ----------------------------------------------------------------------------------

# Each fill of the lanes (exchange, symbol) in scope with the position it belongs to. A lane's
# positions, in the order they opened, become one sorted array of bounds: each one's start, and the
# instant just after its end (1 microsecond, timestamptz's resolution). width_bucket, a binary search,
# tells which of them a fill falls between: an odd bucket is a position's life, whose id `slots`
# holds; an even one the gap after it (slot 0). A position that opens at the instant the previous
# one closed starts just after it, so a fill at that instant is the closing one's. Where lives
# overlap the bounds are out of order, which only misplaces fills inside the overlap, of positions
# that are NULL for it anyway.
#
# A fee currency is compared as recorded first and upper-cased only when that fails (upper() on
# every fill costs more than the rest of the row).
_ASSIGNED = """
lane_rows AS (
    SELECT id, exchange_id, symbol,
           opened_at + CASE WHEN lag(closed_at) OVER lane = opened_at THEN interval '1 microsecond'
                            ELSE interval '0' END AS starts,
           COALESCE(closed_at, %(now)s) + interval '1 microsecond' AS after,
           row_number() OVER lane AS seq
    FROM positions
    WHERE exchange_id IS NOT NULL AND ({lanes})
    WINDOW lane AS (PARTITION BY exchange_id, symbol ORDER BY opened_at, id)
),
lanes AS (
    SELECT exchange_id, symbol,
           upper(split_part(symbol, '/', 1)) AS base,
           upper(split_part(split_part(symbol, '/', 2), ':', 1)) AS quote,
           array_agg(b.bound ORDER BY b.k) AS bounds,
           array_agg(b.slot ORDER BY b.k) AS slots  -- no NULLs: a subscript is then a plain offset
    FROM lane_rows
    CROSS JOIN LATERAL (VALUES (2 * seq - 1, starts, id), (2 * seq, after, 0)) AS b(k, bound, slot)
    GROUP BY exchange_id, symbol
),
classed AS (
    SELECT NULLIF(l.slots[width_bucket(t.datetime, l.bounds)], 0) AS position_id,
           t.id, t.datetime, t.price, t.fee, t.fee_currency,
           CASE WHEN t.side = 'buy' THEN t.amount ELSE -t.amount END AS signed,
           CASE WHEN t.fee IS NULL OR t.fee = 0 THEN 0
                WHEN t.fee_currency = l.quote THEN 1
                WHEN t.fee_currency = l.base AND l.base <> l.quote THEN 2
                WHEN upper(t.fee_currency) = l.quote THEN 1
                WHEN upper(t.fee_currency) = l.base AND l.base <> l.quote THEN 2
                ELSE 3 END AS fee_kind  -- none, quote, base, another currency
    FROM trades t
    JOIN lanes l ON l.exchange_id = t.exchange_id AND l.symbol = t.symbol
    {fills}
    -- OFFSET 0: each fill's position is computed once, not once for every use of it, and the planner
    -- expects a group per position (it would expect one per fill, and sort them, from the datetime)
    OFFSET 0
),
assigned AS (
    SELECT position_id, id, datetime, price, fee,
           CASE WHEN fee_kind = 2 THEN signed - fee ELSE signed END AS quantity,
           CASE fee_kind WHEN 1 THEN fee WHEN 2 THEN fee * price ELSE 0 END AS fee_value,
           CASE WHEN fee_kind = 3 THEN COALESCE(upper(fee_currency), '') END AS other_currency
    FROM classed
)
"""

# A position's own fills only (a close, an open position's fills in order): its symbol and its life,
# which the indexes on trades find.
_OWN_FILLS = """
WHERE t.symbol = (SELECT symbol FROM positions WHERE id = %(position)s)
  AND t.datetime >= (SELECT opened_at FROM positions WHERE id = %(position)s)
  AND t.datetime <= (SELECT COALESCE(closed_at, %(now)s) FROM positions WHERE id = %(position)s)
"""

# Every position in scope with its figures or its reason. Sums per position and fee currency other
# than its base and quote first (a fill of no position falls in the group of NULL), then per position;
# an open position's basis comes folded from Python (`holdings`), checked against the sums.
_RESULTS = """
per_currency AS (
    SELECT position_id, other_currency, count(*) AS fills, sum(quantity) AS held,
           sum(quantity * price) AS flow, sum(fee_value) AS fees,
           sum(fee) FILTER (WHERE other_currency IS NOT NULL) AS other
    FROM assigned
    GROUP BY position_id, other_currency
),
totals AS (
    SELECT position_id, sum(fills) AS fills, sum(held) AS held, sum(flow) AS flow, sum(fees) AS fees,
           jsonb_object_agg(CASE other_currency WHEN '' THEN %(unknown)s ELSE other_currency END,
                            round(other, 8)::text) FILTER (WHERE other_currency IS NOT NULL) AS other_fees,
           string_agg(CASE other_currency WHEN '' THEN %(unknown)s ELSE other_currency END, ', '
                      ORDER BY other_currency) FILTER (WHERE other_currency IS NOT NULL) AS other_names
    FROM per_currency
    WHERE position_id IS NOT NULL
    GROUP BY position_id
),
holdings AS (
    SELECT * FROM unnest(%(held_ids)s::int[], %(held_amounts)s::numeric[], %(held_bases)s::numeric[],
                         %(held_fills)s::bigint[]) AS h(id, amount, basis, fills)
),
positions_in_scope AS (
    SELECT id, exchange_id, symbol, split_part(symbol, '/', 1) AS base, is_open,
           closed_at IS NOT NULL OR is_open IS FALSE AS closed,
           closed_at IS NULL AND is_open IS FALSE AS no_end,
           CASE WHEN side = 'buy' THEN amount ELSE -amount END AS says,
           CASE WHEN lag(id) OVER lane IS NOT NULL
                     AND (lag(closed_at) OVER lane IS NULL OR lag(closed_at) OVER lane > opened_at)
                THEN lag(id) OVER lane
                WHEN lead(id) OVER lane IS NOT NULL
                     AND (closed_at IS NULL OR lead(opened_at) OVER lane < closed_at)
                THEN lead(id) OVER lane END AS overlapping
    FROM positions
    WHERE {lanes}
    WINDOW lane AS (PARTITION BY exchange_id, symbol ORDER BY opened_at, id)
),
figures AS (
    SELECT p.*, t.fills, t.held, t.other_fees, t.other_names, h.id AS folded,
           h.amount AS folded_amount, h.fills AS folded_fills,
           round(-t.flow + COALESCE(h.basis, 0) - t.fees, 8) AS pnl, round(t.fees, 8) AS fees
    FROM positions_in_scope p
    LEFT JOIN totals t ON t.position_id = p.id
    LEFT JOIN holdings h ON h.id = p.id
    {targets}
),
reasoned AS (
    SELECT f.*,
           CASE WHEN exchange_id IS NULL THEN %(no_exchange)s
                WHEN no_end THEN %(no_end)s
                WHEN overlapping IS NOT NULL THEN %(overlap)s
                WHEN fills IS NULL THEN %(no_fills)s
                WHEN closed AND held <> 0 THEN %(not_flat)s
                WHEN NOT closed AND held <> says THEN %(holding_differs)s
                WHEN held <> 0 AND (folded IS NULL OR folded_amount <> held OR folded_fills <> fills)
                    THEN %(changed)s
                WHEN abs(pnl) >= 1e12 OR abs(fees) >= 1e12 THEN %(out_of_range)s
           END AS reason
    FROM figures f
),
results AS (
    SELECT id, is_open, reason, COALESCE(fills, 0) AS fills,
           CASE WHEN reason IS NULL THEN pnl END AS realized_pnl,
           CASE WHEN reason IS NULL THEN fees END AS realized_fees,
           CASE WHEN reason IS NULL THEN other_fees END AS realized_other_fees,
           CASE reason
               WHEN %(no_exchange)s THEN 'The position has no exchange, so no fills can be its own.'
               WHEN %(no_end)s THEN 'The position is closed without a closed_at: its life has no end.'
               WHEN %(overlap)s THEN format(
                   'Its life overlaps that of position %%s: a fill in both cannot be told apart.',
                   overlapping)
               WHEN %(no_fills)s THEN format(
                   'No fills of %%s on its exchange are recorded between opened_at and %%s.',
                   symbol, CASE WHEN closed THEN 'closed_at' ELSE 'now' END)
               WHEN %(not_flat)s THEN format(
                   'The fills leave %%s at the close: a fill is missing, or lies outside '
                   'opened_at..closed_at.', {holding_held})
               WHEN %(holding_differs)s THEN format(
                   'The fills hold %%s; the position says %%s: a fill is missing, or lies outside '
                   'opened_at..now.', {holding_held}, {holding_says})
               WHEN %(changed)s THEN 'Fills were recorded while this was computed; compute again.'
               WHEN %(out_of_range)s THEN format(
                   '%%s %%s is out of range for NUMERIC(20,8).',
                   CASE WHEN abs(pnl) >= 1e12 THEN 'realized_pnl' ELSE 'realized_fees' END,
                   CASE WHEN abs(pnl) >= 1e12 THEN pnl ELSE fees END)
               ELSE CASE WHEN other_names IS NOT NULL THEN format(
                   'Fees in %%s are not converted and not in realized_pnl (see realized_other_fees).',
                   other_names) END
           END AS realized_note
    FROM reasoned
)
"""


def _holding(quantity: str) -> str:
    """SQL: '0.5 BTC long', '2 ETH short' or 'nothing', for a signed quantity of the base currency."""
    return (
        f"CASE WHEN {quantity} = 0 THEN 'nothing' ELSE trim_scale(abs({quantity}))::text || ' ' || base"
        f" || CASE WHEN {quantity} > 0 THEN ' long' ELSE ' short' END END"
    )


def _sql(tail: str, *, lanes: str, fills: str = "", targets: str = "") -> str:
    return (
        "WITH "
        + _ASSIGNED.format(lanes=lanes, fills=fills)
        + ",\n"
        + _RESULTS.format(
            lanes=lanes, targets=targets, holding_held=_holding("held"), holding_says=_holding("says")
        )
        + tail
    )


# The figures, read.
_SELECT = """
SELECT id, realized_pnl, realized_fees, realized_other_fees, realized_note, reason, fills FROM results
"""

# The figures, stored: those that change (all with `force`, for a close), with realized_at. A row open
# when read and closed since (by a close that wrote figures of its own) is left alone; so is every
# row whose figures stay the same. The answer: how many of each reason, fills and rows changed.
_UPDATE = """,
updated AS (
    UPDATE positions AS p
    SET realized_pnl = r.realized_pnl, realized_fees = r.realized_fees,
        realized_other_fees = r.realized_other_fees, realized_note = r.realized_note, realized_at = %(now)s
    FROM results r
    WHERE p.id = r.id
      AND p.is_open IS NOT DISTINCT FROM r.is_open
      AND (%(force)s
           OR (p.realized_pnl, p.realized_fees, p.realized_other_fees, p.realized_note)
              IS DISTINCT FROM (r.realized_pnl, r.realized_fees, r.realized_other_fees, r.realized_note))
    RETURNING 1
)
SELECT reason, count(*), sum(fills), (SELECT count(*) FROM updated) FROM results GROUP BY reason
"""

_IN_ORDER = """
SELECT quantity, price
FROM assigned
WHERE position_id = %(position)s
ORDER BY datetime, id
"""


def _lanes(exchange: Exchange | None, position_ids: list[int] | None) -> tuple[str, dict]:
    """The positions of every lane (exchange, symbol) in scope: their neighbours decide whose fills are
    whose."""
    if position_ids is not None:
        return (
            "id = ANY(%(ids)s) OR (exchange_id, symbol) IN "
            "(SELECT exchange_id, symbol FROM positions WHERE id = ANY(%(ids)s))",
            {"ids": list(position_ids)},
        )
    if exchange is not None:
        return "exchange_id = %(exchange)s", {"exchange": exchange.pk}
    return "TRUE", {}


def _execute(tail: str, *, exchange: Exchange | None, position_ids: list[int] | None, now: datetime, **extra):
    """Run the statement with `tail` over the scope; its rows."""
    lanes, params = _lanes(exchange, position_ids)
    fills = targets = ""
    if position_ids is not None:
        targets = "WHERE p.id = ANY(%(ids)s)"
        if len(position_ids) == 1:  # one position: its own fills only
            fills, params["position"] = _OWN_FILLS, position_ids[0]
    held = _open_holdings(lanes, params, position_ids, now=now)
    params |= {
        "now": now,
        "unknown": UNKNOWN_CURRENCY,
        "held_ids": list(held),
        "held_amounts": [amount for amount, _, _ in held.values()],
        "held_bases": [basis for _, basis, _ in held.values()],
        "held_fills": [fills_ for _, _, fills_ in held.values()],
        "no_exchange": Reason.NO_EXCHANGE,
        "no_end": Reason.NO_END,
        "overlap": Reason.OVERLAP,
        "no_fills": Reason.NO_FILLS,
        "not_flat": Reason.NOT_FLAT,
        "holding_differs": Reason.HOLDING_DIFFERS,
        "changed": Reason.CHANGED,
        "out_of_range": Reason.OUT_OF_RANGE,
        **extra,
    }
    sql = _sql(tail, lanes=lanes, fills=fills, targets=targets)
    with transaction.atomic():
        connection.ensure_connection()
        # psycopg's own cursor binds the parameters on the server (Django's spells them into the SQL).
        with psycopg.Cursor(connection.connection) as cursor:
            if position_ids is None:
                cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            cursor.execute(sql, params, prepare=False)
            return cursor.fetchall()


def _open_holdings(lanes: str, params: dict, position_ids: list[int] | None, *, now: datetime) -> dict:
    """{position id: (quantity held, its basis at average cost, fills)} of the open positions in scope,
    their fills folded in order."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM positions WHERE ({lanes}) AND closed_at IS NULL AND is_open IS NOT FALSE"
            + (" AND id = ANY(%(ids)s)" if position_ids is not None else ""),
            params,
        )
        ids = [position_id for (position_id,) in cursor.fetchall()]
    return {position_id: _fold(position_id, now=now) for position_id in ids}


def _fold(position_id: int, *, now: datetime) -> tuple[Decimal, Decimal, int]:
    """(quantity held, its cost basis at average cost, fills) after the position's fills in order."""
    lanes, params = _lanes(None, [position_id])
    params |= {"now": now, "position": position_id}
    sql = "WITH " + _ASSIGNED.format(lanes=lanes, fills=_OWN_FILLS) + _IN_ORDER
    held, basis, count = Decimal(0), Decimal(0), 0
    with connection.cursor() as cursor, localcontext(prec=PRECISION):
        cursor.execute(sql, params)
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


# --- Services -------------------------------------------------------------------------------------


def realized_pnl_compute(
    *,
    exchange: Exchange | None = None,
    position_ids: list[int] | None = None,
    now: datetime | None = None,
) -> dict[int, Realized]:
    """The realized figures of the positions on `exchange`, or those of `position_ids`, or of all
    positions; counting an open position's fills up to `now`. Reads only."""
    rows = _execute(_SELECT, exchange=exchange, position_ids=position_ids, now=now or timezone.now())
    return {
        position_id: Realized(
            pnl, fees, json.loads(other) if isinstance(other, str) else other, note, reason, int(fills)
        )
        for position_id, pnl, fees, other, note, reason, fills in rows
    }


@transaction.atomic
def position_realized_pnl_update(*, position: Position, now: datetime | None = None) -> Position:
    """Compute one position's realized figures and store them on it; the instance given is refreshed."""
    _execute(_UPDATE, exchange=None, position_ids=[position.pk], now=now or timezone.now(), force=True)
    position.refresh_from_db(fields=[*FIELDS, "updated_at"])
    return position


@transaction.atomic
def realized_pnl_update(*, exchange: Exchange | None = None, now: datetime | None = None) -> RealizedReport:
    """Recompute the realized figures of every position (on `exchange`, or all) and store those that
    changed. A position closed meanwhile keeps what its close wrote."""
    rows = _execute(_UPDATE, exchange=exchange, position_ids=None, now=now or timezone.now(), force=False)
    report = RealizedReport()
    for reason, count, fills, changed in rows:
        report.fills += int(fills or 0)
        report.changed = changed
        if reason is None:
            report.computed += count
        else:
            report.not_computed[reason] += count
    return report
