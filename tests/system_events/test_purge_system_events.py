"""purge_system_events: old events go, in batches; everything else (the memory outbox included) stays."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.common.clock import to_ms
from apps.memory.models import MemoryOutbox, OutboxOperation, OutboxStatus
from apps.system_events.models import SystemEvent
from tests.factories import SystemEventFactory
from tests.operations.locks import other_session_holding_lock

pytestmark = pytest.mark.django_db


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_system_events", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def history():
    now = timezone.now()
    for days in [100] * 12 + [40, 20, 1]:
        moment = now - timedelta(days=days)
        SystemEventFactory(datetime=moment, timestamp=to_ms(moment))
    for status, days in [(OutboxStatus.DONE, 90), (OutboxStatus.DONE, 2), (OutboxStatus.PENDING, None)]:
        MemoryOutbox.objects.create(
            experience_id=f"exp_{status}_{days}",
            operation=OutboxOperation.UPSERT,
            status=status,
            processed_at=now - timedelta(days=days) if days else None,
        )
    # a pending row created long ago is still pending: never purged
    old_pending = MemoryOutbox.objects.create(experience_id="exp_stuck", operation=OutboxOperation.DELETE)
    MemoryOutbox.objects.filter(pk=old_pending.pk).update(created_at=now - timedelta(days=365))


def test_deletes_only_what_is_older_in_batches(history):
    output = purge("--older-than", "30", "--batch-size", "5", "-v", "2")
    assert SystemEvent.objects.count() == 2  # the 20- and 1-day-old events
    assert "deleted 13 system events." in output
    assert output.count("system events: 5 deleted") == 2 and "system events: 3 deleted" in output


def test_the_memory_outbox_is_not_this_commands_to_purge(history):
    """The outbox has one owner, the memory service (sync_memory prunes it after its retention)."""
    purge("--older-than", "30")
    assert MemoryOutbox.objects.count() == 4


def test_rerun_finds_nothing_more(history):
    purge("--older-than", "30")
    assert "deleted 0 system events." in purge("--older-than", "30")


def test_dry_run_counts_and_deletes_nothing(history):
    output = purge("--older-than", "30", "--dry-run")
    assert "would delete 13 system events." in output
    assert SystemEvent.objects.count() == 15 and MemoryOutbox.objects.count() == 4


@pytest.mark.parametrize("days", ["0", "-3", "ten"])
def test_bad_days_are_refused(history, days):
    with pytest.raises(CommandError):
        purge("--older-than", days)
    assert SystemEvent.objects.count() == 15


def test_a_second_run_refuses_while_one_holds_the_lock(history):
    with other_session_holding_lock("purge_system_events"), pytest.raises(CommandError, match="Another"):
        purge("--older-than", "30")
    assert SystemEvent.objects.count() == 15
