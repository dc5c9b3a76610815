"""Every endpoint needs an agent token; agents cannot reach the admin or read credentials."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.agents.services import agent_revoke
from tests.factories import ExchangeFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/v1/exchanges/"),
    ("get", "/api/v1/orders/"),
    ("post", "/api/v1/orders/"),
    ("get", "/api/v1/trades/"),
    ("get", "/api/v1/positions/"),
    ("get", "/api/v1/current-positions/"),
    ("get", "/api/v1/portfolio-snapshots/"),
    ("get", "/api/v1/decisions/"),
    ("post", "/api/v1/decisions/"),
    ("get", "/api/v1/strategies/"),
    ("get", "/api/v1/performance-metrics/"),
    ("get", "/api/v1/system-events/"),
    ("get", "/api/v1/health/"),
    ("get", "/api/v1/schema/"),
    ("get", "/api/v1/docs/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_token_is_a_401_with_the_error_body(anonymous, method, path):
    response = getattr(anonymous, method)(path)

    assert response.status_code == 401, path
    assert response["WWW-Authenticate"].startswith("Bearer")
    if path.endswith(("/schema/", "/docs/")):
        return  # rendered as the page asked for (YAML, HTML); the status is what matters
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["message"]


def test_a_wrong_token_is_a_401(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer to_not-a-real-token")

    response = anonymous.get("/api/v1/orders/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_malformed_header_is_a_401(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer two words")

    assert anonymous.get("/api/v1/orders/").status_code == 401


def test_the_token_keyword_works_too(agent):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {agent.token}")

    assert client.get("/api/v1/orders/").status_code == 200


def test_a_revoked_agent_is_refused(api, agent):
    agent_revoke(name=agent.name)

    assert api.get("/api/v1/orders/").status_code == 401


def test_an_agent_token_does_not_open_the_admin(api):
    response = api.get(f"/{settings.ADMIN_URL}")

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_staff_session_reads_the_docs_but_not_the_data():
    staff = get_user_model().objects.create_user("ops", password="pw-123456789", is_staff=True)
    client = APIClient()
    client.force_login(staff)

    assert client.get("/api/v1/schema/").status_code == 200
    assert client.get("/api/v1/orders/").status_code in (401, 403)


def test_exchanges_never_show_a_credential(api):
    exchange = ExchangeFactory(name="binance")

    listed = api.get("/api/v1/exchanges/")
    one = api.get("/api/v1/exchanges/binance/")

    assert listed.status_code == 200 and one.status_code == 200
    for text in (listed.content.decode(), one.content.decode()):
        assert "encrypted" not in text
        assert "test-api-key" not in text and "test-api-secret" not in text
        assert exchange.api_key_encrypted not in text
    assert one.json()["name"] == "binance"


def test_the_docs_page_loads_its_assets_from_our_static_files(api):
    response = api.get("/api/v1/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "swagger-ui" in html
    assert "drf_spectacular_sidecar" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
