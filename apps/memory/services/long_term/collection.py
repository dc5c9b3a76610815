"""The collection: created for the configured embedder with the seed's payload indexes, checked once per
backend against it, rebuilt on request; and its health."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from apps.common.health import HealthStatus

from ..embeddings import Embedder, get_embedder
from ..errors import EmbedderMismatchError
from ..lexical import LEXICAL_VERSION
from .factory import get_backend
from .interface import LAYOUT, PAYLOAD_INDEXES, RECREATE_HINT, CollectionState, LongTermBackend


def collection_metadata(embedder: Embedder) -> dict[str, Any]:
    return {
        "embedder": embedder.name,
        "dimension": embedder.dimension,
        "layout": LAYOUT,
        "lexical": LEXICAL_VERSION,
    }


@dataclass(frozen=True)
class CollectionReport:
    state: CollectionState
    created: bool = False
    indexes_created: tuple[str, ...] = ()
    metadata_recorded: bool = False


def _mismatch(state: CollectionState, embedder: Embedder) -> str | None:
    recorded_embedder = state.metadata.get("embedder")
    recorded_layout = state.metadata.get("layout")
    if recorded_embedder and (
        recorded_layout != LAYOUT or state.metadata.get("lexical") != LEXICAL_VERSION
    ):
        return (
            f"The Qdrant collection {state.name!r} was built by {recorded_embedder} in the layout "
            f"{recorded_layout or 'dense-only (one unnamed vector)'}, but this version keeps {LAYOUT} "
            f"(a dense and a lexical sparse vector, {LEXICAL_VERSION}). Rebuild it from PostgreSQL: "
            f"{RECREATE_HINT}"
        )
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
    backend = get_backend()
    embedder = get_embedder()
    state = backend.describe()
    if not state.exists:
        if not create:
            return CollectionReport(state=state)
        backend.create_collection(dimension=embedder.dimension, metadata=collection_metadata(embedder))
        indexes = backend.create_payload_indexes(PAYLOAD_INDEXES)
        backend.verified_for = (embedder.name, embedder.dimension)
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
    backend.verified_for = (embedder.name, embedder.dimension)
    return CollectionReport(
        state=backend.describe() if (recorded or indexes) else state,
        indexes_created=tuple(indexes),
        metadata_recorded=recorded,
    )


def collection_ready() -> LongTermBackend:
    """The backend, its collection checked (once per process) against the configured embedder."""
    embedder = get_embedder()
    if get_backend().verified_for != (embedder.name, embedder.dimension):
        collection_ensure()
    return get_backend()


def collection_recreate() -> CollectionReport:
    """Drop the collection and create it empty for the configured embedder."""
    backend = get_backend()
    if backend.describe().exists:
        backend.drop_collection()
    backend.verified_for = None
    return collection_ensure()


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
