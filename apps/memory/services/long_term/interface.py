"""What the memory service knows of a vector store: the points, the filter, the backend interface.

`LongTermBackend` is all the rest of the memory service sees; `qdrant_backend.QdrantBackend` (qdrant-client,
a server or local mode) and `edge_backend.EdgeBackend` (Qdrant Edge, in-process) implement it.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import LongTermMemoryError

# Point ids are UUIDv5 of the experience id in this namespace: writing an experience
# twice overwrites its point. Never change it (every point id would change).
POINT_NAMESPACE = uuid.UUID("6f1d3c2a-8b4e-5a7f-9c0d-2e3f4a5b6c7d")

# The seed's payload indexes, plus `timestamp` for the date-range filter.
PAYLOAD_INDEXES = {
    "outcome": "keyword",
    "importance_score": "float",
    "symbol": "keyword",
    "tags": "keyword",
    "timestamp": "integer",
    "superseded_by": "keyword",
}

RECREATE_HINT = "python manage.py reindex_memory --recreate"

# Each point carries two vectors: the embedder's (cosine) and the situation's words (sparse, IDF).
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "lexical"
# The collection's layout, recorded in its metadata: a collection of another layout is rebuilt.
LAYOUT = "hybrid-v1"
FUSIONS = ("rrf", "dbsf")
# Reciprocal rank fusion's constant: a hit at 0-based rank r of a list adds 1 / (r + RRF_K).
# 2 is Qdrant's own default; both engines are given it, so they rank alike.
RRF_K = 2


def point_id(experience_id: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, experience_id))


def cosines(query: Sequence[float], vectors: Sequence[Sequence[float]]) -> list[float]:
    """Cosine similarity of `query` to each of `vectors` (0 for an empty or zero one)."""
    import numpy  # a hundred vectors at a time: numpy, not Python loops

    if not vectors:
        return []
    q = numpy.asarray(query, dtype=numpy.float64)
    results = [0.0] * len(vectors)
    rows = [i for i, v in enumerate(vectors) if len(v) == len(q)]
    if not rows:
        return results
    matrix = numpy.asarray([vectors[i] for i in rows], dtype=numpy.float64)
    norms = numpy.linalg.norm(matrix, axis=1) * numpy.linalg.norm(q)
    values = numpy.divide(matrix @ q, norms, out=numpy.zeros(len(rows)), where=norms > 0)
    for i, value in zip(rows, values.tolist(), strict=True):
        results[i] = value
    return results


@dataclass(frozen=True)
class MemoryPoint:
    experience_id: str
    vector: list[float]
    payload: dict[str, Any]
    # (indices, values) of the lexical sparse vector; None leaves the point without one.
    sparse: tuple[list[int], list[float]] | None = None


@dataclass(frozen=True)
class MemoryFilter:
    """Conditions every hit must meet; None means "any". `tags` matches any of them."""

    outcome: str | None = None
    min_importance: float | None = None
    symbol: str | None = None
    tags: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    # Superseded experiences leave default recall; they stay searchable when asked for.
    include_superseded: bool = False

    def matches(self, payload: dict[str, Any]) -> bool:
        """The same conditions in Python (for checks and tests)."""
        if self.outcome is not None and payload.get("outcome") != self.outcome:
            return False
        if self.min_importance is not None:
            importance = payload.get("importance_score")
            if importance is None or importance < self.min_importance:
                return False
        if self.symbol is not None and payload.get("symbol") != self.symbol:
            return False
        if self.tags and not set(self.tags) & set(payload.get("tags") or []):
            return False
        if not self.include_superseded and payload.get("superseded_by"):
            return False
        timestamp = payload.get("timestamp")
        if self.since_ms is not None and (timestamp is None or timestamp < self.since_ms):
            return False
        return not (self.until_ms is not None and (timestamp is None or timestamp > self.until_ms))


@dataclass(frozen=True)
class ScoredPoint:
    experience_id: str
    # Cosine similarity to the query's dense vector; None from a hybrid search, whose fused ranking
    # does not need it (`retrieve` gives it for the hits kept).
    similarity: float | None
    payload: dict[str, Any]
    # The fused score of a hybrid search (Qdrant's RRF or DBSF), None for a dense-only one.
    fused: float | None = None


def payload_selection(payload_fields: Sequence[str] | None) -> list[str] | bool:
    """What to ask a search for: the fields named, with the experience id, or the whole payload."""
    if payload_fields is None:
        return True
    return list(dict.fromkeys(("id", *payload_fields)))


def scored_point(
    payload: dict[str, Any] | None, *, similarity: float | None, fused: float | None = None
) -> ScoredPoint:
    """A hit of either backend from its payload (which carries the experience id) and scores."""
    payload = dict(payload or {})
    return ScoredPoint(
        experience_id=str(payload.get("id")), similarity=similarity, payload=payload, fused=fused
    )


def dense_of(vector) -> list[float]:
    """The dense vector of a record: named (the hybrid layout) or the single unnamed one."""
    if isinstance(vector, dict):
        vector = vector.get(DENSE_VECTOR)
    return list(vector) if vector is not None else []


def retrieved_points(records, vector: Sequence[float] | None) -> dict[str, ScoredPoint]:
    """Retrieved records (either backend's) by experience id, with their cosine similarity to `vector`
    when given: the same computation for both backends."""
    records = list(records)
    similarities: list[float | None] = [None] * len(records)
    if vector is not None:
        similarities = cosines(vector, [dense_of(record.vector) for record in records])
    points = (
        scored_point(record.payload, similarity=similarity)
        for record, similarity in zip(records, similarities, strict=True)
    )
    return {point.experience_id: point for point in points}


@dataclass(frozen=True)
class CollectionState:
    name: str
    exists: bool
    dimension: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    points_count: int | None = None
    payload_indexes: tuple[str, ...] = ()


class LongTermBackend(ABC):
    """What the memory service needs from a vector store. Errors are LongTermMemoryError."""

    collection: str
    supports_payload_indexes: bool
    description: str  # where the data lives, for messages (never a secret)
    # (embedder name, dimension) the collection was last checked against; None until it is.
    verified_for: tuple[str, int] | None = None

    @abstractmethod
    def describe(self) -> CollectionState: ...

    @abstractmethod
    def create_collection(self, *, dimension: int, metadata: dict[str, Any]) -> None: ...

    @abstractmethod
    def set_metadata(self, *, metadata: dict[str, Any]) -> None: ...

    @abstractmethod
    def drop_collection(self) -> None: ...

    @abstractmethod
    def create_payload_indexes(self, indexes: dict[str, str]) -> list[str]:
        """Create the missing ones; return the names created."""

    @abstractmethod
    def upsert(self, points: Sequence[MemoryPoint]) -> None: ...

    @abstractmethod
    def delete(self, experience_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def search(
        self,
        *,
        vector: Sequence[float],
        where: MemoryFilter,
        limit: int,
        sparse: tuple[list[int], list[float]] | None = None,
        fusion: str = "rrf",
        payload_fields: Sequence[str] | None = None,
    ) -> list[ScoredPoint]:
        """Nearest by cosine similarity among the points meeting `where`, best first. With `sparse`,
        a hybrid search: the dense and the sparse nearest `limit` each, fused by `fusion` (Qdrant's
        "rrf" or "dbsf"); its hits carry their fused score and no similarity (no vectors are read).
        `payload_fields` asks for only those payload keys (None: the whole payload); "id" is
        always among them."""

    @abstractmethod
    def retrieve(
        self, *, experience_ids: Sequence[str], vector: Sequence[float] | None = None
    ) -> dict[str, ScoredPoint]:
        """The points of `experience_ids` that exist, by experience id, with their whole payload and,
        given `vector`, their cosine similarity to it (None without)."""

    @abstractmethod
    def scroll(self, *, batch_size: int = 256, with_vectors: bool = False) -> Iterator[MemoryPoint]:
        """Every point (vector [] unless asked for)."""

    @abstractmethod
    def count(self) -> int: ...

    def close(self) -> None:  # noqa: B027 - optional for backends holding nothing
        pass

    def _call(self, what: str, fn):
        """Run `fn` under the backend's lock; any failure becomes a LongTermMemoryError naming the store."""
        try:
            with self._lock:
                return fn()
        except LongTermMemoryError:
            raise
        except Exception as exc:
            raise LongTermMemoryError(
                f"Qdrant {what} failed on collection {self.collection!r} ({self.description}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
