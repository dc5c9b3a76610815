"""The outbox: an experience write and its outbox row commit together; after commit Qdrant
follows; a failing Qdrant loses nothing and sync_memory converges; concurrent drains skip
each other's rows."""

import io
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from apps.memory.models import Experience, MemoryOutbox, OutboxStatus
from apps.memory.services import long_term
from apps.memory.services.consistency import memory_check
from apps.memory.services.experiences import experience_create, experience_delete, experience_update
from apps.memory.services.outbox import outbox_drain, outbox_prune
from tests.factories import ExperienceFactory

pytestmark = pytest.mark.django_db


def new_experience(experience_id: str, **fields) -> Experience:
    values = {
        "id": experience_id,
        "situation": "BTC at 45000, RSI oversold on the 1h",
        "decision": "Enter long position",
        "decision_reasoning": "Oversold bounces have worked in this range.",
        "outcome": "success",
        "situation_tags": ["btc", "oversold"],
        "symbol": "BTC/USDT",
    }
    return experience_create(**{**values, **fields})


def qdrant_points(backend) -> dict:
    return {point.experience_id: point.payload for point in backend.scroll()}


@pytest.fixture
def qdrant_down(backend, monkeypatch):
    """Qdrant refusing every write, raised where qdrant-client would raise it."""

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(backend._client, "upsert", refuse)
    monkeypatch.setattr(backend._client, "delete", refuse)
    return monkeypatch


def test_a_write_and_its_outbox_row_commit_or_roll_back_together(backend):
    with pytest.raises(RuntimeError), transaction.atomic():
        new_experience("exp_rolled_back")
        assert MemoryOutbox.objects.filter(experience_id="exp_rolled_back").exists()
        raise RuntimeError("the caller's transaction fails later")

    assert not Experience.objects.filter(pk="exp_rolled_back").exists()
    assert not MemoryOutbox.objects.exists()


def test_nothing_is_pushed_before_commit(backend, on_commit):
    with on_commit():
        new_experience("exp_1")
        assert qdrant_points(backend) == {}

    assert set(qdrant_points(backend)) == {"exp_1"}
    row = MemoryOutbox.objects.get()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.DONE, 1, None)
    assert row.processed_at is not None


def test_update_and_delete_follow_after_commit(backend, on_commit):
    with on_commit():
        experience = new_experience("exp_1")
    with on_commit():
        experience_update(experience=experience, situation="BTC at 46000, RSI overbought")
    assert qdrant_points(backend)["exp_1"]["situation"] == "BTC at 46000, RSI overbought"

    with on_commit():
        experience_delete(experience=experience)
    assert qdrant_points(backend) == {}
    assert MemoryOutbox.objects.filter(status=OutboxStatus.PENDING).count() == 0


def test_qdrant_failing_loses_nothing_and_sync_memory_converges(backend, qdrant_down, on_commit):
    with on_commit():
        experience = new_experience("exp_1")
    with on_commit():
        experience = experience_update(experience=experience, importance_score="0.9")
    with on_commit():
        new_experience("exp_2")

    assert Experience.objects.count() == 2  # the writes themselves succeeded
    pending = list(MemoryOutbox.objects.filter(status=OutboxStatus.PENDING))
    assert len(pending) == 3
    assert all(row.attempts == 1 and "Connection refused" in row.last_error for row in pending)
    assert qdrant_points(backend) == {}

    qdrant_down.undo()  # Qdrant is back
    out = io.StringIO()
    call_command("sync_memory", stdout=out)

    assert "Pushed 3 outbox rows, 0 failed, 0 still pending" in out.getvalue()
    points = qdrant_points(backend)
    assert set(points) == {"exp_1", "exp_2"}
    assert points["exp_1"]["importance_score"] == 0.9
    assert not memory_check().has_drift


def test_sync_memory_exits_non_zero_while_qdrant_fails_and_keeps_the_rows(backend, qdrant_down, on_commit):
    with on_commit():
        new_experience("exp_1")

    with pytest.raises(CommandError) as error:
        call_command("sync_memory", stdout=io.StringIO())

    assert "1 failed" in str(error.value)
    assert "Connection refused" in str(error.value)
    row = MemoryOutbox.objects.get()
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 2)


def test_sync_memory_dry_run_only_counts(backend, qdrant_down, on_commit):
    with on_commit():
        new_experience("exp_1")
        new_experience("exp_2")
    qdrant_down.undo()

    out = io.StringIO()
    call_command("sync_memory", "--dry-run", stdout=out)

    assert "2 outbox rows pending" in out.getvalue()
    assert MemoryOutbox.objects.filter(status=OutboxStatus.PENDING).count() == 2
    assert qdrant_points(backend) == {}


def test_a_push_writes_the_current_row_whatever_the_order_of_the_outbox(backend):
    kept = ExperienceFactory(id="exp_kept", situation="current situation")
    # Rows written out of order: a delete for a row that exists, an upsert for one that is gone.
    MemoryOutbox.objects.create(experience_id="exp_kept", operation="delete")
    MemoryOutbox.objects.create(experience_id="exp_gone", operation="upsert")
    backend.upsert(
        [long_term.MemoryPoint(experience_id="exp_gone", vector=[1.0] * 64, payload={"id": "exp_gone"})]
    )

    report = outbox_drain()

    assert (report.pushed, report.failed, report.remaining) == (2, 0, 0)
    assert qdrant_points(backend) == {"exp_kept": long_term.experience_payload(kept)}


def test_one_failing_experience_does_not_hold_back_the_others(backend, monkeypatch):
    ExperienceFactory.create_batch(3)
    bad = ExperienceFactory(id="exp_bad")
    for experience in Experience.objects.all():
        MemoryOutbox.objects.create(experience_id=experience.id, operation="upsert")
    upsert = backend._client.upsert

    def refuse_bad(collection_name, points, **kwargs):
        if any(point.payload["id"] == "exp_bad" for point in points):
            raise ValueError("payload rejected")
        return upsert(collection_name, points=points, **kwargs)

    monkeypatch.setattr(backend._client, "upsert", refuse_bad)
    report = outbox_drain()

    assert (report.pushed, report.failed) == (3, 1)
    assert bad.id not in qdrant_points(backend)
    assert len(qdrant_points(backend)) == 3
    row = MemoryOutbox.objects.get(experience_id="exp_bad")
    assert row.status == OutboxStatus.PENDING
    assert "payload rejected" in row.last_error


def test_rows_done_longer_ago_than_the_retention_are_deleted(backend, settings):
    settings.MEMORY_OUTBOX_RETENTION_DAYS = 7
    old = MemoryOutbox.objects.create(
        experience_id="a", operation="upsert", status="done", processed_at=timezone.now() - timedelta(days=8)
    )
    recent = MemoryOutbox.objects.create(
        experience_id="b", operation="upsert", status="done", processed_at=timezone.now() - timedelta(days=1)
    )

    report = outbox_drain()

    assert report.pruned == 1
    assert not MemoryOutbox.objects.filter(pk=old.pk).exists()
    assert MemoryOutbox.objects.filter(pk=recent.pk).exists()


def test_the_prune_goes_in_batches_and_never_touches_pending_rows():
    long_ago = timezone.now() - timedelta(days=30)
    for index in range(7):
        MemoryOutbox.objects.create(
            experience_id=f"done_{index}", operation="upsert", status="done", processed_at=long_ago
        )
    stuck = MemoryOutbox.objects.create(experience_id="stuck", operation="delete")
    MemoryOutbox.objects.filter(pk=stuck.pk).update(created_at=long_ago)
    batches: list[int] = []

    assert outbox_prune(older_than_days=7, dry_run=True) == 7
    assert MemoryOutbox.objects.count() == 8
    assert outbox_prune(older_than_days=7, batch_size=3, on_batch=batches.append) == 7

    assert batches == [3, 3, 1]
    assert list(MemoryOutbox.objects.values_list("experience_id", flat=True)) == ["stuck"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_skip_the_rows_another_holds(backend):
    experiences = ExperienceFactory.create_batch(6)
    rows = [MemoryOutbox.objects.create(experience_id=e.id, operation="upsert") for e in experiences]
    held_ids = [rows[0].id, rows[1].id]
    locked, release = threading.Event(), threading.Event()

    def other_drain():
        try:
            with transaction.atomic():
                list(MemoryOutbox.objects.select_for_update().filter(id__in=held_ids))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_drain)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        report = outbox_drain()
        assert time.monotonic() - started < 5  # skipped, not waited for
    finally:
        release.set()
        thread.join()

    assert report.pushed == 4
    assert set(MemoryOutbox.objects.filter(status="pending").values_list("id", flat=True)) == set(held_ids)
    assert outbox_drain().pushed == 2
    assert len(qdrant_points(backend)) == 6
