"""What only the Qdrant Edge backend does: the HNSW graph built once enough points are unindexed and
still finding the true nearest, its files (collection record, temporary directory), and clear errors.
The behaviour it shares with local mode is tested on both engines in test_long_term.py."""

import json

import numpy as np
import pytest

from apps.memory.services.errors import LongTermMemoryError
from apps.memory.services.long_term import MemoryFilter, MemoryPoint
from apps.memory.services.long_term.edge_backend import COLLECTION_FILE, EdgeBackend

DIMENSION = 32


def points(vectors, *, start=0):
    return [
        MemoryPoint(
            experience_id=f"exp_{start + n:05d}",
            vector=vector.tolist(),
            payload={
                "id": f"exp_{start + n:05d}",
                "outcome": "success" if (start + n) % 2 else "failure",
                "importance_score": round(((start + n) % 10) / 10, 1),
            },
        )
        for n, vector in enumerate(vectors)
    ]


@pytest.fixture
def edge(tmp_path):
    # A full-scan threshold of 1 KB: every search below walks the graph once there is one.
    backend = EdgeBackend(
        collection="experiences", path=str(tmp_path), indexing_threshold=500, full_scan_threshold_kb=1
    )
    backend.create_collection(dimension=DIMENSION, metadata={"embedder": "test", "dimension": DIMENSION})
    backend.create_payload_indexes({"outcome": "keyword", "importance_score": "float"})
    yield backend
    backend.close()


def indexed(backend) -> int:
    return backend._open().info().indexed_vectors_count


def test_the_write_that_crosses_the_threshold_builds_the_graph_and_search_stays_right(edge):
    rng = np.random.default_rng(5)
    # Clustered like real embeddings: 40 centres, points scattered around them.
    centres = rng.normal(size=(40, DIMENSION))
    vectors = centres[rng.integers(0, 40, 1200)] + 0.3 * rng.normal(size=(1200, DIMENSION))

    edge.upsert(points(vectors[:400]))
    assert indexed(edge) == 0  # below the threshold: a plain segment, searched exactly
    edge.upsert(points(vectors[400:], start=400))
    assert indexed(edge) == 1200
    assert edge.optimize() is False  # nothing left to do

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.array([f"exp_{n:05d}" for n in range(1200)])
    success_and_important = np.array([n % 2 == 1 and (n % 10) / 10 >= 0.5 for n in range(1200)])
    found = expected_total = 0
    for query in centres[:20] + 0.3 * rng.normal(size=(20, DIMENSION)):
        for where, mask in (
            (MemoryFilter(), np.ones(1200, dtype=bool)),
            (MemoryFilter(outcome="success", min_importance=0.5), success_and_important),
        ):
            scores = unit @ (query / np.linalg.norm(query))
            scores[~mask] = -np.inf
            expected = set(ids[np.argsort(-scores)[:10]])
            hits = edge.search(vector=query.tolist(), where=where, limit=10)
            assert all(where.matches(hit.payload) for hit in hits)
            found += len(expected & {hit.experience_id for hit in hits})
            expected_total += 10
    assert found / expected_total >= 0.95


def test_the_collection_record_and_the_points_outlive_the_process(tmp_path):
    first = EdgeBackend(collection="experiences", path=str(tmp_path))
    first.create_collection(dimension=DIMENSION, metadata={"embedder": "hashing-v1", "dimension": DIMENSION})
    first.upsert(points(np.ones((3, DIMENSION))))
    first.close()

    record = json.loads((tmp_path / "edge" / "experiences" / COLLECTION_FILE).read_text())
    assert record == {"dimension": DIMENSION, "metadata": {"embedder": "hashing-v1", "dimension": DIMENSION}}
    again = EdgeBackend(collection="experiences", path=str(tmp_path))
    try:
        state = again.describe()
        assert (state.exists, state.dimension, state.points_count) == (True, DIMENSION, 3)
        assert state.metadata["embedder"] == "hashing-v1"
    finally:
        again.close()


def test_payloads_stay_on_disk_unless_asked_into_memory(edge, tmp_path):
    # Cold by default: a web worker's resident memory; Cached when QDRANT_EDGE_PAYLOAD_IN_MEMORY asks.
    config = json.loads((edge._shard_path / "edge_config.json").read_text())
    assert config["payload_memory"] == "cold"
    cached = EdgeBackend(collection="experiences", path=str(tmp_path / "cached"), payload_in_memory=True)
    try:
        cached.create_collection(dimension=DIMENSION, metadata={})
        config = json.loads((cached._shard_path / "edge_config.json").read_text())
        assert config["payload_memory"] == "cached"
    finally:
        cached.close()


def test_in_memory_leaves_no_files_behind():
    backend = EdgeBackend(collection="experiences")
    backend.create_collection(dimension=DIMENSION, metadata={})
    directory = backend._directory
    assert directory.is_dir()

    backend.close()

    assert not directory.exists()
    assert not directory.parent.exists()


def test_drop_removes_the_collection_and_create_refuses_a_second_one(edge):
    with pytest.raises(LongTermMemoryError, match="already exists"):
        edge.create_collection(dimension=DIMENSION, metadata={})

    edge.drop_collection()

    assert edge.describe().exists is False
    assert not edge._directory.exists()
    with pytest.raises(LongTermMemoryError, match="does not exist"):
        edge.count()


def test_a_damaged_collection_record_is_a_clear_error(edge):
    (edge._directory / COLLECTION_FILE).write_text("{not json")

    with pytest.raises(LongTermMemoryError, match="reindex_memory --recreate"):
        edge.describe()


def test_a_vector_of_another_size_is_refused_and_changes_nothing(edge):
    edge.upsert(points(np.ones((2, DIMENSION))))

    with pytest.raises(LongTermMemoryError, match="upsert failed"):
        edge.upsert(points(np.ones((1, DIMENSION + 1)), start=2))
    assert edge.count() == 2
