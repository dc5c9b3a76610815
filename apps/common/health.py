"""One shape for a store's health (PostgreSQL, Redis, Qdrant), for the API, the admin and the commands."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class HealthStatus:
    store: str  # "postgresql", "redis" or "qdrant"
    ok: bool
    detail: str
    latency_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
