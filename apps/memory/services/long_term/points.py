"""Experiences as points: the seed's payload (with the situation's direction features and whether it is
superseded), the text they are found by, its dense and sparse vectors, batch upserts and removals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from decimal import Decimal
from typing import Any

from ...models import ExperienceLink, LinkKind
from ..embeddings import get_embedder
from ..lexical import sparse_document
from ..situation import situation_features
from . import collection
from .interface import MemoryPoint


def _decimal_text(value: Decimal | None, places: int) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places)))


def superseding(experience_ids: Iterable[str]) -> dict[str, str]:
    """experience id -> the id of the experience superseding it, for those superseded."""
    ids = list(experience_ids)
    if not ids:
        return {}
    return dict(
        ExperienceLink.objects.filter(kind=LinkKind.SUPERSEDES, target_id__in=ids).values_list(
            "target_id", "source_id"
        )
    )


def _decision_context(experience) -> Any:
    if not experience.decision_ref_id:
        return None
    return experience.decision_ref.input_context


def experience_payload(experience, *, superseded_by: str | None = None) -> dict[str, Any]:
    """The seed's payload for one experience. Money stays exact: pnl and pnl_percentage are
    decimal strings (as stored); importance_score is a float so it can be range-filtered.
    Beyond the seed: `features` (the situation's directions, services/situation.py) and
    `superseded_by` (the id of the experience that supersedes it, or null)."""
    moment = experience.datetime.astimezone(UTC)
    importance = experience.importance_score
    return {
        "id": experience.id,
        "situation": experience.situation,
        "decision": experience.decision,
        "decision_reasoning": experience.decision_reasoning,
        "outcome": experience.outcome,
        "pnl": _decimal_text(experience.pnl, 8),
        "pnl_percentage": _decimal_text(experience.pnl_percentage, 4),
        "reflection": experience.reflection,
        "lessons_learned": list(experience.lessons_learned or []),
        "tags": list(experience.situation_tags or []),
        "importance_score": float(importance) if importance is not None else None,
        "symbol": experience.symbol,
        "timestamp": int(experience.timestamp),
        "datetime": moment.isoformat().replace("+00:00", "Z"),
        "features": situation_features(experience.situation, _decision_context(experience)),
        "superseded_by": superseded_by,
    }


def experience_embedding_text(experience) -> str:
    """What an experience is found by: its situation, with its tags."""
    tags = " ".join(experience.situation_tags or [])
    return f"{experience.situation}\n{tags}".strip()


def payload_sparse(payload: dict[str, Any]) -> tuple[list[int], list[float]]:
    """The lexical vector of a point from its payload (the same text as experience_embedding_text):
    what a restore from a backup of points rebuilds them with."""
    tags = " ".join(payload.get("tags") or [])
    return sparse_document(f"{payload.get('situation') or ''}\n{tags}".strip())


def experiences_upsert(experiences: Iterable) -> int:
    """Embed and upsert many experiences in one batch; the count written."""
    experiences = list(experiences)
    if not experiences:
        return 0
    backend = collection.collection_ready()
    texts = [experience_embedding_text(e) for e in experiences]
    vectors = get_embedder().embed(texts)
    superseded = superseding(e.id for e in experiences)
    backend.upsert(
        [
            MemoryPoint(
                experience_id=e.id,
                vector=vector,
                payload=experience_payload(e, superseded_by=superseded.get(e.id)),
                sparse=sparse_document(text),
            )
            for e, vector, text in zip(experiences, vectors, texts, strict=True)
        ]
    )
    return len(experiences)


def experiences_remove(experience_ids: Iterable[str]) -> int:
    ids = list(experience_ids)
    if ids:
        collection.collection_ready().delete(ids)
    return len(ids)
