"""The memory service: the one way the API, the admin and the commands reach experiences,
Redis (short_term) and Qdrant (long_term).

Experience writes and recall are re-exported here; short-term memory is used as a module:
`from apps.memory.services import short_term; short_term.market_context_get(symbol=...)`.
"""

from apps.common.health import HealthStatus

from . import short_term
from .errors import EmbedderMismatchError, EmbeddingError, LongTermMemoryError
from .experiences import (
    UNSET,
    experience_annotate,
    experience_bulk_create,
    experience_create,
    experience_delete,
    experience_update,
)
from .health import memory_health
from .long_term import long_term_health
from .recall import MemoryHit, RankingWeights, memory_recall
from .short_term import RateLimitDecision, ratelimit_hit, short_term_health

__all__ = [
    "UNSET",
    "EmbedderMismatchError",
    "EmbeddingError",
    "HealthStatus",
    "LongTermMemoryError",
    "MemoryHit",
    "RankingWeights",
    "RateLimitDecision",
    "experience_annotate",
    "experience_bulk_create",
    "experience_create",
    "experience_delete",
    "experience_update",
    "long_term_health",
    "memory_health",
    "memory_recall",
    "ratelimit_hit",
    "short_term",
    "short_term_health",
]
