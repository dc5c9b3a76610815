"""The process's long-term backend: built from the settings on first use, closed on exit or when they change.

A Qdrant server when QDRANT_URL is set; otherwise the embedded engine QDRANT_EMBEDDED_ENGINE: Qdrant Edge
(the default) or qdrant-client's local mode.
"""

from __future__ import annotations

import atexit
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .edge_backend import EdgeBackend
from .interface import LongTermBackend
from .qdrant_backend import QdrantBackend

_lock = threading.Lock()
_backend: LongTermBackend | None = None
_atexit_registered = False


def build_backend() -> LongTermBackend:
    """A Qdrant server when QDRANT_URL is set; otherwise the embedded engine QDRANT_EMBEDDED_ENGINE:
    "edge" (Qdrant Edge, HNSW and payload indexes in-process) or "local" (qdrant-client's local mode).
    QDRANT_PATH ":memory:" (the tests') is local mode's in-memory store: Edge always keeps files."""
    engine = settings.QDRANT_EMBEDDED_ENGINE
    if not settings.QDRANT_URL and engine == "edge" and settings.QDRANT_PATH != ":memory:":
        return EdgeBackend(
            collection=settings.QDRANT_COLLECTION,
            path=settings.QDRANT_PATH,
            hnsw_m=settings.QDRANT_EDGE_HNSW_M,
            hnsw_ef_construct=settings.QDRANT_EDGE_HNSW_EF_CONSTRUCT,
            hnsw_ef=settings.QDRANT_EDGE_HNSW_EF,
            indexing_threshold=settings.QDRANT_EDGE_INDEXING_THRESHOLD,
            payload_in_memory=settings.QDRANT_EDGE_PAYLOAD_IN_MEMORY,
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
    global _backend
    with _lock:
        backend, _backend = _backend, None
    if backend is not None:
        backend.close()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs) -> None:
    if setting.startswith("QDRANT_"):
        reset_backend()
    elif setting.startswith(("MEMORY_EMBED", "OPENAI_", "SENTENCE_TRANSFORMERS_")):
        backend = _backend
        if backend is not None:
            backend.verified_for = None  # another embedder: check the collection against it again
