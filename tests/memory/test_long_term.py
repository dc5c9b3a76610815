"""Long-term memory on both embedded engines (Qdrant Edge and qdrant-client's local mode): filtered
search equals a brute-force numpy ground truth, the ranking's components, idempotent upserts, deletes,
the collection's embedder record, payload indexes and health."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from apps.common.clock import to_ms
from apps.memory.services import long_term
from apps.memory.services.errors import EmbedderMismatchError, LongTermMemoryError
from apps.memory.services.long_term import MemoryFilter, MemoryPoint
from apps.memory.services.long_term.edge_backend import EdgeBackend
from apps.memory.services.recall import RankingWeights, memory_recall
from tests.factories import ExperienceFactory

from .conftest import TEST_DIMENSION

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
TAGS = ["btc", "eth", "oversold", "breakout", "reversal"]
N_POINTS = 300


@pytest.fixture(autouse=True, params=["edge", "local"])
def engine(request, settings, tmp_path):
    """Every test runs on both embedded engines. Edge keeps files, so it gets a directory."""
    settings.QDRANT_EMBEDDED_ENGINE = request.param
    if request.param == "edge":
        settings.QDRANT_PATH = str(tmp_path / "qdrant")
    long_term.reset_backend()
    yield request.param
    long_term.reset_backend()


def test_the_engine_is_the_one_configured(engine):
    backend = long_term.get_backend()
    assert isinstance(backend, EdgeBackend) == (engine == "edge")
    assert backend.description.startswith("Qdrant Edge" if engine == "edge" else "Qdrant local mode")


@pytest.fixture
def corpus(backend):
    """N random points with random payloads, in Qdrant and as numpy arrays for the ground truth."""
    rng = np.random.default_rng(20260301)
    vectors = rng.normal(size=(N_POINTS, TEST_DIMENSION))
    ids = [f"exp_{n:04d}" for n in range(N_POINTS)]
    outcomes = rng.choice(["success", "failure"], size=N_POINTS)
    importance = np.round(rng.uniform(0, 1, size=N_POINTS), 2)
    symbols = rng.choice(SYMBOLS, size=N_POINTS)
    tags = [sorted(set(rng.choice(TAGS, size=rng.integers(0, 3)))) for _ in range(N_POINTS)]
    timestamps = np.array([to_ms(NOW - timedelta(hours=int(h))) for h in rng.integers(0, 24 * 120, N_POINTS)])
    backend.upsert(
        [
            MemoryPoint(
                experience_id=ids[n],
                vector=vectors[n].tolist(),
                payload={
                    "id": ids[n],
                    "outcome": str(outcomes[n]),
                    "importance_score": float(importance[n]),
                    "symbol": str(symbols[n]),
                    "tags": list(tags[n]),
                    "timestamp": int(timestamps[n]),
                },
            )
            for n in range(N_POINTS)
        ]
    )
    return {
        "rng": rng,
        "ids": np.array(ids),
        "vectors": vectors,
        "outcomes": outcomes,
        "importance": importance,
        "symbols": symbols,
        "tags": tags,
        "timestamps": timestamps,
    }


def ground_truth_mask(corpus, where: MemoryFilter) -> np.ndarray:
    mask = np.ones(N_POINTS, dtype=bool)
    if where.outcome is not None:
        mask &= corpus["outcomes"] == where.outcome
    if where.min_importance is not None:
        mask &= corpus["importance"] >= where.min_importance
    if where.symbol is not None:
        mask &= corpus["symbols"] == where.symbol
    if where.tags:
        mask &= np.array([bool(set(where.tags) & set(t)) for t in corpus["tags"]])
    if where.since_ms is not None:
        mask &= corpus["timestamps"] >= where.since_ms
    if where.until_ms is not None:
        mask &= corpus["timestamps"] <= where.until_ms
    return mask


def cosine_to(corpus, query: np.ndarray) -> np.ndarray:
    vectors = corpus["vectors"]
    return vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))


FILTERS = {
    "none": MemoryFilter(),
    "outcome": MemoryFilter(outcome="success"),
    "min_importance": MemoryFilter(min_importance=0.7),
    "symbol": MemoryFilter(symbol="ETH/USDT"),
    "tags_any": MemoryFilter(tags=("breakout", "eth")),
    "date_range": MemoryFilter(
        since_ms=to_ms(NOW - timedelta(days=60)), until_ms=to_ms(NOW - timedelta(days=20))
    ),
    "everything": MemoryFilter(
        outcome="failure",
        min_importance=0.3,
        symbol="BTC/USDT",
        tags=("oversold", "reversal"),
        since_ms=to_ms(NOW - timedelta(days=100)),
    ),
    "nothing_matches": MemoryFilter(symbol="XRP/USDT"),
}


@pytest.mark.parametrize("name", FILTERS)
def test_filtered_search_returns_exactly_the_brute_force_nearest(corpus, backend, name):
    where = FILTERS[name]
    for _ in range(3):
        query = corpus["rng"].normal(size=TEST_DIMENSION)
        mask = ground_truth_mask(corpus, where)
        scores = cosine_to(corpus, query)
        candidates = np.flatnonzero(mask)
        expected = candidates[np.argsort(-scores[candidates], kind="stable")][:10]

        hits = backend.search(vector=query.tolist(), where=where, limit=10)

        assert [h.experience_id for h in hits] == list(corpus["ids"][expected])
        assert np.allclose([h.similarity for h in hits], scores[expected])
        assert all(where.matches(h.payload) for h in hits)
    if name == "nothing_matches":
        assert hits == []


def test_a_search_reads_only_the_fields_asked_for_and_retrieve_the_whole_points(corpus, backend):
    query = corpus["rng"].normal(size=TEST_DIMENSION)

    hits = backend.search(
        vector=query.tolist(), where=FILTERS["outcome"], limit=10, payload_fields=("importance_score",)
    )
    assert hits and all(set(hit.payload) == {"id", "importance_score"} for hit in hits)

    ids = [hit.experience_id for hit in hits[:4]]
    points = backend.retrieve(experience_ids=[*ids, "exp_gone"], vector=query.tolist())
    assert sorted(points) == sorted(ids)  # an id without a point is left out
    scores = cosine_to(corpus, query)
    for experience_id, point in points.items():
        n = int(np.flatnonzero(corpus["ids"] == experience_id)[0])
        assert point.payload == {
            "id": experience_id,
            "outcome": str(corpus["outcomes"][n]),
            "importance_score": float(corpus["importance"][n]),
            "symbol": str(corpus["symbols"][n]),
            "tags": list(corpus["tags"][n]),
            "timestamp": int(corpus["timestamps"][n]),
        }
        assert point.similarity == pytest.approx(scores[n])
    assert all(p.similarity is None for p in backend.retrieve(experience_ids=ids).values())
    assert backend.retrieve(experience_ids=[]) == {}


@pytest.mark.parametrize("name", ["none", "tags_any", "everything"])
def test_recall_ranks_exactly_as_the_documented_score(corpus, settings, name):
    settings.MEMORY_RECALL_CANDIDATES = N_POINTS  # every filtered point is re-ranked: exact
    where = FILTERS[name]
    weights = RankingWeights(similarity=0.6, importance=0.25, recency=0.15, half_life_days=30)
    query = corpus["rng"].normal(size=TEST_DIMENSION)
    since = datetime.fromtimestamp(where.since_ms / 1000, tz=UTC) if where.since_ms else None

    hits = memory_recall(
        vector=query.tolist(),
        outcome=where.outcome,
        min_importance=where.min_importance,
        symbol=where.symbol,
        tags=list(where.tags) or None,
        since=since,
        limit=15,
        now=NOW,
        weights=weights,
    )

    mask = ground_truth_mask(corpus, where)
    age_days = (to_ms(NOW) - corpus["timestamps"]) / 86_400_000
    recency = 0.5 ** (age_days / 30)
    score = 0.6 * cosine_to(corpus, query) + 0.25 * corpus["importance"] + 0.15 * recency
    candidates = np.flatnonzero(mask)
    expected = candidates[np.argsort(-score[candidates], kind="stable")][:15]
    assert [h.experience_id for h in hits] == list(corpus["ids"][expected])
    for hit in hits:
        n = int(np.flatnonzero(corpus["ids"] == hit.experience_id)[0])
        assert hit.importance == pytest.approx(corpus["importance"][n])
        assert hit.recency == pytest.approx(recency[n])
        assert hit.score == pytest.approx(0.6 * hit.similarity + 0.25 * hit.importance + 0.15 * hit.recency)
        assert set(hit.components) == {"similarity", "importance", "recency"}


def test_recency_halves_every_half_life(backend):
    weights = RankingWeights(similarity=0, importance=0, recency=1, half_life_days=10)
    for days in (0, 10, 20):
        moment = NOW - timedelta(days=days)
        backend.upsert(
            [
                MemoryPoint(
                    experience_id=f"exp_{days}",
                    vector=[1.0] * TEST_DIMENSION,
                    payload={"id": f"exp_{days}", "timestamp": to_ms(moment), "importance_score": 0.5},
                )
            ]
        )
    hits = memory_recall(vector=[1.0] * TEST_DIMENSION, now=NOW, weights=weights)
    assert [(h.experience_id, round(h.recency, 6)) for h in hits] == [
        ("exp_0", 1.0),
        ("exp_10", 0.5),
        ("exp_20", 0.25),
    ]


# --- experiences as points ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_payload_is_the_seeds_with_exact_money():
    experience = ExperienceFactory(
        id="exp_123",
        pnl=Decimal("1250.5"),
        pnl_percentage=Decimal("2.5"),
        importance_score=Decimal("0.85"),
        situation_tags=["btc", "oversold", "reversal"],
        datetime=datetime(2024, 1, 1, tzinfo=UTC),
        timestamp=1704067200000,
    )
    experience.refresh_from_db()

    payload = long_term.experience_payload(experience)

    assert set(payload) == {
        "id",
        "situation",
        "decision",
        "decision_reasoning",
        "outcome",
        "pnl",
        "pnl_percentage",
        "reflection",
        "lessons_learned",
        "tags",
        "importance_score",
        "symbol",
        "timestamp",
        "datetime",
        # Beyond the seed: the situation's direction features and the experience superseding it.
        "features",
        "superseded_by",
    }
    assert payload["superseded_by"] is None
    assert payload["pnl"] == "1250.50000000"
    assert payload["pnl_percentage"] == "2.5000"
    assert payload["importance_score"] == 0.85
    assert payload["tags"] == ["btc", "oversold", "reversal"]
    assert payload["timestamp"] == 1704067200000
    assert payload["datetime"] == "2024-01-01T00:00:00Z"


@pytest.mark.django_db
def test_writing_an_experience_twice_overwrites_its_point(backend):
    experience = ExperienceFactory(id="exp_twice", situation="BTC oversold")
    long_term.experiences_upsert([experience])
    experience.situation = "BTC overbought"
    long_term.experiences_upsert([experience])

    assert backend.count() == 1
    [point] = list(backend.scroll())
    assert point.payload["situation"] == "BTC overbought"
    assert long_term.point_id("exp_twice") == str(uuid.uuid5(long_term.POINT_NAMESPACE, "exp_twice"))


@pytest.mark.django_db
def test_batch_upsert_and_delete(backend):
    experiences = ExperienceFactory.create_batch(5)
    assert long_term.experiences_upsert(experiences) == 5

    long_term.experiences_remove([experiences[0].id, experiences[1].id])

    remaining = {point.experience_id for point in backend.scroll()}
    assert remaining == {e.id for e in experiences[2:]}
    hits = memory_recall(text=experiences[0].situation, limit=10)
    assert experiences[0].id not in {h.experience_id for h in hits}


# --- the collection -----------------------------------------------------------------------------


def test_the_collection_records_its_embedder_and_dimension():
    report = long_term.collection_ensure()

    assert report.created is True
    assert report.state.dimension == TEST_DIMENSION
    assert report.state.metadata == {
        "embedder": "hashing-v1",
        "dimension": TEST_DIMENSION,
        "layout": "hybrid-v1",
        "lexical": "lexical-v1",
    }
    again = long_term.collection_ensure()
    assert again.created is False


def test_another_dimension_is_a_clear_error_naming_the_fix(backend, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32

    with pytest.raises(EmbedderMismatchError) as error:
        long_term.collection_ensure()
    assert "manage.py reindex_memory --recreate" in str(error.value)
    assert "64 dimensions" in str(error.value)


def test_another_embedder_with_the_same_dimension_is_refused_too(backend):
    backend.set_metadata(metadata={"embedder": "openai/text-embedding-3-small", "dimension": TEST_DIMENSION})

    with pytest.raises(EmbedderMismatchError, match="openai/text-embedding-3-small"):
        long_term.collection_ensure()


def test_recall_refuses_to_compare_vectors_of_another_embedder(backend, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32
    with pytest.raises(EmbedderMismatchError):
        memory_recall(text="BTC oversold")


def test_recreate_builds_the_collection_for_the_new_embedder(backend, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32
    report = long_term.collection_recreate()

    assert report.state.dimension == 32
    assert long_term.collection_ensure().created is False


class RecordingClient:
    """The qdrant-client calls a server would receive for payload indexes (local mode ignores them)."""

    def __init__(self, client):
        self._client = client
        self.created = {}

    def create_payload_index(self, collection_name, *, field_name, field_schema, wait):
        self.created[field_name] = field_schema

    def get_collection(self, name):
        info = self._client.get_collection(name)
        info.payload_schema = dict.fromkeys(self.created, None)
        return info

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.mark.parametrize("engine", ["local"], indirect=True)
def test_payload_indexes_are_created_once_on_a_server():
    backend = long_term.get_backend()
    backend.supports_payload_indexes = True
    backend._client = RecordingClient(backend._client)

    first = long_term.collection_ensure()
    second = long_term.collection_ensure()

    assert backend._client.created == {
        "outcome": "keyword",
        "importance_score": "float",
        "symbol": "keyword",
        "tags": "keyword",
        "timestamp": "integer",
        "superseded_by": "keyword",
    }
    assert sorted(first.indexes_created) == sorted(long_term.PAYLOAD_INDEXES)
    assert second.indexes_created == ()


@pytest.mark.parametrize("engine", ["local"], indirect=True)
def test_local_mode_creates_no_payload_index():
    report = long_term.collection_ensure()
    assert report.indexes_created == ()


@pytest.mark.parametrize("engine", ["edge"], indirect=True)
def test_edge_creates_every_payload_index_once():
    first = long_term.collection_ensure()
    second = long_term.collection_ensure()

    assert sorted(first.indexes_created) == sorted(long_term.PAYLOAD_INDEXES)
    assert first.state.payload_indexes == tuple(sorted(long_term.PAYLOAD_INDEXES))
    assert second.indexes_created == ()


def test_a_local_directory_in_use_is_a_clear_error(settings, tmp_path):
    settings.QDRANT_PATH = str(tmp_path)
    first = long_term.build_backend()
    try:
        first.create_collection(dimension=TEST_DIMENSION, metadata={})
        with pytest.raises(LongTermMemoryError, match="in use by another process"):
            long_term.build_backend().describe()
    finally:
        first.close()


@pytest.mark.django_db
def test_local_mode_on_disk_keeps_the_points_for_the_next_process(settings, tmp_path):
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    long_term.experiences_upsert([ExperienceFactory(id="exp_kept")])
    long_term.reset_backend()  # the process ends: saved and unlocked

    assert [p.experience_id for p in long_term.get_backend().scroll()] == ["exp_kept"]
    assert long_term.collection_ensure().created is False


class RefusingShard:
    """An Edge shard whose every call fails, as a damaged or vanished directory would."""

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise OSError("No such file or directory")

        return refuse


def test_a_failing_client_becomes_a_long_term_memory_error(backend, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("connection refused")

    if isinstance(backend, EdgeBackend):
        monkeypatch.setattr(backend, "_open", RefusingShard)
    else:
        monkeypatch.setattr(backend._client, "query_points", refuse)
    with pytest.raises(LongTermMemoryError, match="search failed"):
        memory_recall(text="BTC oversold")


# --- recall input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "text"),
        ({"text": "x", "vector": [0.0] * TEST_DIMENSION}, "text"),
        ({"text": "  "}, "text"),
        ({"text": "x", "outcome": "win"}, "outcome"),
        ({"text": "x", "tags": "btc"}, "tags"),
        ({"text": "x", "tags": ["btc", ""]}, "tags"),
        ({"text": "x", "min_importance": 1.5}, "min_importance"),
        ({"text": "x", "min_importance": "high"}, "min_importance"),
        ({"text": "x", "limit": 0}, "limit"),
        ({"text": "x", "since": datetime(2026, 1, 1)}, "since"),
        ({"text": "x", "since": NOW, "until": NOW - timedelta(days=1)}, "since"),
        ({"vector": [0.1, 0.2]}, "vector"),
    ],
)
def test_bad_recall_input_names_the_field(backend, kwargs, field):
    with pytest.raises(ValidationError) as error:
        memory_recall(**kwargs)
    assert field in error.value.message_dict


# --- health -------------------------------------------------------------------------------------


def test_health_before_and_after_the_collection_exists(settings):
    before = long_term.long_term_health()
    assert before.ok is False
    assert "init_databases" in before.detail

    long_term.collection_ensure()
    assert long_term.long_term_health().ok is True

    settings.MEMORY_EMBEDDING_DIMENSION = 32
    mismatch = long_term.long_term_health()
    assert mismatch.ok is False
    assert "reindex_memory --recreate" in mismatch.detail
