"""The outbox that keeps Qdrant following PostgreSQL.

Every experience write adds a `memory_outbox` row in its own transaction; after commit
the change is pushed to Qdrant. A push makes the point match the experience's *current*
row (or removes it when the row is gone), so pushing twice, late or out of order is
harmless. A failed push leaves the row pending with `attempts` and `last_error`;
`sync_memory` drains pending rows with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent
runs share the work instead of repeating it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.common.purge import DEFAULT_BATCH_SIZE, rows_delete_in_batches

from ..models import Experience, MemoryOutbox, OutboxOperation, OutboxStatus
from . import long_term

logger = logging.getLogger("tradeoffice.memory.outbox")

ERROR_MAX_LENGTH = 2000


def outbox_enqueue(*, experience_ids: Sequence[str], operation: OutboxOperation | str) -> list[MemoryOutbox]:
    """Add outbox rows for changed experiences and push them after the transaction commits.

    Call inside the transaction that changes the experiences (the experience services do).
    """
    operation = OutboxOperation(operation)
    rows = MemoryOutbox.objects.bulk_create(
        [MemoryOutbox(experience_id=experience_id, operation=operation) for experience_id in experience_ids]
    )
    if rows:
        transaction.on_commit(partial(outbox_push, outbox_ids=[row.id for row in rows]), robust=True)
    return rows


@dataclass
class PushResult:
    pushed: list[int] = field(default_factory=list)  # outbox ids now done
    failed: dict[int, str] = field(default_factory=dict)  # outbox id -> error

    def merge(self, other: PushResult) -> None:
        self.pushed += other.pushed
        self.failed.update(other.failed)


def experiences_sync(experience_ids: Sequence[str]) -> None:
    """Make Qdrant match PostgreSQL for these ids: upsert those that exist, remove the rest.

    The experience rows are locked while their points are written, so a concurrent update
    waits and its own push lands after this one (never overwritten by an older state).
    """
    ids = list(dict.fromkeys(experience_ids))
    with transaction.atomic():
        # Locked in id order, so two pushes sharing experiences cannot deadlock.
        locked = (
            Experience.objects.select_for_update(of=("self",))
            .select_related("decision_ref")
            .filter(id__in=ids)
            .order_by("pk")
        )
        present = {e.id: e for e in locked}
        long_term.experiences_upsert(present[i] for i in ids if i in present)
        long_term.experiences_remove([i for i in ids if i not in present])


def _push_rows(rows: Sequence[MemoryOutbox]) -> PushResult:
    """Push locked outbox rows; mark them done, or count the attempt and keep the error."""
    result = PushResult()
    by_experience: dict[str, list[int]] = {}
    for row in rows:
        by_experience.setdefault(row.experience_id, []).append(row.id)
    try:
        experiences_sync(list(by_experience))
        result.pushed = [row.id for row in rows]
    except Exception as exc:  # noqa: BLE001 - recorded on the rows, retried by sync_memory
        if len(by_experience) == 1:
            message = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_LENGTH]
            result.failed = {row.id: message for row in rows}
        else:
            # Find the experience(s) at fault so the rest still goes through.
            for experience_id, outbox_ids in by_experience.items():
                try:
                    experiences_sync([experience_id])
                    result.pushed += outbox_ids
                except Exception as single_exc:  # noqa: BLE001 - as above
                    message = f"{type(single_exc).__name__}: {single_exc}"[:ERROR_MAX_LENGTH]
                    result.failed.update(dict.fromkeys(outbox_ids, message))
    now = timezone.now()
    if result.pushed:
        MemoryOutbox.objects.filter(id__in=result.pushed).update(
            status=OutboxStatus.DONE, processed_at=now, attempts=F("attempts") + 1, last_error=None
        )
    for message in set(result.failed.values()):
        ids = [outbox_id for outbox_id, error in result.failed.items() if error == message]
        MemoryOutbox.objects.filter(id__in=ids).update(attempts=F("attempts") + 1, last_error=message)
    return result


def outbox_push(*, outbox_ids: Sequence[int]) -> PushResult:
    """Push these outbox rows now (the after-commit hook). Never raises: a failure stays on the
    rows for sync_memory. Rows another process holds are left to it."""
    try:
        with transaction.atomic():
            rows = list(
                MemoryOutbox.objects.select_for_update(skip_locked=True)
                .filter(id__in=outbox_ids, status=OutboxStatus.PENDING)
                .order_by("id")
            )
            result = _push_rows(rows) if rows else PushResult()
    except Exception:  # after commit nothing may fail the caller
        logger.exception(
            "Pushing memory outbox rows %s failed; sync_memory will retry them.", list(outbox_ids)
        )
        return PushResult()
    if result.failed:
        logger.warning(
            "Long-term memory push failed for %d outbox row(s); they stay pending for sync_memory: %s",
            len(result.failed),
            next(iter(result.failed.values())),
        )
    return result


@dataclass
class DrainReport:
    pushed: int = 0
    failed: int = 0
    pruned: int = 0
    remaining: int = 0  # pending after the run
    errors: dict[int, str] = field(default_factory=dict)  # a sample: outbox id -> error


def outbox_pending_count() -> int:
    return MemoryOutbox.objects.filter(status=OutboxStatus.PENDING).count()


def _pending_batches(batch_size: int) -> Iterator[list[MemoryOutbox]]:
    """Batches of pending rows locked for this run, each in its own transaction, oldest first.

    Walks forward by id, so a row that fails is tried once per run (not in a loop) and rows
    locked by a concurrent run are skipped, not waited for.
    """
    after = 0
    while True:
        with transaction.atomic():
            rows = list(
                MemoryOutbox.objects.select_for_update(skip_locked=True)
                .filter(status=OutboxStatus.PENDING, id__gt=after)
                .order_by("id")[:batch_size]
            )
            if not rows:
                return
            after = rows[-1].id
            yield rows


def outbox_drain(
    *,
    batch_size: int | None = None,
    dry_run: bool = False,
    progress: Callable[[Iterable, int, str], Iterable] | None = None,
) -> DrainReport:
    """Push every pending row once, in batches; then delete rows done longer than the retention.

    `dry_run` only counts. `progress(iterable, total, description)` wraps the batch loop.
    """
    batch_size = batch_size or settings.MEMORY_OUTBOX_BATCH_SIZE
    report = DrainReport()
    pending = outbox_pending_count()
    if dry_run:
        report.remaining = pending
        return report
    batches: Iterable[list[MemoryOutbox]] = _pending_batches(batch_size)
    if progress is not None:
        batches = progress(batches, -(-pending // batch_size), "outbox batches")
    for rows in batches:
        result = _push_rows(rows)
        report.pushed += len(result.pushed)
        report.failed += len(result.failed)
        for outbox_id, error in result.failed.items():
            if len(report.errors) < 10:
                report.errors[outbox_id] = error
    report.pruned = outbox_prune(older_than_days=settings.MEMORY_OUTBOX_RETENTION_DAYS)
    report.remaining = outbox_pending_count()
    return report


def outbox_prune(
    *,
    older_than_days: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete rows pushed (status done) more than `older_than_days` ago, in short batches that never
    hold a long lock; pending rows are never touched. The number deleted (or due, with `dry_run`)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return rows_delete_in_batches(
        table=MemoryOutbox._meta.db_table,
        key="id",
        where="status = %s AND processed_at < %s",
        params=[OutboxStatus.DONE, cutoff],
        batch_size=batch_size,
        dry_run=dry_run,
        on_batch=on_batch,
    )
