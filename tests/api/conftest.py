"""An agent and an API client holding its token; a clean Redis db for the rate limiter."""

import pytest
from rest_framework.test import APIClient

from tests.agents.factories import AgentFactory
from tests.factories import ExchangeFactory


@pytest.fixture
def agent(db):
    return AgentFactory(name="test-trader")


@pytest.fixture
def api(agent):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent.token}")
    return client


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def binance(db):
    return ExchangeFactory(name="binance")
