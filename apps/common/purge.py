"""Deleting old rows in short batches, so a purge never holds a long lock or a long transaction."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection, transaction

DEFAULT_BATCH_SIZE = 5_000


def rows_delete_in_batches(
    *,
    table: str,
    key: str,
    where: str,
    params: list,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    pause: float = 0.0,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete the rows of `table` meeting `where`, `batch_size` at a time, each batch its own transaction.

    Rows another transaction has locked are skipped (SKIP LOCKED) and left for the next run, so a
    purge never waits behind the application. With `dry_run`, only counts. `table`, `key` and
    `where` are the caller's own SQL, never user input.
    """
    if dry_run:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
            return cursor.fetchone()[0]
    # The batch is chosen once, as an array (an InitPlan): with `IN (SELECT ... LIMIT n ...)` the planner may
    # put the subquery on the inner side of a nested loop and run it again for each row, each time locking
    # the next n rows, so one "batch" deleted every row that matched.
    statement = f"""
        DELETE FROM {table} WHERE {key} = ANY(ARRAY(
            SELECT {key} FROM {table} WHERE {where} LIMIT %s FOR UPDATE SKIP LOCKED
        ))
    """
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [*params, batch_size])
            deleted = cursor.rowcount
        total += deleted
        if on_batch is not None and deleted:
            on_batch(deleted)
        if deleted < batch_size:
            return total
        if pause:
            time.sleep(pause)
