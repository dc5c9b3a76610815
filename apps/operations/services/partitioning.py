"""Turning `trades` into a table partitioned by month (and back), keeping every row, index, key and view.

Partitioned, the table's primary key must hold the partition key: it becomes (id, datetime), so the
database alone no longer stops one trade id from appearing in two months. The write paths check
the id first (import_trades' merge, trade_record's lookup by id). Months get partitions named
trades_YYYY_MM as in the seed; a DEFAULT partition catches rows outside them, so no insert ever
fails for want of a partition, and the rows it holds are moved out when their month's partition
is created. Everything runs in one transaction under an ACCESS EXCLUSIVE lock on `trades`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

TABLE = "trades"
DEFAULT_PARTITION = f"{TABLE}_default"
PARTITION_KEY = "datetime"
# Copied from the old table to the new: everything but the indexes, recreated afterwards.
LIKE_OPTIONS = (
    "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS "
    "INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STATISTICS"
)


@dataclass
class PartitionReport:
    converted: bool = False  # plain -> partitioned in this run
    reverted: bool = False  # partitioned -> plain in this run
    rows: int = 0
    partitions_created: list[str] = field(default_factory=list)
    rows_moved_from_default: int = 0
    partitions: int = 0  # monthly partitions after the run


@dataclass(frozen=True)
class _Dependents:
    """What hangs on the table and must be rebuilt around it."""

    views: list[tuple[str, str]]  # (name, definition)
    indexes: list[str]  # CREATE INDEX statements
    foreign_keys: list[tuple[str, str]]  # (name, definition)
    triggers: list[str]  # CREATE TRIGGER statements


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _partition_name(month: date) -> str:
    return f"{TABLE}_{month:%Y_%m}"


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def _fetch(cursor, statement: str, params=None) -> list[tuple]:
    cursor.execute(statement, params)
    return cursor.fetchall()


def trades_is_partitioned() -> bool:
    with connection.cursor() as cursor:
        return bool(
            _fetch(cursor, "SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
        )


def _dependents(cursor) -> _Dependents:
    referencing = _fetch(
        cursor,
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE confrelid = %s::regclass AND contype = 'f' AND conparentid = 0",
        [TABLE],
    )
    if referencing:
        names = ", ".join(f"{t}.{c}" for t, c in referencing)
        raise ValidationError(
            {
                "trades": f"Foreign keys reference trades ({names}); "
                "drop them before changing its partitioning."
            }
        )
    views = _fetch(
        cursor,
        """
        SELECT DISTINCT v.oid::regclass::text, pg_get_viewdef(v.oid), v.relkind
        FROM pg_depend d
        JOIN pg_rewrite r ON r.oid = d.objid
        JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = %s::regclass AND v.oid <> %s::regclass
        """,
        [TABLE, TABLE],
    )
    if any(kind != "v" for _, _, kind in views):
        raise ValidationError({"trades": "A materialized view depends on trades; drop it first."})
    indexes = [
        definition.replace(" ON ONLY ", " ON ")
        for (definition,) in _fetch(
            cursor,
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = %s::regclass AND NOT indisprimary ORDER BY indexrelid",
            [TABLE],
        )
    ]
    unique = _fetch(
        cursor,
        "SELECT indexrelid::regclass::text FROM pg_index "
        "WHERE indrelid = %s::regclass AND indisunique AND NOT indisprimary",
        [TABLE],
    )
    if unique:
        raise ValidationError(
            {
                "trades": f"Unique indexes on trades ({', '.join(u for (u,) in unique)}) "
                "cannot survive a change of partitioning; drop them first."
            }
        )
    foreign_keys = _fetch(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [TABLE],
    )
    triggers = [
        definition
        for (definition,) in _fetch(
            cursor,
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgparentid = 0 ORDER BY tgname",
            [TABLE],
        )
    ]
    return _Dependents(views=[(n, d) for n, d, _ in views], indexes=indexes, foreign_keys=foreign_keys,
                       triggers=triggers)  # fmt: skip


def _rebuild(cursor, dependents: _Dependents, *, primary_key: str) -> None:
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({primary_key})")
    for statement in dependents.indexes:
        cursor.execute(statement)
    for name, definition in dependents.foreign_keys:
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
    for statement in dependents.triggers:
        cursor.execute(statement)
    for name, definition in dependents.views:
        cursor.execute(f"CREATE VIEW {name} AS {definition}")


def _copy_rows(cursor, source: str) -> int:
    expected = _fetch(cursor, f"SELECT count(*) FROM {source}")[0][0]
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {source}")
    copied = _fetch(cursor, f"SELECT count(*) FROM {TABLE}")[0][0]
    if copied != expected:  # cannot happen short of a bug; the transaction is rolled back
        raise RuntimeError(f"{source} held {expected} rows but {copied} were copied; nothing was changed.")
    return copied


def _existing_months(cursor) -> set[str]:
    return {
        name
        for (name,) in _fetch(
            cursor,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
    }


def _ensure_partitions(cursor, *, months: set[date], report: PartitionReport) -> None:
    """A partition for each month in `months`, moving that month's rows out of DEFAULT first."""
    existing = _existing_months(cursor)
    has_default = DEFAULT_PARTITION in existing
    for month in sorted(months):
        name = _partition_name(month)
        if name in existing:
            continue
        low, high = _bound(month), _bound(_next_month(month))
        in_range = f"{PARTITION_KEY} >= {low} AND {PARTITION_KEY} < {high}"
        waiting = (
            _fetch(cursor, f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE {in_range}")[0][0]
            if has_default
            else 0
        )
        if waiting:
            # The DEFAULT partition may not hold rows of a new partition's range: move them first.
            cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} {LIKE_OPTIONS})")
            cursor.execute(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE {in_range} RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved"
            )
            cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
            report.rows_moved_from_default += waiting
        else:
            cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM ({low}) TO ({high})")
        report.partitions_created.append(name)
    if not has_default:
        cursor.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
        report.partitions_created.append(DEFAULT_PARTITION)


def _months_with_rows(cursor, table: str) -> set[date]:
    return {
        month.date() if isinstance(month, datetime) else month
        for (month,) in _fetch(
            cursor, f"SELECT DISTINCT date_trunc('month', {PARTITION_KEY} AT TIME ZONE 'UTC') FROM {table}"
        )
    }


def _months_ahead(today: date, months_ahead: int) -> set[date]:
    months = {_month_start(today)}
    month = _month_start(today)
    for _ in range(months_ahead):
        month = _next_month(month)
        months.add(month)
    return months


@transaction.atomic
def trades_partition(*, months_ahead: int = 3, today: date | None = None) -> PartitionReport:
    """Partition `trades` by month if it is not yet, and make sure partitions exist `months_ahead` ahead.

    Idempotent: on a partitioned table it only adds the months still missing (and moves any of
    their rows out of the DEFAULT partition).
    """
    if months_ahead < 0:
        raise ValidationError({"months_ahead": "months ahead must not be negative."})
    today = today or timezone.now().astimezone(UTC).date()
    ahead = _months_ahead(today, months_ahead)
    report = PartitionReport()
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check what this transaction wrote
        # so far now, since a table with pending checks cannot be dropped.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if trades_is_partitioned():
            has_default = _fetch(cursor, "SELECT to_regclass(%s)", [DEFAULT_PARTITION])[0][0] is not None
            stray = _months_with_rows(cursor, DEFAULT_PARTITION) if has_default else set()
            _ensure_partitions(cursor, months=ahead | stray, report=report)
        else:
            dependents = _dependents(cursor)
            old = f"{TABLE}_unpartitioned"
            for name, _ in dependents.views:
                cursor.execute(f"DROP VIEW {name}")
            cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
            cursor.execute(
                f"CREATE TABLE {TABLE} (LIKE {old} {LIKE_OPTIONS}) PARTITION BY RANGE ({PARTITION_KEY})"
            )
            _ensure_partitions(cursor, months=ahead | _months_with_rows(cursor, old), report=report)
            report.rows = _copy_rows(cursor, old)
            cursor.execute(f"DROP TABLE {old}")
            _rebuild(cursor, dependents, primary_key=f"id, {PARTITION_KEY}")
            report.converted = True
        if not report.rows:
            report.rows = _fetch(cursor, f"SELECT count(*) FROM {TABLE}")[0][0]
        report.partitions = sum(1 for name in _existing_months(cursor) if name != DEFAULT_PARTITION)
    return report


@transaction.atomic
def trades_unpartition() -> PartitionReport:
    """Turn the partitioned `trades` back into one plain table with its primary key on id alone."""
    report = PartitionReport()
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check what this transaction wrote
        # so far now, since a table with pending checks cannot be dropped.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if not trades_is_partitioned():
            report.rows = _fetch(cursor, f"SELECT count(*) FROM {TABLE}")[0][0]
            return report
        duplicates = _fetch(
            cursor, f"SELECT id FROM {TABLE} GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5"
        )
        if duplicates:
            ids = ", ".join(i for (i,) in duplicates)
            raise ValidationError(
                {
                    "trades": f"Some trade ids appear in more than one month ({ids}); "
                    "a plain table keys on id alone, so remove the duplicates first. Nothing was changed."
                }
            )
        dependents = _dependents(cursor)
        old = f"{TABLE}_partitioned"
        for name, _ in dependents.views:
            cursor.execute(f"DROP VIEW {name}")
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {old} {LIKE_OPTIONS})")
        report.rows = _copy_rows(cursor, old)
        cursor.execute(f"DROP TABLE {old}")  # its partitions go with it
        _rebuild(cursor, dependents, primary_key="id")
        report.reverted = True
    return report
