"""POST/GET/PATCH /api/v1/experiences/ through the memory service; POST /api/v1/memory/recall/."""

from decimal import Decimal

import pytest

from apps.agents.models import AgentWrite
from apps.memory.models import Experience, MemoryOutbox
from apps.memory.services import long_term
from tests.factories import DecisionFactory, ExperienceFactory

pytestmark = pytest.mark.django_db


def experience(**overrides):
    body = {
        "situation": "BTC at 45000, RSI 28 on the 1h, funding negative, after a 6% drop in a day.",
        "tags": ["btc", "oversold", "reversal"],
        "decision": "Enter long 0.01 BTC",
        "decision_reasoning": "Oversold bounces have worked in this range.",
        "outcome": "success",
        "pnl": "125.5",
        "pnl_percentage": "2.5",
        "lessons_learned": ["Wait for the 4h close"],
        "importance_score": 0.8,
        "symbol": "BTC/USDT",
        "timestamp": 1_767_225_600_000,
    }
    body.update(overrides)
    return body


def test_an_experience_is_recorded_in_postgresql_and_queued_for_memory(api):
    DecisionFactory(id="dec_1")

    response = api.post("/api/v1/experiences/", experience(decision_id="dec_1"), format="json")

    assert response.status_code == 201
    body = response.json()
    row = Experience.objects.get(pk=body["id"])
    assert row.situation_tags == ["btc", "oversold", "reversal"]
    assert (row.pnl, row.importance_score, row.decision_ref_id) == (
        Decimal("125.5"),
        Decimal("0.80"),
        "dec_1",
    )
    assert body["importance_score"] == "0.80" and body["decision_id"] == "dec_1"
    assert MemoryOutbox.objects.filter(experience_id=row.pk).exists()
    assert AgentWrite.objects.filter(resource="experiences", object_id=row.pk).exists()


def test_create_honours_the_idempotency_key(api):
    first = api.post("/api/v1/experiences/", experience(), format="json", HTTP_IDEMPOTENCY_KEY="x-1")
    again = api.post("/api/v1/experiences/", experience(), format="json", HTTP_IDEMPOTENCY_KEY="x-1")
    other = api.post(
        "/api/v1/experiences/", experience(outcome="failure"), format="json", HTTP_IDEMPOTENCY_KEY="x-1"
    )

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 409)
    assert again.json()["id"] == first.json()["id"]
    assert Experience.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"outcome": "meh"}, "outcome"),
        ({"importance_score": 1.5}, "importance_score"),
        ({"situation": ""}, "situation"),
        ({"decision_id": "dec_missing"}, "decision_id"),
        ({"tags": "btc"}, "tags"),
        ({"tags": ["btc", ""]}, "tags"),  # refused by the service, reported under the key sent
        ({"tags": ["btc", "   "]}, "tags"),
        ({"situation_tags": ["btc", ""]}, "situation_tags"),
        ({"decisionId": "dec_missing"}, "decisionId"),
        ({"pnl": "NaN"}, "pnl"),
    ],
)
def test_bad_experiences_are_refused_and_nothing_is_written(api, overrides, field):
    response = api.post("/api/v1/experiences/", experience(**overrides), format="json")

    assert response.status_code == 400
    details = response.json()["details"]
    assert list(details) == [field], details  # under the key the client sent, and only there
    assert not Experience.objects.exists()


def test_a_duplicate_id_is_refused(api):
    ExperienceFactory(id="exp_1")

    response = api.post("/api/v1/experiences/", experience(id="exp_1"), format="json")

    assert response.status_code == 400 and "id" in response.json()["details"]


def test_patch_changes_only_the_review_fields_sent(api):
    row = ExperienceFactory(
        id="exp_1", reflection="old", importance_score=Decimal("0.5"), situation_tags=["btc"]
    )

    response = api.patch(
        "/api/v1/experiences/exp_1/",
        {"reflection": "Entry was early.", "importance_score": "0.9", "situation_tags": ["btc", "early"]},
        format="json",
    )

    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.reflection, row.importance_score, row.situation_tags) == (
        "Entry was early.",
        Decimal("0.90"),
        ["btc", "early"],
    )
    assert row.lessons_learned == ["Wait for confirmation"]
    assert response.json()["updated_at"] >= response.json()["created_at"]


@pytest.mark.parametrize("key", ["tags", "situation_tags"])
def test_a_review_with_a_blank_tag_is_refused_under_the_key_sent(api, key):
    row = ExperienceFactory(id="exp_1", situation_tags=["btc"])

    response = api.patch("/api/v1/experiences/exp_1/", {key: ["btc", ""]}, format="json")

    assert response.status_code == 400
    assert list(response.json()["details"]) == [key], response.json()
    row.refresh_from_db()
    assert row.situation_tags == ["btc"]


def test_patch_refuses_bad_values_and_unknown_experiences(api):
    ExperienceFactory(id="exp_1")

    assert api.patch("/api/v1/experiences/exp_1/", {"importance_score": 2}, format="json").status_code == 400
    assert api.patch("/api/v1/experiences/nope/", {"reflection": "x"}, format="json").status_code == 404
    assert api.put("/api/v1/experiences/exp_1/", experience(), format="json").status_code == 405


def test_filters(api, django_assert_max_num_queries):
    ExperienceFactory(
        outcome="success", symbol="BTC/USDT", situation_tags=["btc", "breakout"], importance_score="0.9"
    )
    ExperienceFactory(outcome="failure", symbol="BTC/USDT", situation_tags=["btc"], importance_score="0.3")
    ExperienceFactory(outcome="success", symbol="ETH/USDT", situation_tags=["eth"], importance_score="0.7")
    api.get("/api/v1/experiences/")

    def count(query):
        with django_assert_max_num_queries(2):
            return len(api.get(f"/api/v1/experiences/?{query}").json()["results"])

    assert count("outcome=success") == 2
    assert count("symbol=BTC/USDT&outcome=failure") == 1
    assert count("tags=btc,breakout") == 1
    assert count("min_importance=0.5") == 2


class TestRecall:
    @pytest.fixture
    def remembered(self, api, django_capture_on_commit_callbacks):
        long_term.collection_ensure()
        bodies = [
            experience(id="exp_oversold", situation="BTC oversold bounce after a sharp drop, RSI under 30"),
            experience(
                id="exp_breakout",
                situation="ETH breakout above resistance on rising volume",
                symbol="ETH/USDT",
                tags=["eth", "breakout"],
                outcome="failure",
                importance_score=0.4,
            ),
        ]
        with django_capture_on_commit_callbacks(execute=True):
            for body in bodies:
                assert api.post("/api/v1/experiences/", body, format="json").status_code == 201

    def test_recall_ranks_the_similar_experience_first_with_its_score_components(self, api, remembered):
        response = api.post(
            "/api/v1/memory/recall/",
            {"text": "BTC oversold after a sharp drop, RSI 25", "limit": 2},
            format="json",
        )

        assert response.status_code == 200
        results = response.json()["results"]
        assert results[0]["experience"]["id"] == "exp_oversold"
        top = results[0]
        assert set(top["components"]) == {"similarity", "importance", "recency"}
        assert top["score"] >= results[-1]["score"]

    def test_recall_filters(self, api, remembered):
        response = api.post(
            "/api/v1/memory/recall/",
            {
                "text": "breakout",
                "outcome": "success",
                "symbol": "BTC/USDT",
                "min_importance": 0.5,
                "tags": ["btc"],
            },
            format="json",
        )

        assert [r["experience"]["id"] for r in response.json()["results"]] == ["exp_oversold"]

    def test_recall_needs_a_text_or_a_vector(self, api):
        assert api.post("/api/v1/memory/recall/", {"limit": 3}, format="json").status_code == 400
        assert api.post("/api/v1/memory/recall/", {"text": "x", "limit": 0}, format="json").status_code == 400
        assert api.post("/api/v1/memory/recall/", {"vector": [0, 0]}, format="json").status_code == 400

    def test_a_vector_of_the_wrong_size_is_a_400(self, api, remembered):
        response = api.post("/api/v1/memory/recall/", {"vector": [0.1, 0.2, 0.3]}, format="json")

        assert response.status_code == 400 and "vector" in response.json()["details"]

    def test_long_term_memory_down_is_a_503_that_says_so(self, api, monkeypatch):
        def broken():
            raise long_term.LongTermMemoryError("Qdrant did not answer")

        monkeypatch.setattr(long_term, "collection_ready", broken)

        response = api.post("/api/v1/memory/recall/", {"text": "anything"}, format="json")

        assert response.status_code == 503
        assert "Long-term memory is unavailable" in response.json()["message"]
