"""Recall from long-term memory: filtered hybrid search, re-ranked by importance, recency and direction.

score = w_similarity * relevance + w_importance * importance + w_recency * recency + direction, where
relevance is the hybrid search's fused score scaled to 0..1 (Qdrant's reciprocal rank fusion of the
dense and the lexical nearest neighbours; the cosine similarity when hybrid is off), importance the
experience's importance_score (0.5 when unset), recency 0.5 ** (age / half-life), and direction
+w_match for each direction feature (RSI zone, trend, funding sign, breakout/breakdown) the hit
shares with the query and -w_opposite for each it has the other way round (services/situation.py).
The weights are settings (docs/memory.md); without direction and with cosine relevance this is the
retrieval score of Park et al., "Generative Agents" (2023), without its per-query min-max
normalisation so that scores stay comparable between queries. The MEMORY_RECALL_CANDIDATES best
candidates meeting the filters are re-ranked on the payload fields the score reads (RANKING_PAYLOAD);
only the hits kept are then read whole: their payload and, after a hybrid search (whose fused
ranking does not need it), their cosine similarity. Every hit carries its explanation.

A recall made for a decision (`decision_id`) or asked to be kept (`keep`) is recorded with its
hits (memory_recalls, memory_recall_hits), so the decision's page shows what it recalled and the
outcome can be fed back to those experiences (services/feedback.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.common.clock import to_ms
from apps.decisions.models import Decision

from ..models import Experience, MemoryRecall, MemoryRecallHit, Outcome
from . import long_term
from .embeddings import get_embedder
from .lexical import sparse_query
from .situation import features_by_dimension, features_compare, situation_features

MAX_LIMIT = 100
DEFAULT_IMPORTANCE = 0.5
MS_PER_DAY = 86_400_000
# What the ranking reads of each candidate's payload (hit_score, direction_adjustment): the search
# returns only these; the hits kept are read whole afterwards.
RANKING_PAYLOAD = ("importance_score", "timestamp", "features")


@dataclass(frozen=True)
class RankingWeights:
    similarity: float
    importance: float
    recency: float
    half_life_days: float
    direction_match: float = 0.0
    direction_opposite: float = 0.0

    @classmethod
    def from_settings(cls) -> RankingWeights:
        return cls(
            similarity=float(settings.MEMORY_WEIGHT_SIMILARITY),
            importance=float(settings.MEMORY_WEIGHT_IMPORTANCE),
            recency=float(settings.MEMORY_WEIGHT_RECENCY),
            half_life_days=float(settings.MEMORY_RECENCY_HALF_LIFE_DAYS),
            direction_match=float(settings.MEMORY_WEIGHT_DIRECTION_MATCH),
            direction_opposite=float(settings.MEMORY_WEIGHT_DIRECTION_OPPOSITE),
        )


@dataclass(frozen=True)
class MemoryHit:
    experience_id: str
    score: float
    similarity: float  # cosine similarity of the dense vectors
    importance: float
    recency: float
    payload: dict[str, Any]
    relevance: float | None = None  # what the score weighs: fused (hybrid) or the cosine
    fused: float | None = None  # Qdrant's fused score of a hybrid search, as it answered
    direction: dict[str, str] | None = None  # dimension -> "match" | "opposite"
    direction_adjustment: float = 0.0

    @property
    def components(self) -> dict[str, float]:
        return {"similarity": self.similarity, "importance": self.importance, "recency": self.recency}

    @property
    def explanation(self) -> dict[str, Any]:
        """Why the hit ranked where it did: every term of its score."""
        return {
            "relevance": self.similarity if self.relevance is None else self.relevance,
            "similarity": self.similarity,
            "fused": self.fused,
            "importance": self.importance,
            "recency": self.recency,
            "direction": dict(self.direction or {}),
            "direction_adjustment": self.direction_adjustment,
            "features": list(self.payload.get("features") or []),
        }


class RecallResult(list):
    """The hits, best first; `recall_id` is the kept recall's id (None when it was not kept)."""

    recall_id: int | None = None
    query_features: list[str]

    def __init__(self, hits=(), *, recall_id: int | None = None, query_features: Sequence[str] = ()):
        super().__init__(hits)
        self.recall_id = recall_id
        self.query_features = list(query_features)


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


def direction_adjustment(
    *, query_features: Sequence[str] | Mapping[str, str], payload: dict[str, Any], weights: RankingWeights
) -> tuple[dict[str, str], float]:
    """Per dimension shared with the query, "match" or "opposite", and the score they add together.
    `query_features` may be given by dimension (features_by_dimension), read once per recall."""
    compared = features_compare(query_features, payload.get("features") or [])
    matches = sum(1 for verdict in compared.values() if verdict == "match")
    opposites = len(compared) - matches
    return compared, weights.direction_match * matches - weights.direction_opposite * opposites


def fused_relevance(fused: float, fusion: str) -> float:
    """A fused score scaled to 0..1: reciprocal rank fusion gives at most 2 / k (first in both lists);
    distribution-based fusion adds two scores normalised to 0..1."""
    if fusion == "dbsf":
        return max(0.0, min(1.0, fused / 2))
    return max(0.0, min(1.0, fused * long_term.RRF_K / 2))


def _filter(
    *, outcome, symbol, tags, min_importance, since, until, include_superseded=False
) -> long_term.MemoryFilter:
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
        include_superseded=bool(include_superseded),
    )


def _decision(decision_id: Any) -> Decision | None:
    if decision_id is None:
        return None
    if isinstance(decision_id, Decision):
        return decision_id
    if not isinstance(decision_id, str) or not decision_id.strip():
        raise ValidationError({"decision_id": "The decision id must be a non-empty string."})
    decision = Decision.objects.filter(pk=decision_id).first()
    if decision is None:
        raise ValidationError({"decision_id": f"No decision with id {decision_id!r}."})
    return decision


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
    hybrid: bool | None = None,
    include_superseded: bool = False,
    context: dict[str, Any] | None = None,
    decision_id: str | Decision | None = None,
    keep: bool = False,
) -> RecallResult:
    """The experiences most worth remembering for `text` (or a ready `vector`), best first.

    Filters: outcome, symbol, tags (any of), minimum importance, a datetime range (inclusive);
    superseded experiences only with `include_superseded`. `hybrid` (default MEMORY_HYBRID) fuses
    the lexical match with the dense one; `context` (default: the decision's input context) adds
    direction features to those read from `text`. `now` anchors recency. With `decision_id` (or
    `keep`) the recall and its hits are recorded; the result's `recall_id` names the record.
    Raises ValidationError for bad input and long_term.LongTermMemoryError when the vector store fails.
    """
    if (text is None) == (vector is None):
        raise ValidationError({"text": "Give either a text or a vector to recall by (one of them)."})
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise ValidationError({"text": "The text must be a non-empty string."})
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError({"limit": f"The limit must be a whole number from 1 to {MAX_LIMIT}."})
    if context is not None and not isinstance(context, dict):
        raise ValidationError({"context": "The context must be a JSON object."})
    where = _filter(
        outcome=outcome,
        symbol=symbol,
        tags=tags,
        min_importance=min_importance,
        since=since,
        until=until,
        include_superseded=include_superseded,
    )
    decision = _decision(decision_id)
    if context is None and decision is not None and isinstance(decision.input_context, dict):
        context = decision.input_context
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
    hybrid = bool(settings.MEMORY_HYBRID) if hybrid is None else bool(hybrid)
    fusion = settings.MEMORY_HYBRID_FUSION
    sparse = sparse_query(text) if hybrid and text is not None else None
    query_features = situation_features(text or "", context)
    weights = weights or RankingWeights.from_settings()
    now_ms = to_ms(now or timezone.now())
    backend = long_term.collection_ready()
    candidates = backend.search(
        vector=query,
        where=where,
        limit=max(limit, int(settings.MEMORY_RECALL_CANDIDATES)),
        sparse=sparse,
        fusion=fusion,
        payload_fields=RANKING_PAYLOAD,
    )
    query_directions = features_by_dimension(query_features)
    ranked = []
    for candidate in candidates:
        relevance = (
            candidate.similarity if candidate.fused is None else fused_relevance(candidate.fused, fusion)
        )
        score, importance, fresh = hit_score(
            similarity=relevance, payload=candidate.payload, now_ms=now_ms, weights=weights
        )
        compared, adjustment = direction_adjustment(
            query_features=query_directions, payload=candidate.payload, weights=weights
        )
        ranked.append(
            _Ranked(
                candidate=candidate,
                score=score + adjustment,
                relevance=relevance,
                importance=importance,
                recency=fresh,
                direction=compared,
                direction_adjustment=adjustment,
            )
        )
    ranked.sort(key=lambda item: (-item.score, item.candidate.experience_id))
    hits = _hits(backend, ranked, limit=limit, vector=query)
    result = RecallResult(hits, query_features=query_features)
    if decision is not None or keep:
        result.recall_id = recall_record(
            hits=result,
            decision=decision,
            text=text or "",
            filters=_filters_record(where),
            embedder=embedder.name,
            hybrid=sparse is not None,
            query_features=query_features,
        )
    return result


@dataclass(frozen=True)
class _Ranked:
    """A candidate with the terms of its score, before it is kept (or not) as a hit."""

    candidate: long_term.ScoredPoint
    score: float
    relevance: float
    importance: float
    recency: float
    direction: dict[str, str]
    direction_adjustment: float


def _hits(
    backend: long_term.LongTermBackend, ranked: Sequence[_Ranked], *, limit: int, vector: Sequence[float]
) -> list[MemoryHit]:
    """The best `limit` candidates as hits, with their whole payload and, after a hybrid search,
    their cosine similarity, both read for these few points only. A point removed since the search
    is left out and the next candidate takes its place."""
    hits: list[MemoryHit] = []
    start = 0
    while len(hits) < limit and start < len(ranked):
        batch = ranked[start : start + limit - len(hits)]
        start += len(batch)
        cosine_needed = any(item.candidate.similarity is None for item in batch)
        points = backend.retrieve(
            experience_ids=[item.candidate.experience_id for item in batch],
            vector=vector if cosine_needed else None,
        )
        for item in batch:
            point = points.get(item.candidate.experience_id)
            if point is None:
                continue
            similarity = item.candidate.similarity
            hits.append(
                MemoryHit(
                    experience_id=item.candidate.experience_id,
                    score=item.score,
                    similarity=point.similarity if similarity is None else similarity,
                    importance=item.importance,
                    recency=item.recency,
                    payload=point.payload,
                    relevance=item.relevance,
                    fused=item.candidate.fused,
                    direction=item.direction,
                    direction_adjustment=item.direction_adjustment,
                )
            )
    return hits


def _filters_record(where: long_term.MemoryFilter) -> dict[str, Any]:
    return {
        name: value
        for name, value in (
            ("outcome", where.outcome),
            ("symbol", where.symbol),
            ("tags", list(where.tags) or None),
            ("min_importance", where.min_importance),
            ("since_ms", where.since_ms),
            ("until_ms", where.until_ms),
            ("include_superseded", where.include_superseded or None),
        )
        if value is not None
    }


@transaction.atomic
def recall_record(
    *,
    hits: Sequence[MemoryHit],
    decision: Decision | None,
    text: str,
    filters: dict[str, Any],
    embedder: str,
    hybrid: bool,
    query_features: Sequence[str],
) -> int:
    """Keep a recall and its hits (experiences since deleted from PostgreSQL are left out)."""
    recall = MemoryRecall.objects.create(
        decision=decision,
        query_text=text,
        filters=filters,
        embedder=embedder,
        hybrid=hybrid,
        query_features=list(query_features),
    )
    ids = [hit.experience_id for hit in hits]
    present = set(Experience.objects.filter(pk__in=ids).values_list("pk", flat=True))
    MemoryRecallHit.objects.bulk_create(
        [
            MemoryRecallHit(
                recall=recall,
                experience_id=hit.experience_id,
                rank=rank,
                score=_finite(hit.score),
                explanation=_finite_tree(hit.explanation),
            )
            for rank, hit in enumerate((h for h in hits if h.experience_id in present), start=1)
        ]
    )
    return recall.pk


@transaction.atomic
def recall_link(*, recall_id: int, decision_id: str) -> MemoryRecall:
    """Link a kept recall to the decision it was made for (after the decision was recorded)."""
    decision = _decision(decision_id)
    recall = MemoryRecall.objects.select_for_update().filter(pk=recall_id).first()
    if recall is None:
        raise ValidationError({"recall_id": f"No kept recall with id {recall_id!r}."})
    if recall.decision_id and recall.decision_id != decision.pk:
        raise ValidationError(
            {"decision_id": f"The recall {recall_id} already belongs to decision {recall.decision_id!r}."}
        )
    if recall.decision_id != decision.pk:
        recall.decision = decision
        recall.save(update_fields=["decision"])
    return recall


def _finite(value: float) -> float:
    return value if isinstance(value, float) and math.isfinite(value) else float(value or 0.0)


def _finite_tree(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else 0.0
    if isinstance(value, dict):
        return {key: _finite_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_tree(item) for item in value]
    return value
