"""POST /api/v1/memory/recall/ for a decision (kept, with explanations), linking a kept recall after,
and GET /api/v1/memory/playbook/."""

import pytest

from apps.memory.models import Experience, MemoryRecall
from apps.memory.services import long_term
from tests.factories import DecisionFactory, ExperienceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def remembered():
    ExperienceFactory(id="exp_oversold", situation="BTC oversold, RSI 24 after a dump; bought the bounce.")
    ExperienceFactory(id="exp_overbought", situation="BTC overbought, RSI 81 after a pump; faded it.")
    long_term.experiences_upsert(Experience.objects.all())


def test_a_recall_for_a_decision_is_kept_and_each_hit_explained(api, remembered):
    DecisionFactory(id="dec_1")

    response = api.post(
        "/api/v1/memory/recall/",
        {"text": "bitcoin oversold after a selloff", "limit": 2, "decision_id": "dec_1"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert MemoryRecall.objects.get(pk=body["recall_id"]).decision_id == "dec_1"
    assert "rsi:oversold" in body["query_features"]
    top, second = body["results"]
    assert (top["rank"], top["experience"]["id"]) == (1, "exp_oversold")
    # The RSI zone, and the price move (a dump, a selloff; a pump the other way).
    assert top["explanation"]["direction"] == {"rsi": "match", "move": "match"}
    assert second["explanation"]["direction"] == {"rsi": "opposite", "move": "opposite"}
    assert second["explanation"]["direction_adjustment"] < 0


def test_an_unknown_decision_is_a_400_naming_the_field(api, remembered):
    response = api.post("/api/v1/memory/recall/", {"text": "btc", "decision_id": "dec_nope"}, format="json")

    assert response.status_code == 400 and "decision_id" in response.json()["details"]
    assert not MemoryRecall.objects.exists()


def test_a_kept_recall_is_linked_to_its_decision_after(api, remembered):
    recall_id = api.post("/api/v1/memory/recall/", {"text": "btc", "keep": True}, format="json").json()[
        "recall_id"
    ]
    DecisionFactory(id="dec_2")

    response = api.post(f"/api/v1/memory/recalls/{recall_id}/link/", {"decision_id": "dec_2"}, format="json")

    assert response.status_code == 200 and response.json() == {"recall_id": recall_id, "decision_id": "dec_2"}
    missing = api.post("/api/v1/memory/recalls/999999/link/", {"decision_id": "dec_2"}, format="json")
    assert missing.status_code == 400 and "recall_id" in missing.json()["details"]


def test_the_playbook_endpoint_lists_recurring_lessons_per_tag(api):
    for _ in range(2):
        ExperienceFactory(situation_tags=["oversold"], lessons_learned=["Wait for the 4h close"])

    response = api.get("/api/v1/memory/playbook/", {"tag": "oversold"})

    assert response.status_code == 200
    (entry,) = response.json()["tags"]
    assert entry["tag"] == "oversold"
    assert entry["lessons"][0]["lesson"] == "Wait for the 4h close"
    assert entry["lessons"][0]["experiences"] == 2
    assert api.get("/api/v1/memory/playbook/", {"min_experiences": 0}).status_code == 400
