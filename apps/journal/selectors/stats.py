"""Stats of results by setup and by time: the trading journal's tables, one grouped query each.

The basis is the experience: one result of one decision (its outcome, its PnL). For every row:

- entry: when the decision behind it was taken (the experience's own time when it has no decision);
- holding time: from the decision to the recorded result;
- strategy version: the version active at entry (activated_at <= entry < deactivated_at);
- model and decision layer: the decision's;
- R: the R-multiple of the position opened by one of its orders (position_excursions), when computed.

Per group: count, wins and losses (by outcome), win rate = wins / (wins + losses), total and average PnL,
average R, profit factor = gross profit / gross loss (None when nothing was lost). Times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection

from apps.strategies.models import Strategy

CENT = Decimal("0.01")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Holding-time buckets: (key, label, lower bound in hours, upper bound in hours or None).
HOLDING_BUCKETS = [
    ("lt1h", "under 1 hour", 0, 1),
    ("1-4h", "1 to 4 hours", 1, 4),
    ("4-24h", "4 to 24 hours", 4, 24),
    ("1-3d", "1 to 3 days", 24, 72),
    ("gt3d", "over 3 days", 72, None),
]

_HOLDING_SQL = (
    "CASE WHEN r.holding_hours IS NULL THEN NULL "
    + " ".join(
        f"WHEN r.holding_hours < {high} THEN '{key}'"
        for key, _, _, high in HOLDING_BUCKETS
        if high is not None
    )
    + f" ELSE '{HOLDING_BUCKETS[-1][0]}' END"
)

# dimension: (label, SQL of the group key over `r`, extra FROM for it)
DIMENSIONS = {
    "tag": ("tag", "t.tag", "CROSS JOIN LATERAL unnest(coalesce(r.situation_tags, '{}'::text[])) AS t(tag)"),
    "symbol": ("symbol", "r.symbol", ""),
    "strategy": ("strategy version", "r.strategy_id", ""),
    "model": ("model", "r.model_used", ""),
    "layer": ("decision layer", "r.decision_layer", ""),
    "weekday": ("weekday of entry", "extract(isodow FROM r.entry)::int", ""),
    "hour": ("hour of entry (UTC)", "extract(hour FROM r.entry)::int", ""),
    "holding": ("holding time", _HOLDING_SQL, ""),
}
SORTS = ("key", "count", "win_rate", "total_pnl", "average_pnl", "average_r", "profit_factor")

# Every experience of the period with what the groups need; LATERALs read one row each by index.
RESULTS_SQL = """
SELECT e.id, e.outcome, e.pnl, e.symbol, e.situation_tags,
       d.model_used, d.decision_layer,
       coalesce(d.datetime, e.datetime) AS entry,
       CASE WHEN d.datetime IS NOT NULL AND e.datetime >= d.datetime
            THEN extract(epoch FROM e.datetime - d.datetime) / 3600.0 END AS holding_hours,
       s.strategy_id, x.r_multiple
FROM experiences e
LEFT JOIN decisions d ON d.id = e.decision_id
LEFT JOIN LATERAL (
    SELECT st.id AS strategy_id FROM strategies st
    WHERE st.activated_at <= coalesce(d.datetime, e.datetime)
      AND (st.deactivated_at IS NULL OR st.deactivated_at > coalesce(d.datetime, e.datetime))
    ORDER BY st.activated_at DESC LIMIT 1
) s ON TRUE
LEFT JOIN LATERAL (
    SELECT px.r_multiple FROM position_excursions px
    WHERE px.entry_order_id = ANY(e.related_orders) AND px.r_multiple IS NOT NULL
    LIMIT 1
) x ON TRUE
WHERE e.datetime >= %(since)s AND e.datetime < %(until)s
"""

AGGREGATES = """
count(*) AS count,
count(*) FILTER (WHERE r.outcome = 'success') AS wins,
count(*) FILTER (WHERE r.outcome = 'failure') AS losses,
sum(r.pnl) AS total_pnl,
avg(r.pnl) AS average_pnl,
avg(r.r_multiple) AS average_r,
count(r.r_multiple) AS with_r,
coalesce(sum(r.pnl) FILTER (WHERE r.pnl > 0), 0) AS gross_profit,
coalesce(sum(r.pnl) FILTER (WHERE r.pnl < 0), 0) AS gross_loss
"""


@dataclass(frozen=True)
class StatRow:
    key: object
    label: str
    count: int
    wins: int
    losses: int
    total_pnl: Decimal | None
    average_pnl: Decimal | None
    average_r: Decimal | None
    with_r: int
    gross_profit: Decimal
    gross_loss: Decimal

    @property
    def win_rate(self) -> Decimal | None:
        decided = self.wins + self.losses
        return None if not decided else (Decimal(self.wins) * 100 / decided).quantize(CENT, ROUND_HALF_UP)

    @property
    def profit_factor(self) -> Decimal | None:
        if not self.gross_loss:
            return None
        return (self.gross_profit / -self.gross_loss).quantize(CENT, ROUND_HALF_UP)


def _row(key, label: str, values: dict) -> StatRow:
    def q(value, places="0.01"):
        return None if value is None else Decimal(value).quantize(Decimal(places), ROUND_HALF_UP)

    return StatRow(
        key=key, label=label, count=values["count"], wins=values["wins"], losses=values["losses"],
        total_pnl=q(values["total_pnl"]), average_pnl=q(values["average_pnl"]),
        average_r=q(values["average_r"]),
        with_r=values["with_r"], gross_profit=values["gross_profit"], gross_loss=values["gross_loss"],
    )  # fmt: skip


def _label(dimension: str, key, names: dict | None = None) -> str:
    if dimension == "strategy" and key is not None:
        return (names or {}).get(key, f"strategy {key}")
    if key is None:
        return {"strategy": "no version active", "holding": "unknown (no decision)"}.get(dimension, "none")
    if dimension == "weekday":
        return WEEKDAYS[int(key) - 1]
    if dimension == "hour":
        return f"{int(key):02d}:00 to {int(key):02d}:59"
    if dimension == "holding":
        return next(label for k, label, _, _ in HOLDING_BUCKETS if k == key)
    return str(key)


def _fetch(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _bounds(since: date | None, until: date | None) -> dict:
    low = datetime.combine(since or date(1970, 1, 1), datetime.min.time(), tzinfo=UTC)
    high = datetime.combine(
        (until or date(9998, 12, 30)) + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )
    return {"since": low, "until": high}


def stats_by(
    *, dimension: str, since: date | None = None, until: date | None = None, sort: str = "total_pnl",
    descending: bool = True,
) -> list[StatRow]:  # fmt: skip
    """One row per value of `dimension` over the experiences dated since..until (inclusive, UTC)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    _, key_sql, extra = DIMENSIONS[dimension]
    sql = f"SELECT {key_sql} AS key, {AGGREGATES} FROM ({RESULTS_SQL}) r {extra} GROUP BY 1"
    found = _fetch(sql, _bounds(since, until))
    names = {}
    if dimension == "strategy":
        names = {s.pk: str(s) for s in Strategy.objects.filter(pk__in=[v["key"] for v in found if v["key"]])}
    rows = [_row(v["key"], _label(dimension, v["key"], names), v) for v in found]
    return sort_rows(
        rows, sort=sort, descending=descending, natural=dimension in ("weekday", "hour", "holding")
    )


def sort_rows(rows: list[StatRow], *, sort: str, descending: bool, natural: bool = False) -> list[StatRow]:
    """Sorted by `sort`, rows without the figure last whatever the direction."""
    if sort == "key":
        order = [k for k, *_ in HOLDING_BUCKETS]

        def key_of(row):
            if row.key is None:
                return (1, 0)
            return (
                (0, order.index(row.key) if row.key in order else row.key) if natural else (0, str(row.key))
            )

        return sorted(rows, key=key_of, reverse=descending)
    present = [r for r in rows if getattr(r, sort) is not None]
    missing = [r for r in rows if getattr(r, sort) is None]
    return sorted(present, key=lambda r: getattr(r, sort), reverse=descending) + missing


PERIODS = {"day": "day", "week": "week", "month": "month"}


def stats_by_period(*, period: str, since: date | None = None, until: date | None = None) -> list[StatRow]:
    """One row per UTC day, ISO week (starting Monday) or month with a result, newest first."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    sql = (
        f"SELECT date_trunc('{period}', r.result_at AT TIME ZONE 'UTC')::date AS key, {AGGREGATES} "
        f"FROM ({RESULTS_SQL.replace('SELECT e.id,', 'SELECT e.id, e.datetime AS result_at,', 1)}) r "
        "GROUP BY 1 ORDER BY 1 DESC"
    )
    rows = []
    for values in _fetch(sql, _bounds(since, until)):
        start = values["key"]
        if period == "day":
            label = start.isoformat()
        elif period == "week":
            label = f"week of {start.isoformat()} ({start:%G-W%V})"
        else:
            label = f"{start:%Y-%m}"
        rows.append(_row(start, label, values))
    return rows


@dataclass(frozen=True)
class CalendarMonth:
    month: date
    weeks: list[list[tuple[date, Decimal | None, int] | None]]  # Monday-first; None outside the month


def calendar(*, since: date, until: date) -> tuple[list[CalendarMonth], Decimal]:
    """Daily PnL (by the day of the result, UTC) laid out month by month, and the largest |PnL| of a day
    (the colour scale)."""
    by_day = {row.key: row for row in stats_by_period(period="day", since=since, until=until)}
    months = []
    cursor = date(since.year, since.month, 1)
    while cursor <= until:
        following = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        weeks: list[list] = []
        week: list = [None] * cursor.weekday()
        day = cursor
        while day < following:
            row = by_day.get(day)
            week.append((day, row.total_pnl if row else None, row.count if row else 0))
            if len(week) == 7:
                weeks.append(week)
                week = []
            day += timedelta(days=1)
        if week:
            weeks.append(week + [None] * (7 - len(week)))
        months.append(CalendarMonth(month=cursor, weeks=weeks))
        cursor = following
    scale = max((abs(r.total_pnl) for r in by_day.values() if r.total_pnl is not None), default=Decimal(0))
    return months, scale
