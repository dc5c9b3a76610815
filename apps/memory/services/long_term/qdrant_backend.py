"""`LongTermBackend` on qdrant-client: a Qdrant server (settings.QDRANT_URL) or local mode
(settings.QDRANT_PATH; ":memory:" in tests). Local mode locks its directory to one process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import LongTermMemoryError
from .interface import (
    DENSE_VECTOR,
    RRF_K,
    SPARSE_VECTOR,
    CollectionState,
    LongTermBackend,
    MemoryFilter,
    MemoryPoint,
    ScoredPoint,
    dense_of,
    payload_selection,
    point_id,
    retrieved_points,
    scored_point,
)

logger = logging.getLogger("tradeoffice.memory.long_term")


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
            if isinstance(vectors, dict):  # named vectors (the hybrid layout)
                vectors = vectors.get(DENSE_VECTOR)
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
                vectors_config={
                    DENSE_VECTOR: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
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
            models.PointStruct(id=point_id(p.experience_id), vector=self._vectors(p), payload=p.payload)
            for p in points
        ]
        self._call("upsert", lambda: self._client.upsert(self.collection, points=structs, wait=True))

    def _vectors(self, point: MemoryPoint) -> dict:
        vectors: dict = {DENSE_VECTOR: [float(x) for x in point.vector]}
        if point.sparse is not None and point.sparse[0]:
            indices, values = point.sparse
            vectors[SPARSE_VECTOR] = self._models.SparseVector(indices=list(indices), values=list(values))
        return vectors

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
        if not where.include_superseded:
            # Empty: null, or no key at all (points written before supersession existed).
            must.append(models.IsEmptyCondition(is_empty=models.PayloadField(key="superseded_by")))
        return models.Filter(must=must) if must else None

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
        models = self._models
        query_filter = self._filter(where)
        dense = [float(x) for x in vector]
        with_payload = payload_selection(payload_fields)
        if sparse is None or not sparse[0]:
            response = self._call(
                "search",
                lambda: self._client.query_points(
                    self.collection,
                    query=dense,
                    using=DENSE_VECTOR,
                    query_filter=query_filter,
                    limit=limit,
                    with_payload=with_payload,
                    with_vectors=False,
                ),
            )
            return [scored_point(p.payload, similarity=float(p.score)) for p in response.points]
        prefetch = [
            models.Prefetch(query=dense, using=DENSE_VECTOR, filter=query_filter, limit=limit),
            models.Prefetch(
                query=models.SparseVector(indices=list(sparse[0]), values=list(sparse[1])),
                using=SPARSE_VECTOR,
                filter=query_filter,
                limit=limit,
            ),
        ]
        method = (
            models.FusionQuery(fusion=models.Fusion.DBSF)
            if fusion == "dbsf"
            else models.RrfQuery(rrf=models.Rrf(k=RRF_K))
        )
        response = self._call(
            "hybrid search",
            lambda: self._client.query_points(
                self.collection,
                prefetch=prefetch,
                query=method,
                query_filter=query_filter,
                limit=limit,
                with_payload=with_payload,
                with_vectors=False,
            ),
        )
        return [scored_point(p.payload, similarity=None, fused=float(p.score)) for p in response.points]

    def retrieve(
        self, *, experience_ids: Sequence[str], vector: Sequence[float] | None = None
    ) -> dict[str, ScoredPoint]:
        if not experience_ids:
            return {}
        ids = [point_id(i) for i in experience_ids]
        with_vectors = [DENSE_VECTOR] if vector is not None else False
        records = self._call(
            "retrieve",
            lambda: self._client.retrieve(
                self.collection, ids=ids, with_payload=True, with_vectors=with_vectors
            ),
        )
        return retrieved_points(records, vector)

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
                    vector=dense_of(record.vector) if with_vectors else [],
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
