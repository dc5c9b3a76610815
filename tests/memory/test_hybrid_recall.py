"""Hybrid recall on both embedded engines: the lexical match fused with the dense one, direction
features pushing opposites down, every hit's explanation, whole payload and cosine, superseded
experiences left out by default, and recalls kept for the decisions they were made for."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from apps.memory.models import Experience, MemoryRecall, MemoryRecallHit
from apps.memory.services import long_term
from apps.memory.services.embeddings import get_embedder
from apps.memory.services.lifecycle import experience_supersede
from apps.memory.services.recall import memory_recall, recall_link
from tests.factories import DecisionFactory, ExperienceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["edge", "local"])
def engine(request, settings, tmp_path):
    settings.QDRANT_EMBEDDED_ENGINE = request.param
    if request.param == "edge":
        settings.QDRANT_PATH = str(tmp_path / "qdrant")
    long_term.reset_backend()
    yield request.param
    long_term.reset_backend()


def _index(*experiences):
    long_term.experiences_upsert(Experience.objects.filter(pk__in=[e.pk for e in experiences]))


@pytest.fixture
def remembered():
    _index(
        ExperienceFactory(
            id="exp_oversold",
            situation="BTC dumped 9% and the RSI hit 24: oversold, bought the bounce.",
            situation_tags=["btc"],
        ),
        ExperienceFactory(
            id="exp_overbought",
            situation="BTC ripped 9% and the RSI hit 82: overbought, faded the spike.",
            situation_tags=["btc"],
        ),
        ExperienceFactory(
            id="exp_funding",
            situation="Funding on ETH perps deeply negative while price held; longed the squeeze.",
            situation_tags=["eth"],
        ),
    )


def test_the_opposite_direction_is_pushed_below_the_match(remembered):
    hits = memory_recall(text="bitcoin oversold, RSI 26 after a selloff", limit=3)

    ranked = [hit.experience_id for hit in hits]
    assert ranked.index("exp_oversold") < ranked.index("exp_overbought")
    by_id = {hit.experience_id: hit for hit in hits}
    assert by_id["exp_oversold"].direction["rsi"] == "match"
    assert by_id["exp_overbought"].direction["rsi"] == "opposite"
    assert by_id["exp_overbought"].direction_adjustment < 0
    assert "rsi:oversold" in hits.query_features


def test_without_direction_features_the_opposite_is_not_pushed_down(remembered):
    from apps.memory.services.recall import RankingWeights

    flat = RankingWeights(similarity=0.6, importance=0.2, recency=0.2, half_life_days=30)
    hits = memory_recall(text="bitcoin oversold, RSI 26 after a selloff", limit=3, weights=flat)

    assert all(hit.direction_adjustment == 0 for hit in hits)


def test_a_hybrid_hit_explains_its_score(remembered):
    hybrid = memory_recall(text="funding negative squeeze", limit=3)
    dense = memory_recall(text="funding negative squeeze", limit=3, hybrid=False)

    top = hybrid[0]
    assert top.experience_id == "exp_funding"
    assert top.fused is not None and 0 < top.relevance <= 1
    assert set(top.explanation) == {
        "relevance", "similarity", "fused", "importance", "recency", "direction", "direction_adjustment",
        "features",
    }  # fmt: skip
    assert top.explanation["direction"] == {"funding": "match"}
    assert -1 <= top.similarity <= 1
    assert all(hit.fused is None for hit in dense)
    assert dense[0].relevance == dense[0].similarity


@pytest.mark.parametrize("hybrid", [True, False])
def test_every_hit_carries_its_whole_payload_and_its_cosine(remembered, hybrid):
    """The search reads only the fields the ranking needs; the hits kept are read whole."""
    text = "bitcoin oversold, RSI 26 after a selloff"
    hits = memory_recall(text=text, limit=3, hybrid=hybrid)

    assert len(hits) == 3
    embedder = get_embedder()
    query = np.array(embedder.embed_one(text))
    for hit in hits:
        experience = Experience.objects.get(pk=hit.experience_id)
        assert hit.payload == long_term.experience_payload(experience)
        stored = np.array(embedder.embed_one(long_term.experience_embedding_text(experience)))
        cosine = float(query @ stored / (np.linalg.norm(query) * np.linalg.norm(stored)))
        assert hit.similarity == pytest.approx(cosine, abs=1e-5)
        assert hit.explanation["features"] == hit.payload["features"]
        assert hit.explanation["similarity"] == hit.similarity
    assert hits[0].experience_id == "exp_oversold" and hits[0].direction["rsi"] == "match"
    assert (hits[0].fused is not None) == hybrid


def test_a_point_removed_after_the_search_gives_its_place_to_the_next_candidate(remembered, monkeypatch):
    backend = long_term.collection_ready()
    search = backend.search

    def search_then_delete(**kwargs):
        candidates = search(**kwargs)
        backend.delete(["exp_oversold"])  # another process removes it meanwhile
        return candidates

    monkeypatch.setattr(backend, "search", search_then_delete)
    hits = memory_recall(text="bitcoin oversold, RSI 26 after a selloff", limit=2)

    assert len(hits) == 2
    assert "exp_oversold" not in [hit.experience_id for hit in hits]
    assert all(hit.similarity is not None and hit.payload["situation"] for hit in hits)


def test_both_fusions_run(remembered, settings):
    for fusion in ("rrf", "dbsf"):
        settings.MEMORY_HYBRID_FUSION = fusion
        assert memory_recall(text="funding negative squeeze", limit=1)[0].experience_id == "exp_funding"


def test_a_superseded_experience_leaves_default_recall_and_stays_searchable(remembered, on_commit):
    newer = ExperienceFactory(id="exp_oversold_v2", situation="BTC oversold at RSI 24 again; bought.")
    _index(newer)
    with on_commit():  # the older one's point is pushed again, now superseded
        experience_supersede(experience=newer, supersedes=Experience.objects.get(pk="exp_oversold"))

    default = [hit.experience_id for hit in memory_recall(text="BTC oversold RSI 24", limit=10)]
    everything = [
        hit.experience_id
        for hit in memory_recall(text="BTC oversold RSI 24", limit=10, include_superseded=True)
    ]

    assert "exp_oversold" not in default and "exp_oversold_v2" in default
    assert "exp_oversold" in everything


def test_a_recall_for_a_decision_is_kept_with_its_hits(remembered):
    decision = DecisionFactory(id="dec_1", input_context={"rsi": 25})

    hits = memory_recall(text="BTC after a sharp drop", limit=3, decision_id="dec_1")

    recall = MemoryRecall.objects.get(pk=hits.recall_id)
    assert recall.decision == decision and recall.hybrid is True
    # The decision's input context gave the query a direction the text does not state.
    assert "rsi:oversold" in recall.query_features
    kept = list(MemoryRecallHit.objects.filter(recall=recall).values_list("experience_id", "rank", "score"))
    assert [(i, rank) for i, rank, _ in kept] == [
        (hit.experience_id, n) for n, hit in enumerate(hits, start=1)
    ]
    assert kept[0][2] == pytest.approx(hits[0].score)
    assert recall.hits.get(rank=1).explanation["direction"] == hits[0].explanation["direction"]


def test_a_recall_is_kept_on_request_and_linked_to_its_decision_later(remembered):
    hits = memory_recall(text="BTC oversold", limit=2, keep=True)
    assert MemoryRecall.objects.get(pk=hits.recall_id).decision is None
    DecisionFactory(id="dec_later")

    recall = recall_link(recall_id=hits.recall_id, decision_id="dec_later")

    assert recall.decision_id == "dec_later"
    DecisionFactory(id="dec_other")
    with pytest.raises(ValidationError, match="already belongs to decision 'dec_later'"):
        recall_link(recall_id=hits.recall_id, decision_id="dec_other")


def test_an_unknown_decision_is_refused_and_nothing_is_kept(remembered):
    with pytest.raises(ValidationError) as error:
        memory_recall(text="BTC oversold", decision_id="dec_missing")

    assert "decision_id" in error.value.message_dict
    assert not MemoryRecall.objects.exists()
    assert memory_recall(text="BTC oversold").recall_id is None
    assert not MemoryRecall.objects.exists()
