"""Long-term memory: experiences as vectors in Qdrant, behind a small backend interface.

`interface` is what the memory service knows of a vector store; `qdrant_backend` (a server or
qdrant-client's local mode) and `edge_backend` (Qdrant Edge, in-process) implement it; `factory`
builds the process's one from the settings; `collection` keeps the collection fit for the embedder;
`points` turns experiences into points.
"""

from ..errors import EmbedderMismatchError, LongTermMemoryError
from .collection import (
    CollectionReport,
    collection_ensure,
    collection_metadata,
    collection_ready,
    collection_recreate,
    long_term_health,
)
from .factory import build_backend, get_backend, reset_backend
from .interface import (
    DENSE_VECTOR,
    FUSIONS,
    LAYOUT,
    PAYLOAD_INDEXES,
    POINT_NAMESPACE,
    RECREATE_HINT,
    RRF_K,
    SPARSE_VECTOR,
    CollectionState,
    LongTermBackend,
    MemoryFilter,
    MemoryPoint,
    ScoredPoint,
    point_id,
)
from .points import (
    experience_embedding_text,
    experience_payload,
    experiences_remove,
    experiences_upsert,
    payload_sparse,
    superseding,
)

__all__ = [
    "DENSE_VECTOR",
    "FUSIONS",
    "LAYOUT",
    "PAYLOAD_INDEXES",
    "POINT_NAMESPACE",
    "RECREATE_HINT",
    "RRF_K",
    "SPARSE_VECTOR",
    "CollectionReport",
    "CollectionState",
    "EmbedderMismatchError",
    "LongTermBackend",
    "LongTermMemoryError",
    "MemoryFilter",
    "MemoryPoint",
    "ScoredPoint",
    "build_backend",
    "collection_ensure",
    "collection_metadata",
    "collection_ready",
    "collection_recreate",
    "experience_embedding_text",
    "experience_payload",
    "experiences_remove",
    "experiences_upsert",
    "get_backend",
    "long_term_health",
    "payload_sparse",
    "point_id",
    "reset_backend",
    "superseding",
]
