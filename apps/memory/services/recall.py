"""Recall from long-term memory: filtered similarity search, re-ranked by importance and recency.

score = w_similarity * similarity + w_importance * importance + w_recency * recency, where
similarity is the cosine similarity to the query, importance the experience's
importance_score (0.5 when unset) and recency 0.5 ** (age / half-life). The weights and the
half-life are settings (docs/memory.md); this is the retrieval score of Park et al.,
"Generative Agents" (2023), without its per-query min-max normalisation so that scores stay
comparable between queries. The MEMORY_RECALL_CANDIDATES nearest neighbours meeting the
filters are re-ranked; every hit carries its components.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.common.clock import to_ms

from ..models import Outcome
from . import long_term
from .embeddings import get_embedder

MAX_LIMIT = 100
DEFAULT_IMPORTANCE = 0.5
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class RankingWeights:
    similarity: float
    importance: float
    recency: float
    half_life_days: float

    @classmethod
    def from_settings(cls) -> RankingWeights:
        return cls(
            similarity=float(settings.MEMORY_WEIGHT_SIMILARITY),
            importance=float(settings.MEMORY_WEIGHT_IMPORTANCE),
            recency=float(settings.MEMORY_WEIGHT_RECENCY),
            half_life_days=float(settings.MEMORY_RECENCY_HALF_LIFE_DAYS),
        )


@dataclass(frozen=True)
class MemoryHit:
    experience_id: str
    score: float
    similarity: float
    importance: float
    recency: float
    payload: dict[str, Any]

    @property
    def components(self) -> dict[str, float]:
        return {"similarity": self.similarity, "importance": self.importance, "recency": self.recency}


def recency(*, timestamp_ms: int | None, now_ms: int, half_life_days: float) -> float:
    """1 for now (or the future), 0.5 one half-life ago, halving again each half-life."""
    if timestamp_ms is None or half_life_days <= 0:
        return 0.0
    age_days = max(0, now_ms - timestamp_ms) / MS_PER_DAY
    return math.pow(0.5, age_days / half_life_days)


def hit_score(
    *, similarity: float, payload: dict[str, Any], now_ms: int, weights: RankingWeights
) -> tuple[float, float, float]:
    """(score, importance, recency) of one candidate."""
    importance = payload.get("importance_score")
    importance = DEFAULT_IMPORTANCE if importance is None else float(importance)
    fresh = recency(
        timestamp_ms=payload.get("timestamp"), now_ms=now_ms, half_life_days=weights.half_life_days
    )
    score = weights.similarity * similarity + weights.importance * importance + weights.recency * fresh
    return score, importance, fresh


def _filter(*, outcome, symbol, tags, min_importance, since, until) -> long_term.MemoryFilter:
    errors: dict[str, str] = {}
    if outcome is not None and outcome not in Outcome.values:
        errors["outcome"] = f"The outcome must be one of: {', '.join(Outcome.values)}."
    if symbol is not None and (not isinstance(symbol, str) or not symbol.strip()):
        errors["symbol"] = "The symbol must be a non-empty string."
    if tags is not None and (
        isinstance(tags, str)
        or not isinstance(tags, list | tuple | set | frozenset)
        or not all(isinstance(tag, str) and tag.strip() for tag in tags)
    ):
        errors["tags"] = "The tags must be a list of non-empty strings."
    importance = None
    if min_importance is not None:
        try:
            importance = float(Decimal(str(min_importance)))
        except (ArithmeticError, ValueError):
            importance = None
        if isinstance(min_importance, bool) or importance is None or not 0 <= importance <= 1:
            errors["min_importance"] = "The minimum importance must be a number between 0 and 1."
    for name, value in (("since", since), ("until", until)):
        if value is not None and (not isinstance(value, dt.datetime) or timezone.is_naive(value)):
            errors[name] = f"{name!r} must be a timezone-aware datetime."
    if not errors and since is not None and until is not None and since > until:
        errors["since"] = "'since' must not be after 'until'."
    if errors:
        raise ValidationError(errors)
    return long_term.MemoryFilter(
        outcome=outcome,
        min_importance=importance,
        symbol=symbol.strip() if symbol else None,
        tags=tuple(dict.fromkeys(tag.strip() for tag in tags)) if tags else (),
        since_ms=to_ms(since) if since else None,
        until_ms=to_ms(until) if until else None,
    )


def memory_recall(
    *,
    text: str | None = None,
    vector: Sequence[float] | None = None,
    outcome: Outcome | str | None = None,
    symbol: str | None = None,
    tags: Sequence[str] | None = None,
    min_importance: float | Decimal | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 10,
    now: dt.datetime | None = None,
    weights: RankingWeights | None = None,
) -> list[MemoryHit]:
    """The experiences most worth remembering for `text` (or a ready `vector`), best first.

    Filters: outcome, symbol, tags (any of), minimum importance, and a datetime range
    (inclusive). `now` anchors recency (default: the current time). Raises ValidationError
    for bad input and long_term.LongTermMemoryError when the vector store fails.
    """
    if (text is None) == (vector is None):
        raise ValidationError({"text": "Give either a text or a vector to recall by (one of them)."})
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise ValidationError({"text": "The text must be a non-empty string."})
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError({"limit": f"The limit must be a whole number from 1 to {MAX_LIMIT}."})
    where = _filter(
        outcome=outcome, symbol=symbol, tags=tags, min_importance=min_importance, since=since, until=until
    )
    embedder = get_embedder()
    if vector is None:
        query = embedder.embed_one(text)
    else:
        query = [float(x) for x in vector]
        if len(query) != embedder.dimension:
            raise ValidationError(
                {
                    "vector": f"The vector has {len(query)} dimensions; the embedder {embedder.name} uses "
                    f"{embedder.dimension}."
                }
            )
    weights = weights or RankingWeights.from_settings()
    now_ms = to_ms(now or timezone.now())
    backend = long_term.collection_ready()
    candidates = backend.search(
        vector=query, where=where, limit=max(limit, int(settings.MEMORY_RECALL_CANDIDATES))
    )
    hits = []
    for candidate in candidates:
        score, importance, fresh = hit_score(
            similarity=candidate.similarity, payload=candidate.payload, now_ms=now_ms, weights=weights
        )
        hits.append(
            MemoryHit(
                experience_id=candidate.experience_id,
                score=score,
                similarity=candidate.similarity,
                importance=importance,
                recency=fresh,
                payload=candidate.payload,
            )
        )
    hits.sort(key=lambda hit: (-hit.score, hit.experience_id))
    return hits[:limit]
