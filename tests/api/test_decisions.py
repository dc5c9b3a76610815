"""POST/GET /api/v1/decisions/, and the Idempotency-Key on creates."""

from datetime import UTC, datetime

import pytest

from apps.agents.models import AgentWrite, IdempotencyKey
from apps.decisions.models import Decision
from tests.agents.factories import AgentFactory
from tests.factories import DecisionFactory

pytestmark = pytest.mark.django_db


def decision(**overrides):
    body = {
        "decision_layer": "tactical",
        "input_context": {"symbol": "BTC/USDT", "price": 45000.5, "rsi": 28},
        "thought_process": "RSI oversold and funding negative.",
        "tools_used": ["get_ticker", "recall"],
        "decision": "Buy 0.01 BTC",
        "action_taken": "place_order",
        "model_used": "gpt-4o",
        "tokens_used": 1234,
        "latency_ms": 850,
    }
    body.update(overrides)
    return body


def test_a_decision_is_recorded_with_a_made_id(api):
    response = api.post("/api/v1/decisions/", decision(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("dec_")
    recorded = Decision.objects.get(pk=body["id"])
    assert recorded.input_context == {"symbol": "BTC/USDT", "price": 45000.5, "rsi": 28}
    assert recorded.tools_used == ["get_ticker", "recall"]
    assert AgentWrite.objects.filter(resource="decisions", object_id=body["id"]).exists()


def test_an_id_already_used_is_a_409(api):
    api.post("/api/v1/decisions/", decision(id="dec_1"), format="json")

    response = api.post("/api/v1/decisions/", decision(id="dec_1"), format="json")

    assert response.status_code == 409
    assert Decision.objects.count() == 1


def test_a_replay_with_the_same_key_returns_the_first_answer_and_writes_once(api):
    first = api.post("/api/v1/decisions/", decision(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    replay = api.post("/api/v1/decisions/", decision(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert Decision.objects.count() == 1


def test_the_same_key_with_another_body_is_a_409(api):
    api.post("/api/v1/decisions/", decision(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = api.post(
        "/api/v1/decisions/", decision(decision="Sell"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert Decision.objects.count() == 1


def test_a_refused_create_leaves_the_key_free_for_the_corrected_retry(api):
    bad = api.post(
        "/api/v1/decisions/", decision(decision_layer="cosmic"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    good = api.post("/api/v1/decisions/", decision(), format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert (bad.status_code, good.status_code) == (400, 201)
    assert IdempotencyKey.objects.get(key="k").response_status == 201


def test_keys_belong_to_one_agent(api):
    other = AgentFactory(name="other")
    api.post("/api/v1/decisions/", decision(), format="json", HTTP_IDEMPOTENCY_KEY="shared")

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other.token}")
    response = api.post("/api/v1/decisions/", decision(), format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 201
    assert Decision.objects.count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"decision_layer": "cosmic"}, "decision_layer"),
        ({"input_context": None}, "input_context"),
        ({"tokens_used": -5}, "tokens_used"),
        ({"tokens_used": 2**40}, "tokens_used"),
        ({"model_used": "m" * 51}, "model_used"),
        ({"thought_process": ""}, "thought_process"),
    ],
)
def test_bad_decisions_are_refused(api, overrides, field):
    response = api.post("/api/v1/decisions/", decision(**overrides), format="json")

    assert response.status_code == 400 and field in response.json()["details"]
    assert not Decision.objects.exists()


def test_filter_and_paginate(api, django_assert_max_num_queries):
    DecisionFactory.create_batch(5, decision_layer="tactical")
    DecisionFactory.create_batch(2, decision_layer="strategic")
    api.get("/api/v1/decisions/")

    with django_assert_max_num_queries(2):
        strategic = api.get("/api/v1/decisions/?decision_layer=strategic").json()
    page = api.get("/api/v1/decisions/?page_size=4").json()

    assert len(strategic["results"]) == 2
    assert len(page["results"]) == 4 and page["next"]


def test_since_is_inclusive_and_until_exclusive_on_moments(api):
    """docs/api.md: on records stamped with a moment, `since` includes it and `until` does not."""
    moments = ("2026-02-28T23:59:59", "2026-03-01T00:00:00", "2026-03-31T23:59:59", "2026-04-01T00:00:00")
    for moment in moments:
        at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
        DecisionFactory(id=f"dec_{moment}", datetime=at, timestamp=int(at.timestamp() * 1000))

    response = api.get("/api/v1/decisions/?since=2026-03-01T00:00:00Z&until=2026-04-01T00:00:00Z")

    assert sorted(r["id"] for r in response.json()["results"]) == [
        "dec_2026-03-01T00:00:00",
        "dec_2026-03-31T23:59:59",
    ]
