"""Fixtures of the memory tests: the real Redis (this run's REDIS_URL database, flushed around
each test), a fresh in-memory Qdrant per test, a small embedding dimension for speed."""

import pytest

from apps.common import redis as shared_redis
from apps.memory.services import embeddings, long_term

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
    shared_redis.get_client().flushdb()  # only this run's database number
    yield
    long_term.reset_backend()
    embeddings.reset_embedder()
    shared_redis.outage_reporter.reset()
    shared_redis.reset_client()


@pytest.fixture
def redis_client():
    """The raw client, for reading keys and TTLs back as Redis holds them."""
    return shared_redis.get_client()


@pytest.fixture
def backend():
    """The long-term backend with its collection in place for the test embedder."""
    long_term.collection_ensure()
    return long_term.get_backend()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run the after-commit pushes as a real commit would (tests run inside a transaction)."""

    def capture():
        return django_capture_on_commit_callbacks(execute=True)

    return capture
