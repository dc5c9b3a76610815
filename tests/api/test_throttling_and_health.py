"""Per-agent rate limits counted in Redis by the memory service's limiter; GET /api/v1/health/."""

import pytest
from rest_framework.test import APIClient

from apps.memory.services import long_term
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_past_the_limit_an_agent_gets_a_429_with_retry_after(api, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3

    statuses = [api.get("/api/v1/exchanges/").status_code for _ in range(4)]
    refused = api.get("/api/v1/exchanges/")

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["details"]["retry_after"] == int(refused["Retry-After"])


def test_each_agent_has_its_own_count(api, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentFactory(name='other').token}")
    for _ in range(3):
        api.get("/api/v1/exchanges/")

    assert api.get("/api/v1/exchanges/").status_code == 429
    assert other.get("/api/v1/exchanges/").status_code == 200


def test_with_redis_down_the_api_limit_lets_requests_through(api, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.REDIS_SOCKET_TIMEOUT = 0.2

    assert [api.get("/api/v1/exchanges/").status_code for _ in range(3)] == [200, 200, 200]


def test_health_reports_each_store(api):
    long_term.collection_ensure()

    body = api.get("/api/v1/health/").json()

    assert body["status"] == "ok"
    assert {body[s]["status"] for s in ("postgresql", "redis", "qdrant")} == {"up"}


def test_health_says_which_store_is_down(api, settings):
    long_term.collection_ensure()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.REDIS_SOCKET_TIMEOUT = 0.2

    response = api.get("/api/v1/health/")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["redis"]["status"], body["postgresql"]["status"]) == (
        "degraded",
        "down",
        "up",
    )
    assert "unreachable" in body["redis"]["detail"]
