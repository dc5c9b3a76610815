"""Long-term memory: experiences as vectors in Qdrant, behind a small backend interface.

`LongTermBackend` is all the rest of the memory service knows about the vector store;
`QdrantBackend` implements it with qdrant-client, against a server (settings.QDRANT_URL)
or in local mode (settings.QDRANT_PATH; ":memory:" in tests). Local mode locks its
directory to one process. Without a server the default is `edge_backend.EdgeBackend`
(Qdrant Edge in-process, settings.QDRANT_EMBEDDED_ENGINE); `build_backend()` chooses.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .embeddings import Embedder, get_embedder
from .errors import EmbedderMismatchError, LongTermMemoryError
from .health import HealthStatus

logger = logging.getLogger("tradeoffice.memory.long_term")

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
}

RECREATE_HINT = "python manage.py reindex_memory --recreate"


def point_id(experience_id: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, experience_id))


@dataclass(frozen=True)
class MemoryPoint:
    experience_id: str
    vector: list[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class MemoryFilter:
    """Conditions every hit must meet; None means "any". `tags` matches any of them."""

    outcome: str | None = None
    min_importance: float | None = None
    symbol: str | None = None
    tags: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None

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
        timestamp = payload.get("timestamp")
        if self.since_ms is not None and (timestamp is None or timestamp < self.since_ms):
            return False
        return not (self.until_ms is not None and (timestamp is None or timestamp > self.until_ms))


@dataclass(frozen=True)
class ScoredPoint:
    experience_id: str
    similarity: float
    payload: dict[str, Any]


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
    def search(self, *, vector: Sequence[float], where: MemoryFilter, limit: int) -> list[ScoredPoint]:
        """Nearest by cosine similarity among the points meeting `where`, best first."""

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


class QdrantBackend(LongTermBackend):
    def __init__(
        self,
        *,
        collection: str,
        url: str = "",
        api_key: str = "",
        path: str = ":memory:",
        timeout: int = 5,
        shard_number: int | None = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
    ) -> None:
        from qdrant_client import QdrantClient, models

        self._models = models
        self.collection = collection
        # A distributed cluster's layout, fixed when the collection is created (server only).
        self.distribution = {
            name: value
            for name, value in (
                ("shard_number", shard_number),
                ("replication_factor", replication_factor),
                ("write_consistency_factor", write_consistency_factor),
            )
            if url and value is not None
        }
        self.supports_payload_indexes = bool(url)
        # Local mode is a plain Python object shared by the server's threads.
        self._lock = threading.RLock()
        try:
            if url:
                self.description = f"Qdrant server {url.split('@')[-1]}"
                self._client = QdrantClient(url=url, api_key=api_key or None, timeout=timeout)
            elif path == ":memory:":
                self.description = "Qdrant local mode (in memory)"
                self._client = QdrantClient(location=":memory:")
            else:
                self.description = f"Qdrant local mode at {path}"
                self._client = QdrantClient(path=path)
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise LongTermMemoryError(
                    f"The Qdrant local storage at {path} is in use by another process (local mode allows "
                    "one process at a time, e.g. the development server). Stop that process, or set "
                    "QDRANT_URL to a Qdrant server."
                ) from exc
            raise LongTermMemoryError(f"Qdrant could not start: {exc}") from exc

    def describe(self) -> CollectionState:
        def run() -> CollectionState:
            if not self._client.collection_exists(self.collection):
                return CollectionState(name=self.collection, exists=False)
            info = self._client.get_collection(self.collection)
            vectors = info.config.params.vectors
            return CollectionState(
                name=self.collection,
                exists=True,
                dimension=getattr(vectors, "size", None),
                metadata=dict(getattr(info.config, "metadata", None) or {}),
                points_count=info.points_count,
                payload_indexes=tuple(sorted((info.payload_schema or {}).keys())),
            )

        return self._call("describe", run)

    def create_collection(self, *, dimension: int, metadata: dict[str, Any]) -> None:
        models = self._models
        self._call(
            "create collection",
            lambda: self._client.create_collection(
                self.collection,
                vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
                metadata=metadata,
                **self.distribution,
            ),
        )

    def set_metadata(self, *, metadata: dict[str, Any]) -> None:
        self._call(
            "update metadata", lambda: self._client.update_collection(self.collection, metadata=metadata)
        )

    def drop_collection(self) -> None:
        self._call("delete collection", lambda: self._client.delete_collection(self.collection))

    def create_payload_indexes(self, indexes: dict[str, str]) -> list[str]:
        if not self.supports_payload_indexes:
            return []  # local mode ignores payload indexes (and warns); nothing to do
        existing = set(self.describe().payload_indexes)
        created = []
        for name, schema in indexes.items():
            if name in existing:
                continue
            self._call(
                f"create payload index {name}",
                lambda name=name, schema=schema: self._client.create_payload_index(
                    self.collection, field_name=name, field_schema=schema, wait=True
                ),
            )
            created.append(name)
        return created

    def upsert(self, points: Sequence[MemoryPoint]) -> None:
        if not points:
            return
        models = self._models
        structs = [
            models.PointStruct(id=point_id(p.experience_id), vector=list(p.vector), payload=p.payload)
            for p in points
        ]
        self._call("upsert", lambda: self._client.upsert(self.collection, points=structs, wait=True))

    def delete(self, experience_ids: Sequence[str]) -> None:
        if not experience_ids:
            return
        models = self._models
        selector = models.PointIdsList(points=[point_id(i) for i in experience_ids])
        self._call(
            "delete", lambda: self._client.delete(self.collection, points_selector=selector, wait=True)
        )

    def _filter(self, where: MemoryFilter):
        models = self._models
        must = []
        if where.outcome is not None:
            must.append(models.FieldCondition(key="outcome", match=models.MatchValue(value=where.outcome)))
        if where.min_importance is not None:
            must.append(
                models.FieldCondition(key="importance_score", range=models.Range(gte=where.min_importance))
            )
        if where.symbol is not None:
            must.append(models.FieldCondition(key="symbol", match=models.MatchValue(value=where.symbol)))
        if where.tags:
            must.append(models.FieldCondition(key="tags", match=models.MatchAny(any=list(where.tags))))
        if where.since_ms is not None or where.until_ms is not None:
            must.append(
                models.FieldCondition(
                    key="timestamp", range=models.Range(gte=where.since_ms, lte=where.until_ms)
                )
            )
        return models.Filter(must=must) if must else None

    def search(self, *, vector: Sequence[float], where: MemoryFilter, limit: int) -> list[ScoredPoint]:
        response = self._call(
            "search",
            lambda: self._client.query_points(
                self.collection,
                query=list(vector),
                query_filter=self._filter(where),
                limit=limit,
                with_payload=True,
                with_vectors=False,
            ),
        )
        return [
            ScoredPoint(
                experience_id=str(p.payload.get("id")), similarity=float(p.score), payload=dict(p.payload)
            )
            for p in response.points
        ]

    def scroll(self, *, batch_size: int = 256, with_vectors: bool = False) -> Iterator[MemoryPoint]:
        offset = None
        while True:
            records, offset = self._call(
                "scroll",
                lambda offset=offset: self._client.scroll(
                    self.collection,
                    limit=batch_size,
                    offset=offset,
                    with_payload=True,
                    with_vectors=with_vectors,
                ),
            )
            for record in records:
                payload = dict(record.payload or {})
                yield MemoryPoint(
                    experience_id=str(payload.get("id", record.id)),
                    vector=list(record.vector) if with_vectors and record.vector is not None else [],
                    payload=payload,
                )
            if offset is None:
                return

    def count(self) -> int:
        return int(self._call("count", lambda: self._client.count(self.collection, exact=True)).count)

    def close(self) -> None:
        try:
            with self._lock:
                self._client.close()
        except Exception:  # closing is best effort
            logger.debug("Closing the Qdrant client failed.", exc_info=True)


# --- the configured backend ---------------------------------------------------------------------

_lock = threading.Lock()
_backend: LongTermBackend | None = None
_atexit_registered = False
_verified: tuple[str, int] | None = None  # (embedder name, dimension) already checked against the collection


def build_backend() -> LongTermBackend:
    """A Qdrant server when QDRANT_URL is set; otherwise the embedded engine QDRANT_EMBEDDED_ENGINE:
    "edge" (Qdrant Edge, HNSW and payload indexes in-process) or "local" (qdrant-client's local mode).
    QDRANT_PATH ":memory:" (the tests') is local mode's in-memory store: Edge always keeps files."""
    engine = settings.QDRANT_EMBEDDED_ENGINE
    if not settings.QDRANT_URL and engine == "edge" and settings.QDRANT_PATH != ":memory:":
        from .edge_backend import EdgeBackend

        return EdgeBackend(
            collection=settings.QDRANT_COLLECTION,
            path=settings.QDRANT_PATH,
            hnsw_m=settings.QDRANT_EDGE_HNSW_M,
            hnsw_ef_construct=settings.QDRANT_EDGE_HNSW_EF_CONSTRUCT,
            hnsw_ef=settings.QDRANT_EDGE_HNSW_EF,
            indexing_threshold=settings.QDRANT_EDGE_INDEXING_THRESHOLD,
        )
    if engine not in ("edge", "local"):
        raise ImproperlyConfigured(f"QDRANT_EMBEDDED_ENGINE is {engine!r}; use 'edge' or 'local'.")
    return QdrantBackend(
        collection=settings.QDRANT_COLLECTION,
        url=settings.QDRANT_URL,
        api_key=settings.QDRANT_API_KEY,
        path=settings.QDRANT_PATH,
        timeout=settings.QDRANT_TIMEOUT,
        shard_number=settings.QDRANT_SHARD_NUMBER,
        replication_factor=settings.QDRANT_REPLICATION_FACTOR,
        write_consistency_factor=settings.QDRANT_WRITE_CONSISTENCY_FACTOR,
    )


def get_backend() -> LongTermBackend:
    """The process's backend, opened on first use (local mode takes its directory's lock then)."""
    global _backend, _atexit_registered
    with _lock:
        if _backend is None:
            _backend = build_backend()
            if not _atexit_registered:
                # Closed before interpreter teardown: local mode saves and unlocks cleanly then,
                # instead of failing noisily in the client's __del__.
                atexit.register(reset_backend)
                _atexit_registered = True
        return _backend


def reset_backend() -> None:
    """Close the backend (releasing a local-mode directory); the next use opens a new one."""
    global _backend, _verified
    with _lock:
        backend, _backend, _verified = _backend, None, None
    if backend is not None:
        backend.close()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs) -> None:
    if setting.startswith("QDRANT_"):
        reset_backend()
    elif setting.startswith(("MEMORY_EMBED", "OPENAI_", "SENTENCE_TRANSFORMERS_")):
        global _verified
        _verified = None


# --- the collection -----------------------------------------------------------------------------


def collection_metadata(embedder: Embedder) -> dict[str, Any]:
    return {"embedder": embedder.name, "dimension": embedder.dimension}


@dataclass(frozen=True)
class CollectionReport:
    state: CollectionState
    created: bool = False
    indexes_created: tuple[str, ...] = ()
    metadata_recorded: bool = False


def _mismatch(state: CollectionState, embedder: Embedder) -> str | None:
    recorded_embedder = state.metadata.get("embedder")
    if state.dimension != embedder.dimension or (recorded_embedder and recorded_embedder != embedder.name):
        built_by = recorded_embedder or "an unrecorded embedder"
        return (
            f"The Qdrant collection {state.name!r} was built by {built_by} "
            f"with {state.dimension} dimensions, "
            f"but the configured embedder is {embedder.name} with {embedder.dimension}. "
            f"Rebuild it from PostgreSQL: {RECREATE_HINT}"
        )
    return None


def collection_ensure(*, create: bool = True) -> CollectionReport:
    """Make sure the collection exists for the configured embedder, with its payload indexes.

    Creates it when missing (unless `create` is False), records the embedder and dimension
    in its metadata, and raises EmbedderMismatchError when it was built by another embedder.
    Checked once per process; idempotent.
    """
    global _verified
    backend = get_backend()
    embedder = get_embedder()
    state = backend.describe()
    if not state.exists:
        if not create:
            return CollectionReport(state=state)
        backend.create_collection(dimension=embedder.dimension, metadata=collection_metadata(embedder))
        indexes = backend.create_payload_indexes(PAYLOAD_INDEXES)
        _verified = (embedder.name, embedder.dimension)
        return CollectionReport(state=backend.describe(), created=True, indexes_created=tuple(indexes))
    problem = _mismatch(state, embedder)
    if problem:
        raise EmbedderMismatchError(problem)
    recorded = False
    if not state.metadata.get("embedder") and create:
        # A collection made elsewhere with the right dimension: adopt it and say who fills it.
        backend.set_metadata(metadata=collection_metadata(embedder))
        recorded = True
    indexes = backend.create_payload_indexes(PAYLOAD_INDEXES) if create else []
    _verified = (embedder.name, embedder.dimension)
    return CollectionReport(
        state=backend.describe() if (recorded or indexes) else state,
        indexes_created=tuple(indexes),
        metadata_recorded=recorded,
    )


def collection_ready() -> LongTermBackend:
    """The backend, its collection checked (once per process) against the configured embedder."""
    embedder = get_embedder()
    if _verified != (embedder.name, embedder.dimension):
        collection_ensure()
    return get_backend()


def collection_recreate() -> CollectionReport:
    """Drop the collection and create it empty for the configured embedder."""
    global _verified
    backend = get_backend()
    if backend.describe().exists:
        backend.drop_collection()
    _verified = None
    return collection_ensure()


# --- experiences as points ----------------------------------------------------------------------


def _decimal_text(value: Decimal | None, places: int) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places)))


def experience_payload(experience) -> dict[str, Any]:
    """The seed's payload for one experience. Money stays exact: pnl and pnl_percentage are
    decimal strings (as stored); importance_score is a float so it can be range-filtered."""
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
    }


def experience_embedding_text(experience) -> str:
    """What an experience is found by: its situation, with its tags."""
    tags = " ".join(experience.situation_tags or [])
    return f"{experience.situation}\n{tags}".strip()


def experiences_upsert(experiences: Iterable) -> int:
    """Embed and upsert many experiences in one batch; the count written."""
    experiences = list(experiences)
    if not experiences:
        return 0
    backend = collection_ready()
    vectors = get_embedder().embed([experience_embedding_text(e) for e in experiences])
    backend.upsert(
        [
            MemoryPoint(experience_id=e.id, vector=vector, payload=experience_payload(e))
            for e, vector in zip(experiences, vectors, strict=True)
        ]
    )
    return len(experiences)


def experiences_remove(experience_ids: Iterable[str]) -> int:
    ids = list(experience_ids)
    if ids:
        collection_ready().delete(ids)
    return len(ids)


# --- health -------------------------------------------------------------------------------------


def long_term_health() -> HealthStatus:
    """Whether Qdrant answers and the collection fits the embedder; never raises, creates nothing."""
    started = time.monotonic()
    try:
        backend = get_backend()
        state = backend.describe()
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not fail
        return HealthStatus(store="qdrant", ok=False, detail=str(exc))
    latency = round((time.monotonic() - started) * 1000, 2)
    extra = {"collection": state.name, "points": state.points_count, "where": backend.description}
    if not state.exists:
        return HealthStatus(
            store="qdrant",
            ok=False,
            detail=f"The collection {state.name!r} does not exist yet; run: python manage.py init_databases",
            latency_ms=latency,
            extra=extra,
        )
    try:
        problem = _mismatch(state, get_embedder())
    except Exception as exc:  # noqa: BLE001 - e.g. the embedder is misconfigured
        return HealthStatus(store="qdrant", ok=False, detail=str(exc), latency_ms=latency, extra=extra)
    if problem:
        return HealthStatus(store="qdrant", ok=False, detail=problem, latency_ms=latency, extra=extra)
    return HealthStatus(
        store="qdrant",
        ok=True,
        detail=f"Collection {state.name!r} ready ({backend.description}).",
        latency_ms=latency,
        extra=extra,
    )
