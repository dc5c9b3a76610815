"""Health of the memory stores, in one shape for the API, the admin and init_databases."""

from __future__ import annotations

from apps.common.health import HealthStatus

from .long_term import long_term_health
from .short_term import short_term_health


def memory_health() -> dict[str, HealthStatus]:
    """Both stores' health; never raises."""
    return {"redis": short_term_health(), "qdrant": long_term_health()}
