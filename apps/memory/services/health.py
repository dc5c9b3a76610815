"""Health of the memory stores, in one shape for the API, the admin and init_databases."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class HealthStatus:
    store: str  # "redis" or "qdrant"
    ok: bool
    detail: str
    latency_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def memory_health() -> dict[str, HealthStatus]:
    """Both stores' health; never raises."""
    from .long_term import long_term_health
    from .short_term import short_term_health

    return {"redis": short_term_health(), "qdrant": long_term_health()}
