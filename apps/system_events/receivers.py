"""Infrastructure the lower floors report on, recorded as system events."""

from __future__ import annotations

import logging

from django.db import transaction

from .models import Severity
from .services import system_event_record

logger = logging.getLogger("tradeoffice.system_events")

REDIS_OUTAGE_EVENT_TYPE = "redis_unavailable"


def record_redis_outage(*, operation: str, error: str, suppressed: int, **kwargs) -> None:
    """apps.common.redis.redis_unreachable: one warning event per outage window and process."""
    try:
        # A savepoint: a failure here must never break the caller's transaction.
        with transaction.atomic():
            system_event_record(
                event_type=REDIS_OUTAGE_EVENT_TYPE,
                severity=Severity.WARNING,
                message="Redis is unreachable: short-term memory reads are misses, writes are skipped, "
                "the rate limiter denies and sign-in limits count per process.",
                data={
                    "operation": operation,
                    "error": error[:500],
                    "suppressed_since_last_event": suppressed,
                },
            )
    except Exception:  # PostgreSQL may be down too; the warning logged by the reporter remains
        logger.exception("Could not record the Redis outage in system_events.")
