"""Table upkeep: (VACUUM) ANALYZE of the large tables; a report of sizes, dead rows and unused indexes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection
from psycopg import sql

# The tables that grow with trading; the rest stay small.
LARGE_TABLES = (
    "trades",
    "orders",
    "decisions",
    "experiences",
    "system_events",
    "portfolio_snapshots",
    "positions",
    "memory_outbox",
)


@dataclass(frozen=True)
class TableReport:
    table: str
    total_bytes: int
    table_bytes: int
    index_bytes: int
    live_rows: int
    dead_rows: int
    dead_ratio: float  # dead / (live + dead), 0 when empty
    last_vacuum: datetime | None
    last_analyze: datetime | None


@dataclass(frozen=True)
class IndexReport:
    table: str
    index: str
    bytes: int


@dataclass(frozen=True)
class MaintenanceReport:
    processed: tuple[str, ...]
    action: str  # "ANALYZE", "VACUUM ANALYZE" or "none"
    tables: tuple[TableReport, ...]
    unused_indexes: tuple[IndexReport, ...]
    stats_since: datetime | None  # index usage counts since this moment (the last stats reset)

    def as_dict(self) -> dict:
        return asdict(self)


TABLES_SQL = """
SELECT s.relname,
       pg_total_relation_size(s.relid), pg_relation_size(s.relid), pg_indexes_size(s.relid),
       s.n_live_tup, s.n_dead_tup,
       GREATEST(s.last_vacuum, s.last_autovacuum), GREATEST(s.last_analyze, s.last_autoanalyze)
FROM pg_stat_user_tables s
WHERE s.schemaname = current_schema()
ORDER BY pg_total_relation_size(s.relid) DESC, s.relname
"""

# Primary keys and unique indexes enforce rules even when no query reads them: never "unused".
UNUSED_INDEXES_SQL = """
SELECT s.relname, s.indexrelname, pg_relation_size(s.indexrelid)
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.schemaname = current_schema() AND s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname
"""


def _existing_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "UNION SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'p' AND n.nspname = current_schema()"
        )
        return {row[0] for row in cursor.fetchall()}


def database_maintain(
    *,
    tables: Sequence[str] | None = None,
    vacuum: bool = False,
    report_only: bool = False,
    on_table: Callable[[str], None] | None = None,
) -> MaintenanceReport:
    """ANALYZE (or VACUUM ANALYZE) the given tables, default the large ones, then report.

    VACUUM cannot run inside a transaction, so this is not atomic: each table is its own statement.
    """
    existing = _existing_tables()
    if tables:
        unknown = sorted(set(tables) - existing)
        if unknown:
            raise ValidationError({"table": f"No such table: {', '.join(unknown)}."})
        chosen = list(dict.fromkeys(tables))
    else:
        chosen = [t for t in LARGE_TABLES if t in existing]
    if vacuum and connection.in_atomic_block and not report_only:
        raise ValidationError({"vacuum": "VACUUM cannot run inside a transaction; run it on its own."})

    action = "none" if report_only else ("VACUUM ANALYZE" if vacuum else "ANALYZE")
    processed = []
    if not report_only:
        with connection.cursor() as cursor:
            for table in chosen:
                if on_table is not None:
                    on_table(table)
                cursor.execute(
                    sql.SQL(action + " {}").format(sql.Identifier(table)).as_string(cursor.connection)
                )
                processed.append(table)

    with connection.cursor() as cursor:
        cursor.execute(TABLES_SQL)
        table_rows = cursor.fetchall()
        cursor.execute(UNUSED_INDEXES_SQL)
        index_rows = cursor.fetchall()
        cursor.execute("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
        stats_since = cursor.fetchone()[0]

    reports = tuple(
        TableReport(
            table=name,
            total_bytes=total,
            table_bytes=heap,
            index_bytes=indexes,
            live_rows=live,
            dead_rows=dead,
            dead_ratio=round(dead / (live + dead), 4) if live + dead else 0.0,
            last_vacuum=vacuumed,
            last_analyze=analyzed,
        )
        for name, total, heap, indexes, live, dead, vacuumed, analyzed in table_rows
    )
    unused = tuple(IndexReport(table=t, index=i, bytes=b) for t, i, b in index_rows)
    return MaintenanceReport(
        processed=tuple(processed),
        action=action,
        tables=reports,
        unused_indexes=unused,
        stats_since=stats_since,
    )
