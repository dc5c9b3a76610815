"""Daily roll-ups of experiences, positions, trades and decisions, kept current by the database itself.

The changelists' figures (selectors/figures.py) sum a million rows for an unfiltered page; a roll-up
holds, per UTC day and per value of the columns the changelists filter on (symbol, outcome, side, ...),
the sums the figures need: rows, PnL, gross profit and loss, fees, tokens, cost. A page whose filters
are all roll-up columns is answered by summing a few thousand roll-up rows instead.

Each roll-up is kept by statement-level triggers on its source table with transition tables: after
every INSERT, UPDATE, DELETE (whatever issues it: the ORM, COPY, a cascade, psql) the statement's rows
are grouped and their sums added (old rows subtracted) in one upsert per statement, in key order, and a
TRUNCATE empties the roll-up. The roll-up commits or rolls back with the statement that changed it.
An update that moves no sum (a changed note, a new current price) writes nothing.

`rollups_rebuild()` recomputes every roll-up from its source (`manage.py rebuild_rollups`), and
`rollups_check()` compares each with its source: both for after a restore that bypassed triggers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class RollupSpec:
    """A roll-up table of `source`: one row per distinct `dimensions`, holding `measures` summed.

    Both are (column, SQL expression over the source row `t`); `lateral` joins each source row to the
    rows it expands into (a tag roll-up: one per distinct tag).
    """

    table: str
    source: str
    dimensions: tuple[tuple[str, str], ...]
    measures: tuple[tuple[str, str], ...]
    lateral: str = ""

    @property
    def function(self) -> str:
        return f"{self.table}_apply"

    def _rows(self, transition: str, sign: str) -> str:
        columns = [f"{expr} AS {name}" for name, expr in self.dimensions]
        columns += [f"{sign}({expr}) AS {name}" for name, expr in self.measures]
        return f"SELECT {', '.join(columns)} FROM {transition} AS t {self.lateral}"

    def upsert(self, rows: str) -> str:
        """INSERT the grouped sums of `rows` (a SELECT of dimensions and measures), adding to what is kept."""
        keys = ", ".join(name for name, _ in self.dimensions)
        sums = ", ".join(f"sum({name})" for name, _ in self.measures)
        moved = " OR ".join(f"sum({name}) <> 0" for name, _ in self.measures)
        added = ", ".join(f"{name} = r.{name} + EXCLUDED.{name}" for name, _ in self.measures)
        columns = ", ".join([keys, *(name for name, _ in self.measures)])
        return (
            f"INSERT INTO {self.table} AS r ({columns}) SELECT {keys}, {sums} FROM ({rows}) AS delta "
            f"GROUP BY {keys} HAVING {moved} ORDER BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {added}"
        )

    def create_sql(self) -> str:
        inserted = self.upsert(self._rows("new_rows", "+"))
        deleted = self.upsert(self._rows("old_rows", "-"))
        updated = self.upsert(f"{self._rows('new_rows', '+')} UNION ALL {self._rows('old_rows', '-')}")
        name = self.table
        return f"""
CREATE FUNCTION {self.function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {inserted};
    ELSIF TG_OP = 'UPDATE' THEN
        {updated};
    ELSIF TG_OP = 'DELETE' THEN
        {deleted};
    ELSE
        DELETE FROM {name};
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER {name}_insert AFTER INSERT ON {self.source}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {self.function}();
CREATE TRIGGER {name}_update AFTER UPDATE ON {self.source}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {self.function}();
CREATE TRIGGER {name}_delete AFTER DELETE ON {self.source}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {self.function}();
CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {self.source}
    FOR EACH STATEMENT EXECUTE FUNCTION {self.function}();
{self.fill_sql()};
"""

    def drop_sql(self) -> str:
        triggers = "".join(
            f"DROP TRIGGER IF EXISTS {self.table}_{op} ON {self.source};"
            for op in ("insert", "update", "delete", "truncate")
        )
        return f"{triggers} DROP FUNCTION IF EXISTS {self.function}();"

    def fill_sql(self) -> str:
        return self.upsert(self._rows(self.source, "+"))

    def difference_sql(self) -> str:
        """The keys whose kept sums differ from the source's (none when the roll-up is true)."""
        keys = ", ".join(name for name, _ in self.dimensions)
        measures = ", ".join(name for name, _ in self.measures)
        sums = ", ".join(f"sum({name}) AS {name}" for name, _ in self.measures)
        truth = f"SELECT {keys}, {sums} FROM ({self._rows(self.source, '+')}) AS s GROUP BY {keys}"
        kept = f"SELECT {keys}, {measures} FROM {self.table} WHERE rows <> 0"
        return f"SELECT count(*) FROM (({truth}) EXCEPT ({kept}) UNION ALL (({kept}) EXCEPT ({truth}))) AS d"


def _day(column: str) -> str:
    return f"(t.{column} AT TIME ZONE 'UTC')::date"


def _pnl(column: str) -> tuple[tuple[str, str], ...]:
    return (
        ("with_pnl", f"(t.{column} IS NOT NULL)::int"),
        ("wins", f"(coalesce(t.{column}, 0) > 0)::int"),
        ("losses", f"(coalesce(t.{column}, 0) < 0)::int"),
        ("pnl", f"coalesce(t.{column}, 0)"),
        ("gross_profit", f"greatest(coalesce(t.{column}, 0), 0)"),
        ("gross_loss", f"least(coalesce(t.{column}, 0), 0)"),
    )


def _summed(column: str, name: str | None = None) -> tuple[tuple[str, str], ...]:
    """A nullable column's sum and how many rows have it (a SUM over none is NULL, not 0)."""
    name = name or column
    return ((name, f"coalesce(t.{column}, 0)"), (f"with_{name}", f"(t.{column} IS NOT NULL)::int"))


ROWS = (("rows", "1"),)

EXPERIENCES = RollupSpec(
    table="rollup_experiences_daily",
    source="experiences",
    dimensions=(("day", _day("datetime")), ("symbol", "t.symbol"), ("outcome", "t.outcome")),
    measures=ROWS + _pnl("pnl"),
)
EXPERIENCE_TAGS = RollupSpec(
    table="rollup_experience_tags_daily",
    source="experiences",
    dimensions=(
        ("day", _day("datetime")),
        ("tag", "g.tag"),
        ("symbol", "t.symbol"),
        ("outcome", "t.outcome"),
    ),
    measures=ROWS + _pnl("pnl"),
    # An experience counts once per tag, as `situation_tags @> ARRAY[tag]` selects it once.
    lateral="CROSS JOIN LATERAL (SELECT DISTINCT u FROM unnest(t.situation_tags) AS u) AS g(tag)",
)
POSITIONS = RollupSpec(
    table="rollup_positions_daily",
    source="positions",
    dimensions=(
        ("day", _day("opened_at")),
        ("exchange_id", "t.exchange_id"),
        ("symbol", "t.symbol"),
        ("side", "t.side"),
        ("is_open", "t.is_open"),
    ),
    measures=ROWS + _pnl("realized_pnl") + _summed("realized_fees", "fees"),
)
TRADES = RollupSpec(
    table="rollup_trades_daily",
    source="trades",
    dimensions=(
        ("day", _day("datetime")),
        ("exchange_id", "t.exchange_id"),
        ("symbol", "t.symbol"),
        ("side", "t.side"),
        ("fee_currency", "t.fee_currency"),
    ),
    measures=ROWS + _summed("cost", "volume") + _summed("fee", "fees"),
)
DECISIONS = RollupSpec(
    table="rollup_decisions_daily",
    source="decisions",
    dimensions=(
        ("day", _day("datetime")),
        ("decision_layer", "t.decision_layer"),
        ("model_used", "t.model_used"),
    ),
    measures=ROWS
    + _summed("tokens_used", "tokens")
    + _summed("input_tokens")
    + _summed("output_tokens")
    + _summed("inference_cost", "cost")
    + _summed("latency_ms", "latency"),
)
SPECS = (EXPERIENCES, EXPERIENCE_TAGS, POSITIONS, TRADES, DECISIONS)


@dataclass(frozen=True)
class RollupReport:
    table: str
    rows: int  # roll-up rows kept
    differences: int  # keys whose sums differ from the source's


def rollups_check() -> list[RollupReport]:
    """Each roll-up compared with its source, key by key."""
    reports = []
    with connection.cursor() as cursor:
        for spec in SPECS:
            cursor.execute(spec.difference_sql())
            differences = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {spec.table} WHERE rows <> 0")
            reports.append(RollupReport(table=spec.table, rows=cursor.fetchone()[0], differences=differences))
    return reports


@transaction.atomic
def rollups_rebuild() -> list[RollupReport]:
    """Recompute every roll-up from its source. The sources are locked against writes meanwhile (reads
    go on), so no write lands between the emptying and the refill."""
    with connection.cursor() as cursor:
        sources = ", ".join(dict.fromkeys(spec.source for spec in SPECS))
        cursor.execute(f"LOCK TABLE {sources} IN SHARE MODE")
        for spec in SPECS:
            cursor.execute(f"DELETE FROM {spec.table}")
            cursor.execute(spec.fill_sql())
    return rollups_check()
