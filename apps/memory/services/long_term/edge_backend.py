"""Long-term memory in Qdrant Edge: Qdrant's own engine in-process, with HNSW and payload indexes.

The embedded default when settings.QDRANT_URL is unset (settings.QDRANT_EMBEDDED_ENGINE "edge").
qdrant-client's local mode compares the query with every stored vector in Python; Edge searches an
HNSW graph and filters through payload indexes, as a Qdrant server does, in the same process.

On disk a collection is a directory under `<QDRANT_PATH>/edge/<collection>/`: `shard/` is Edge's
own (segments and write-ahead log) and `collection.json` holds what Edge has no place for (the
dimension and the collection's metadata, i.e. which embedder built it). QDRANT_PATH ":memory:"
puts the directory in a temporary folder removed when the backend closes (tests).

Edge builds the HNSW graph of a segment when its optimizer runs, and that call holds the
interpreter until it returns. So new points first land in a plain segment (searched exactly, always
correct) and the write that leaves QDRANT_EDGE_INDEXING_THRESHOLD points unindexed builds the
index right away; `optimize()` does it on demand (after a bulk load, for instance). Like local
mode, a directory is open in one process at a time: Edge locks its write-ahead log.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
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

logger = logging.getLogger("tradeoffice.memory.edge")

IN_MEMORY = ":memory:"
SHARD_DIRECTORY = "shard"
COLLECTION_FILE = "collection.json"

DEFAULT_HNSW_M = 16
DEFAULT_HNSW_EF_CONSTRUCT = 128
DEFAULT_HNSW_EF = 128
DEFAULT_INDEXING_THRESHOLD = 20_000
# Edge's own default: below this many kilobytes of vectors a filtered search reads the payload
# index's matches exactly instead of walking the graph.
DEFAULT_FULL_SCAN_THRESHOLD_KB = 10_000


class EdgeBackend(LongTermBackend):
    supports_payload_indexes = True

    def __init__(
        self,
        *,
        collection: str,
        path: str = IN_MEMORY,
        hnsw_m: int = DEFAULT_HNSW_M,
        hnsw_ef_construct: int = DEFAULT_HNSW_EF_CONSTRUCT,
        hnsw_ef: int = DEFAULT_HNSW_EF,
        indexing_threshold: int = DEFAULT_INDEXING_THRESHOLD,
        full_scan_threshold_kb: int = DEFAULT_FULL_SCAN_THRESHOLD_KB,
        payload_in_memory: bool = False,
    ) -> None:
        import qdrant_edge

        self._edge = qdrant_edge
        self.collection = collection
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construct = hnsw_ef_construct
        self.hnsw_ef = hnsw_ef
        self.indexing_threshold = indexing_threshold
        self.full_scan_threshold_kb = full_scan_threshold_kb
        self.payload_in_memory = payload_in_memory
        self._lock = threading.RLock()
        self._shard = None
        self._temporary: str | None = None
        if path == IN_MEMORY:
            self._temporary = tempfile.mkdtemp(prefix="tradeoffice-edge-")
            root = Path(self._temporary)
            self.description = "Qdrant Edge (embedded, in memory)"
        else:
            root = Path(path) / "edge"
            self.description = f"Qdrant Edge (embedded) at {root}"
        self._directory = root / collection

    # --- files ------------------------------------------------------------------------------

    @property
    def _shard_path(self) -> Path:
        return self._directory / SHARD_DIRECTORY

    @property
    def _collection_file(self) -> Path:
        return self._directory / COLLECTION_FILE

    def _read_record(self) -> dict[str, Any] | None:
        try:
            return json.loads(self._collection_file.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise LongTermMemoryError(
                f"{self._collection_file} is not valid JSON ({exc}); rebuild the collection from "
                "PostgreSQL: python manage.py reindex_memory --recreate"
            ) from exc

    def _write_record(self, record: dict[str, Any]) -> None:
        # Written beside and renamed over: a crash never leaves half a file.
        temporary = self._collection_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, sort_keys=True))
        os.replace(temporary, self._collection_file)

    # --- the shard --------------------------------------------------------------------------

    def _open(self):
        """The open shard; opened (and locked to this process) on first use."""
        if self._shard is None:
            if self._read_record() is None or not self._shard_path.is_dir():
                raise LongTermMemoryError(
                    f"The Qdrant collection {self.collection!r} does not exist ({self.description}); "
                    "run: python manage.py init_databases"
                )
            try:
                self._shard = self._edge.EdgeShard.load(str(self._shard_path))
            except Exception as exc:
                if "WouldBlock" in str(exc):
                    raise LongTermMemoryError(
                        f"The Qdrant Edge storage at {self._directory} is in use by another process (an "
                        "embedded store allows one process at a time, e.g. the development server). Stop "
                        "that process, or set QDRANT_URL to a Qdrant server."
                    ) from exc
                raise
        return self._shard

    def _config(self, dimension: int):
        edge = self._edge
        # Kilobytes of float32 vectors, the unit of Edge's indexing threshold.
        threshold_kb = max(1, self.indexing_threshold * dimension * 4 // 1024)
        return edge.EdgeConfig(
            vectors={DENSE_VECTOR: edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            hnsw_config=edge.HnswIndexConfig(
                m=self.hnsw_m,
                ef_construct=self.hnsw_ef_construct,
                full_scan_threshold=self.full_scan_threshold_kb,
            ),
            optimizers=edge.EdgeOptimizersConfig(indexing_threshold=threshold_kb),
            # QDRANT_EDGE_PAYLOAD_IN_MEMORY: payload files mapped and read in when the shard opens
            # (Cached) instead of Edge's default (Cold), which reads each page from disk on first use: after
            # a rebuild those first reads were 4-5 ms of a recall reading a hundred candidates' payloads.
            # It costs the process resident memory from the start (about 30 MB even for a small
            # collection, 60 MB per 100,000 experiences), so it is off by default (a web worker's footprint).
            # Fixed when the collection is created: an older one gets it with reindex_memory --recreate.
            payload_memory=edge.Memory.Cached if self.payload_in_memory else edge.Memory.Cold,
        )

    # --- the interface ----------------------------------------------------------------------

    def describe(self) -> CollectionState:
        def run() -> CollectionState:
            record = self._read_record()
            if record is None or not self._shard_path.is_dir():
                return CollectionState(name=self.collection, exists=False)
            info = self._open().info()
            return CollectionState(
                name=self.collection,
                exists=True,
                dimension=record.get("dimension"),
                metadata=dict(record.get("metadata") or {}),
                points_count=info.points_count,
                payload_indexes=tuple(sorted(info.payload_schema.keys())),
            )

        return self._call("describe", run)

    def create_collection(self, *, dimension: int, metadata: dict[str, Any]) -> None:
        def run() -> None:
            if self._read_record() is not None:
                raise LongTermMemoryError(f"The Qdrant collection {self.collection!r} already exists.")
            self._directory.mkdir(parents=True, exist_ok=True)
            self._shard = self._edge.EdgeShard.create(str(self._shard_path), self._config(dimension))
            self._write_record({"dimension": dimension, "metadata": dict(metadata)})

        self._call("create collection", run)

    def set_metadata(self, *, metadata: dict[str, Any]) -> None:
        def run() -> None:
            record = self._read_record()
            if record is None:
                raise LongTermMemoryError(f"The Qdrant collection {self.collection!r} does not exist.")
            self._write_record({**record, "metadata": dict(metadata)})

        self._call("update metadata", run)

    def drop_collection(self) -> None:
        def run() -> None:
            self._close_shard()
            shutil.rmtree(self._directory, ignore_errors=True)

        self._call("delete collection", run)

    def create_payload_indexes(self, indexes: dict[str, str]) -> list[str]:
        schema_types = {
            "keyword": self._edge.PayloadSchemaType.Keyword,
            "float": self._edge.PayloadSchemaType.Float,
            "integer": self._edge.PayloadSchemaType.Integer,
        }

        def run() -> list[str]:
            shard = self._open()
            existing = set(shard.info().payload_schema.keys())
            created = []
            for name, schema in indexes.items():
                if name in existing:
                    continue
                shard.update(self._edge.UpdateOperation.create_field_index(name, schema_types[schema]))
                created.append(name)
            return created

        return self._call("create payload index", run)

    def upsert(self, points: Sequence[MemoryPoint]) -> None:
        if not points:
            return
        edge = self._edge
        structs = [edge.Point(point_id(p.experience_id), self._vectors(p), p.payload) for p in points]

        def run() -> None:
            shard = self._open()
            shard.update(edge.UpdateOperation.upsert_points(structs))
            info = shard.info()
            if info.points_count - info.indexed_vectors_count >= self.indexing_threshold:
                logger.info(
                    "Indexing %s new points of %r in Qdrant Edge.",
                    info.points_count - info.indexed_vectors_count,
                    self.collection,
                )
                shard.optimize()

        self._call("upsert", run)

    def _vectors(self, point: MemoryPoint) -> dict:
        vectors: dict = {DENSE_VECTOR: [float(x) for x in point.vector]}
        if point.sparse is not None and point.sparse[0]:
            indices, values = point.sparse
            vectors[SPARSE_VECTOR] = self._edge.SparseVector(list(indices), [float(v) for v in values])
        return vectors

    def delete(self, experience_ids: Sequence[str]) -> None:
        if not experience_ids:
            return
        ids = [point_id(i) for i in experience_ids]
        self._call("delete", lambda: self._open().update(self._edge.UpdateOperation.delete_points(ids)))

    def optimize(self) -> bool:
        """Build the HNSW graph of every segment that needs one (and merge small segments) now;
        True when anything was done. Blocks this process meanwhile (seconds per 10,000 points)."""
        return bool(self._call("optimize", lambda: self._open().optimize()))

    def _filter(self, where: MemoryFilter):
        edge = self._edge
        must = []
        if where.outcome is not None:
            must.append(edge.FieldCondition(key="outcome", match=edge.MatchValue(where.outcome)))
        if where.min_importance is not None:
            must.append(
                edge.FieldCondition(key="importance_score", range=edge.RangeFloat(gte=where.min_importance))
            )
        if where.symbol is not None:
            must.append(edge.FieldCondition(key="symbol", match=edge.MatchValue(where.symbol)))
        if where.tags:
            must.append(edge.FieldCondition(key="tags", match=edge.MatchAny(list(where.tags))))
        if where.since_ms is not None or where.until_ms is not None:
            must.append(
                edge.FieldCondition(
                    key="timestamp", range=edge.RangeFloat(gte=where.since_ms, lte=where.until_ms)
                )
            )
        if not where.include_superseded:
            # Empty: null, or no key at all (points written before supersession existed).
            must.append(edge.IsEmptyCondition("superseded_by"))
        return edge.Filter(must=must) if must else None

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
        edge = self._edge
        dense = [float(x) for x in vector]
        query_filter = self._filter(where)
        params = edge.SearchParams(hnsw_ef=max(self.hnsw_ef, limit))
        with_payload = payload_selection(payload_fields)
        if sparse is None or not sparse[0]:
            request = edge.QueryRequest(
                limit=limit,
                query=edge.Query.Nearest(dense, using=DENSE_VECTOR),
                filter=query_filter,
                with_payload=with_payload,
                with_vector=False,
                params=params,
            )
            points = self._call("search", lambda: self._open().query(request))
            return [scored_point(p.payload, similarity=float(p.score)) for p in points]
        # No vectors: turning a hundred dense vectors into Python floats cost more than the search.
        request = edge.QueryRequest(
            limit=limit,
            prefetches=[
                edge.Prefetch(
                    limit=limit,
                    query=edge.Query.Nearest(dense, using=DENSE_VECTOR),
                    filter=query_filter,
                    params=params,
                ),
                edge.Prefetch(
                    limit=limit,
                    query=edge.Query.Nearest(
                        edge.SparseVector(list(sparse[0]), [float(v) for v in sparse[1]]), using=SPARSE_VECTOR
                    ),
                    filter=query_filter,
                ),
            ],
            query=edge.Fusion.Dbsf() if fusion == "dbsf" else edge.Fusion.Rrf(k=RRF_K),
            filter=query_filter,
            with_payload=with_payload,
            with_vector=False,
        )
        points = self._call("hybrid search", lambda: self._open().query(request))
        return [scored_point(p.payload, similarity=None, fused=float(p.score)) for p in points]

    def retrieve(
        self, *, experience_ids: Sequence[str], vector: Sequence[float] | None = None
    ) -> dict[str, ScoredPoint]:
        if not experience_ids:
            return {}
        ids = [point_id(i) for i in experience_ids]
        with_vector = [DENSE_VECTOR] if vector is not None else False
        records = self._call(
            "retrieve",
            lambda: self._open().retrieve(ids, with_payload=True, with_vector=with_vector),
        )
        return retrieved_points(records, vector)

    def scroll(self, *, batch_size: int = 256, with_vectors: bool = False) -> Iterator[MemoryPoint]:
        edge = self._edge
        offset = None
        while True:
            request = edge.ScrollRequest(
                offset=offset, limit=batch_size, with_payload=True, with_vector=with_vectors
            )
            records, offset = self._call("scroll", lambda request=request: self._open().scroll(request))
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
        return int(self._call("count", lambda: self._open().count(self._edge.CountRequest(exact=True))))

    def _close_shard(self) -> None:
        shard, self._shard = self._shard, None
        if shard is not None:
            shard.close()

    def close(self) -> None:
        try:
            with self._lock:
                self._close_shard()
        except Exception:  # closing is best effort
            logger.debug("Closing the Qdrant Edge shard failed.", exc_info=True)
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None
