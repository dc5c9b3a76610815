"""Fixtures of the API tests: an agent and a client holding its token, exchanges, and the memory
stores in their test shape (this run's Redis database flushed around each test, Qdrant in memory)."""

import pytest
from rest_framework.test import APIClient

from apps.common import redis as shared_redis
from apps.memory.services import embeddings, long_term
from tests.agents.factories import AgentFactory
from tests.factories import ExchangeFactory

TEST_DIMENSION = 64


@pytest.fixture(autouse=True)
def memory_stores(settings):
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = ":memory:"
    settings.MEMORY_EMBEDDER = "hashing"
    settings.MEMORY_EMBEDDING_DIMENSION = TEST_DIMENSION
    settings.REDIS_KEY_PREFIX = ""
    long_term.reset_backend()
    embeddings.reset_embedder()
    shared_redis.outage_reporter.reset()
    shared_redis.get_client().flushdb()  # only this run's database number (REDIS_URL)
    yield
    long_term.reset_backend()
    embeddings.reset_embedder()
    shared_redis.outage_reporter.reset()
    shared_redis.reset_client()


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


@pytest.fixture
def okx(db):
    return ExchangeFactory(name="okx")


@pytest.fixture
def kraken(db):
    return ExchangeFactory(name="kraken")
