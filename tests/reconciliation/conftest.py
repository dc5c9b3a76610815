"""Fixtures for the tests that drive real ccxt against the exchange emulator on loopback: the emulator, an
exchange account registered against it, this run's Redis database kept clean, an agent with its token,
and a second database session holding an account's reconciliation lock, as a concurrent run would."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.common import redis as shared_redis
from apps.exchanges.services import exchange_register
from tests.agents.factories import AgentFactory
from tests.reconciliation.emulator import EmulatorServer, api_urls


@pytest.fixture
def exchange_emulator():
    """A started EmulatorServer with no accounts yet (add them with add_account), closed afterwards."""
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def clean_redis(settings):
    """This run's own Redis database (the limiter's counters, the API's throttle) empty when the test
    starts, the emulator's requests not throttled by ccxt, and nothing adopted without an operator."""
    settings.EXCHANGE_CCXT_THROTTLE = False  # the emulator has no limit of its own to respect
    settings.RECONCILIATION_AUTO_ADOPT = []
    shared_redis.outage_reporter.reset()
    shared_redis.get_client().flushdb()  # only this run's database number (REDIS_URL)
    yield
    # A test may have pointed REDIS_URL elsewhere: no client built for it outlives the test.
    shared_redis.outage_reporter.reset()
    shared_redis.reset_client()


@pytest.fixture
def emulated(exchange_emulator, settings, db) -> Callable:
    """`emulated("binance")`: a new emulator account and the Exchange row registered with its
    credentials (ccxt pointed at it through EXCHANGE_API_URLS); (account, exchange)."""

    def make(dialect: str, *, testnet: bool = False):
        account = exchange_emulator.add_account(dialect)
        settings.EXCHANGE_API_URLS = {**settings.EXCHANGE_API_URLS, dialect: api_urls(dialect, account.url)}
        exchange = exchange_register(
            name=dialect,
            api_key=account.api_key,
            api_secret=account.secret,
            password=account.password,
            testnet=testnet,
        )
        account.set_balance("USDT", "100000")
        account.set_balance("BTC", "2")  # so a run reads BTC/USDT even when the record has nothing of it
        return account, exchange

    return make


@pytest.fixture
def agent(db):
    return AgentFactory(name="startup-checker")


@pytest.fixture
def api(agent) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent.token}")
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def reconciliation_lock_key(exchange) -> int:
    """The advisory lock key apps.reconciliation.services.runs.exchange_lock takes for `exchange`."""
    digest = hashlib.sha256(f"tradeoffice:reconcile:{exchange.pk}".encode()).digest()[:8]
    return int.from_bytes(digest, "big") - (1 << 63)


@contextmanager
def other_session_holding_reconciliation_lock(exchange) -> Iterator[None]:
    """A second PostgreSQL session holds `exchange`'s reconciliation lock while the block runs."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [reconciliation_lock_key(exchange)])
        yield
