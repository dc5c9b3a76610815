"""Writes of system events: the one place a row of system_events is created, and the purge of old ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apps.common.clock import from_ms, now_ms
from apps.common.purge import DEFAULT_BATCH_SIZE, rows_delete_in_batches

from .models import Severity, SystemEvent


def system_event_record(
    *,
    event_type: str,
    severity: Severity | str,
    message: str,
    data: dict[str, Any] | None = None,
    details: str | None = None,
    related_order_id: str | None = None,
    related_symbol: str | None = None,
    event_id: str | None = None,
    timestamp: int | None = None,
) -> SystemEvent:
    """Record one system event. `severity` must be one of Severity's values."""
    timestamp = timestamp if timestamp is not None else now_ms()
    event = SystemEvent(
        id=event_id or f"evt_{uuid.uuid4().hex}",
        event_type=event_type,
        severity=Severity(severity),
        message=message,
        details=details,
        data=data,
        related_order_id=related_order_id,
        related_symbol=related_symbol,
        timestamp=timestamp,
        datetime=from_ms(timestamp),
    )
    event.save(force_insert=True)
    return event


def system_event_purge(
    *,
    older_than: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    pause: float = 0.0,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete the events dated before `older_than` in short batches; the number deleted (or due, dry run)."""
    return rows_delete_in_batches(
        table=SystemEvent._meta.db_table,
        key="id",
        where="datetime < %s",
        params=[older_than],
        batch_size=batch_size,
        dry_run=dry_run,
        pause=pause,
        on_batch=on_batch,
    )
