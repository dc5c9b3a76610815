"""Comparing long-term memory with PostgreSQL, and rebuilding it from PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction

from ..models import Experience, OutboxOperation
from . import long_term
from .embeddings import get_embedder
from .outbox import experiences_sync, outbox_drain, outbox_enqueue, outbox_pending_count

SAMPLE = 10

Progress = Callable[[Iterable, int, str], Iterable]


def _ids_in_batches(batch_size: int) -> Iterator[list[str]]:
    """Every experience id, in id order, a page at a time (keyset: no OFFSET scans)."""
    after = ""
    while True:
        page = list(
            Experience.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not page:
            return
        yield page
        after = page[-1]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class DriftReport:
    collection: str
    postgres_count: int = 0
    qdrant_count: int = 0
    missing: list[str] = field(default_factory=list)  # in PostgreSQL, not in Qdrant
    orphaned: list[str] = field(default_factory=list)  # in Qdrant, not in PostgreSQL
    stale: list[str] = field(default_factory=list)  # payload differs from PostgreSQL's row
    pending_outbox: int = 0
    problem: str | None = None  # the collection itself is missing or built by another embedder

    @property
    def has_drift(self) -> bool:
        return bool(self.missing or self.orphaned or self.stale or self.problem)

    def summary(self) -> str:
        if self.problem:
            return self.problem
        parts = [
            f"{self.postgres_count} experiences in PostgreSQL",
            f"{self.qdrant_count} points in {self.collection!r}",
            f"{len(self.missing)} missing from Qdrant",
            f"{len(self.orphaned)} only in Qdrant",
            f"{len(self.stale)} stale",
            f"{self.pending_outbox} outbox rows pending",
        ]
        return "; ".join(parts)

    def samples(self) -> dict[str, list[str]]:
        return {
            "missing": self.missing[:SAMPLE],
            "orphaned": self.orphaned[:SAMPLE],
            "stale": self.stale[:SAMPLE],
        }


def memory_check(*, batch_size: int = 500, progress: Progress | None = None) -> DriftReport:
    """Compare every experience with its point: ids on one side only, and payloads that differ."""
    backend = long_term.get_backend()
    report = DriftReport(collection=backend.collection, pending_outbox=outbox_pending_count())
    state = backend.describe()
    if not state.exists:
        report.postgres_count = Experience.objects.count()
        report.problem = (
            f"The Qdrant collection {state.name!r} does not exist; run: python manage.py init_databases, "
            f"then {long_term.RECREATE_HINT}"
        )
        return report
    try:
        long_term.collection_ensure(create=False)
    except long_term.EmbedderMismatchError as exc:
        report.problem = str(exc)
        return report

    # Qdrant's side first, payloads only: id -> payload.
    points: Iterable = backend.scroll(batch_size=batch_size)
    if progress is not None:
        points = progress(points, state.points_count or 0, "Qdrant points")
    in_qdrant = {point.experience_id: point.payload for point in points}
    report.qdrant_count = len(in_qdrant)

    seen: set[str] = set()
    pages: Iterable = _ids_in_batches(batch_size)
    if progress is not None:
        total = Experience.objects.count()
        pages = progress(pages, -(-total // batch_size), "PostgreSQL batches")
    for page in pages:
        superseded = long_term.superseding(page)
        rows = Experience.objects.filter(pk__in=page).select_related("decision_ref").order_by("pk")
        for experience in rows:
            seen.add(experience.id)
            payload = in_qdrant.get(experience.id)
            if payload is None:
                report.missing.append(experience.id)
            elif payload != long_term.experience_payload(
                experience, superseded_by=superseded.get(experience.id)
            ):
                report.stale.append(experience.id)
    report.postgres_count = len(seen)
    report.orphaned = sorted(set(in_qdrant) - seen)
    return report


def memory_repair(*, report: DriftReport) -> int:
    """Queue outbox rows for every drifted id and push them now; the number queued.

    Rows that still fail stay pending (sync_memory retries them), like any outbox row.
    """
    upserts = report.missing + report.stale
    with transaction.atomic():
        if upserts:
            outbox_enqueue(experience_ids=upserts, operation=OutboxOperation.UPSERT)
        if report.orphaned:
            outbox_enqueue(experience_ids=report.orphaned, operation=OutboxOperation.DELETE)
    # Usually pushed already on commit; draining also covers a caller's enclosing transaction.
    outbox_drain()
    return len(upserts) + len(report.orphaned)


@dataclass
class ReindexReport:
    collection: str
    recreated: bool = False
    upserted: int = 0
    removed: int = 0
    embedder: str = ""
    dimension: int = 0
    stale_collection: str | None = None  # why an existing collection was rebuilt without --recreate


def memory_reindex(
    *,
    recreate: bool = False,
    batch_size: int = 100,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReindexReport:
    """Rebuild the collection from PostgreSQL in batches: upsert every experience, then remove
    points whose experience no longer exists. `recreate` first drops the collection and creates
    it for the configured embedder (the fix for an embedder or dimension change)."""
    embedder = get_embedder()
    backend = long_term.get_backend()
    report = ReindexReport(
        collection=backend.collection, embedder=embedder.name, dimension=embedder.dimension
    )
    total = Experience.objects.count()
    if dry_run:
        report.upserted = total
        report.recreated = recreate
        if not recreate:
            try:
                long_term.collection_ensure(create=False)
            except long_term.EmbedderMismatchError as exc:
                report.stale_collection = str(exc)
                report.recreated = True
        return report
    if not recreate:
        try:
            long_term.collection_ensure()
        except long_term.EmbedderMismatchError as exc:
            # Built by another embedder or in another layout: its vectors cannot be compared with the
            # configured embedder's, so the rebuild starts from an empty collection.
            report.stale_collection = str(exc)
            recreate = True
    if recreate:
        long_term.collection_recreate()
        report.recreated = True

    pages: Iterable = _ids_in_batches(batch_size)
    if progress is not None:
        pages = progress(pages, -(-total // batch_size), "experience batches")
    for page in pages:
        experiences_sync(page)  # locks the page's rows while their points are written
        report.upserted += len(page)

    if not recreate:
        known: set[str] = set()
        for page in _ids_in_batches(5000):
            known.update(page)
        orphans = [
            point.experience_id
            for point in backend.scroll(batch_size=500)
            if point.experience_id not in known
        ]
        for chunk in _chunks(orphans, batch_size):
            # Re-checked under lock: an experience created meanwhile keeps its point.
            experiences_sync(chunk)
        report.removed = len(orphans)
    return report
