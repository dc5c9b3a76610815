"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis, in process).

Every operation gets generated requests, valid and not; every response must be below 500, carry a
documented status code and content type, and match its documented body. Bounded: a few examples
per operation, so the suite stays fast.
"""

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient

from tests.agents.factories import AgentFactory
from tests.factories import DecisionFactory, ExchangeFactory, OrderFactory, PositionFactory, StrategyFactory

_BINANCE_API_KEYS = tuple(__import__("ccxt").binance().urls["api"])

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture
def fuzz_agent(db, settings):
    agent = AgentFactory(name="fuzzer")
    # A reconciliation the fuzzer starts must not reach for the real exchange: a closed loopback port
    # answers at once (the run is recorded failed, with the reason).
    settings.EXCHANGE_API_URLS = {"binance": dict.fromkeys(_BINANCE_API_KEYS, "http://127.0.0.1:1")}
    # Something to find, so lookups and filters hit rows as well as misses.
    binance = ExchangeFactory(name="binance")
    OrderFactory.create_batch(3, exchange=binance)
    PositionFactory(exchange=binance)
    DecisionFactory()
    StrategyFactory(name="rsi", is_active=True)
    return agent


def _generated_schema() -> dict:
    """The document /api/v1/schema/ serves, built the same way (at collection time, without a request)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


SCHEMA = _generated_schema()


def test_the_fuzzed_schema_is_the_one_the_api_serves(fuzz_agent):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {fuzz_agent.token}")

    served = client.get("/api/v1/schema/?format=json")

    assert served.status_code == 200
    assert served.json() == SCHEMA


@pytest.fixture
def wsgi_app():
    # As Django's test client does: the per-request connection cleanup would close the test's
    # transaction-bound connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_dict(SCHEMA)


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_5xx_and_every_response_matches_the_schema(case, fuzz_agent, wsgi_app):
    case.call_and_validate(
        app=wsgi_app,
        headers={"Authorization": f"Bearer {fuzz_agent.token}"},
        checks=CHECKS,
    )
