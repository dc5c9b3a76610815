"""Authorization: an agent token reads no other agent's data and no credential, opens no admin page,
changes no read-only field; a revoked token is refused at once; guessing tokens or admin passwords
is throttled (429 with Retry-After), also while Redis is down."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

from apps.agents.models import Agent
from apps.agents.services import agent_revoke, agent_rotate_token
from apps.common import redis as shared_redis
from apps.memory.models import Experience
from tests.agents.factories import AgentFactory
from tests.factories import ExperienceFactory

from .servers import free_port

pytestmark = pytest.mark.django_db

DEMO_KEY = "test-api-key-0000"  # tests.factories.ExchangeFactory's credentials
DEMO_SECRET = "test-api-secret-0000"


@pytest.fixture
def other(db):
    return AgentFactory(name="other-agent")


def _client(token: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _list_paths(api) -> list[str]:
    schema = api.get("/api/v1/schema/?format=json").json()
    return [
        path
        for path, operations in schema["paths"].items()
        if "get" in operations and "{" not in path and "/memory/" not in path
    ]


def test_no_endpoint_shows_agents_their_tokens_or_any_credential(api, agent, other, binance):
    api.post(
        "/api/v1/system-events/",
        {"event_type": "note", "severity": "info", "message": "hello"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    schema = api.get("/api/v1/schema/?format=json").content.decode()
    bodies = [api.get(path).content.decode() for path in _list_paths(api)]
    bodies.append(api.get("/api/v1/exchanges/binance/").content.decode())

    assert not [p for p in json.loads(schema)["paths"] if "agent" in p or "idempotency" in p]
    for unknown in ("/api/v1/agents/", "/api/v1/agent-writes/", "/api/v1/idempotency-keys/"):
        assert api.get(unknown).status_code == 404
    secrets = (
        DEMO_KEY,
        DEMO_SECRET,
        binance.api_key_encrypted,
        binance.api_secret_encrypted,
        agent.token,
        other.token,
        agent.token_digest,
        other.token_digest,
    )
    for text in [schema, *bodies]:
        for secret in secrets:
            assert secret not in text
        assert "encrypted" not in text and "token_digest" not in text


def test_another_agents_idempotency_key_replays_nothing_of_theirs(api, other):
    body = {"event_type": "note", "severity": "info", "message": "mine"}
    first = api.post("/api/v1/system-events/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared-key")
    theirs = _client(other.token).post(
        "/api/v1/system-events/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared-key"
    )
    different = _client(other.token).post(
        "/api/v1/system-events/", {**body, "message": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k2"
    )

    assert first.status_code == 201 and theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers  # a new event of its own, not the first's answer
    assert theirs.json()["id"] != first.json()["id"]
    assert different.status_code == 201


def test_an_agent_token_opens_no_admin_page(api, agent):
    for path in ("/admin/", "/admin/agents/agent/", "/admin/exchanges/exchange/", "/admin/dashboard/"):
        response = api.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path
    post = api.post("/admin/agents/agent/", {"action": "revoke", "_selected_action": [agent.pk]})
    assert post.status_code in (302, 403)
    assert Agent.objects.get(pk=agent.pk).revoked_at is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("id", "exp-stolen"),
        ("outcome", "failure"),
        ("pnl", "999999"),
        ("situation", "rewritten"),
        ("decision", "rewritten"),
        ("symbol", "ETH/USDT"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("related_orders", ["x"]),
    ],
)
def test_patch_of_a_read_only_field_is_refused_and_changes_nothing(api, field, value):
    ExperienceFactory(id="exp-1", outcome="success", pnl="12.5", situation="as it was", symbol="BTC/USDT")
    before = Experience.objects.values().get(pk="exp-1")

    response = api.patch(
        "/api/v1/experiences/exp-1/", {field: value, "reflection": "sneaked in"}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["details"]
    assert Experience.objects.values().get(pk="exp-1") == before


def test_patch_takes_tags_as_create_does(api):
    ExperienceFactory(id="exp-1", situation_tags=["btc"])

    response = api.patch("/api/v1/experiences/exp-1/", {"tags": ["btc", "late"]}, format="json")

    assert response.status_code == 200
    assert Experience.objects.get(pk="exp-1").situation_tags == ["btc", "late"]


def test_writes_to_read_only_collections_are_405(api, binance):
    assert api.post("/api/v1/exchanges/", {"name": "evil"}, format="json").status_code == 405
    assert api.patch("/api/v1/exchanges/binance/", {"is_active": False}, format="json").status_code == 405
    assert api.post("/api/v1/strategies/", {"name": "x"}, format="json").status_code == 405
    assert api.delete("/api/v1/exchanges/binance/").status_code == 405


def test_a_revoked_or_rotated_token_is_refused_at_once(api, agent):
    assert api.get("/api/v1/orders/").status_code == 200
    agent_revoke(name=agent.name)
    refused = api.get("/api/v1/orders/")
    issued = agent_rotate_token(name=agent.name)
    old_after_rotation = api.get("/api/v1/orders/")
    new = _client(issued.token).get("/api/v1/orders/")

    assert refused.status_code == 401 and refused.json()["code"] == "authentication_failed"
    assert old_after_rotation.status_code == 401
    assert new.status_code == 200


def test_guessing_tokens_is_throttled_per_address_and_the_right_token_still_works(settings, agent, db):
    settings.API_BAD_TOKEN_ATTEMPTS_PER_MINUTE = 5
    guesser = _client("to_" + "A" * 43)

    answers = [guesser.get("/api/v1/orders/").status_code for _ in range(8)]
    throttled = guesser.get("/api/v1/orders/")
    rightful = _client(agent.token).get("/api/v1/orders/")

    assert answers == [401] * 5 + [429] * 3
    assert throttled.json()["code"] == "throttled" and int(throttled["Retry-After"]) >= 1
    assert "invalid token" in throttled.json()["message"]
    assert rightful.status_code == 200  # someone else's guesses never lock a valid agent out


def test_guessing_tokens_is_throttled_while_redis_is_down(settings, agent, memory_stores):
    settings.API_BAD_TOKEN_ATTEMPTS_PER_MINUTE = 3
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    shared_redis.reset_client()
    guesser = _client("to_" + "B" * 43)

    answers = [guesser.get("/api/v1/orders/").status_code for _ in range(5)]

    assert answers == [401, 401, 401, 429, 429]


# --- admin sign-in ---------------------------------------------------------------------------------


@pytest.fixture
def operator(db):
    return User.objects.create_user("operator", password="right-password-123", is_staff=True)


def _sign_in(client, username: str, password: str):
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def test_guessing_an_admin_password_is_throttled_per_username(client, operator, settings, memory_stores):
    settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME = 4

    wrong = [_sign_in(client, "operator", f"guess-{n}").status_code for n in range(4)]
    locked = _sign_in(client, "Operator", "right-password-123")  # the right one, too, waits
    someone_else = _sign_in(client, "nobody", "x")

    assert wrong == [200] * 4  # the form again, with its error
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert b"Too many sign-in attempts" in locked.content
    assert "_auth_user_id" not in client.session
    assert someone_else.status_code == 200


def test_admin_sign_ins_are_throttled_per_address_too(client, operator, settings, memory_stores):
    settings.ADMIN_LOGIN_ATTEMPTS_PER_ADDRESS = 5

    answers = [_sign_in(client, f"user-{n}", "x").status_code for n in range(7)]

    assert answers == [200] * 5 + [429] * 2


def test_admin_sign_in_limit_holds_while_redis_is_down(client, operator, settings, memory_stores):
    settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME = 3
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    shared_redis.reset_client()

    answers = [_sign_in(client, "operator", "wrong").status_code for _ in range(4)]
    fresh = _sign_in(client.__class__(), "other", "wrong")

    assert answers == [200, 200, 200, 429]
    assert fresh.status_code == 200


def test_a_correct_sign_in_within_the_limit_works(client, operator, memory_stores):
    response = _sign_in(client, "operator", "right-password-123")

    assert response.status_code == 302 and client.session["_auth_user_id"] == str(operator.pk)
