"""Concurrent duplicate posts against the real PostgreSQL: one row, never a 500."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.decisions.models import Decision
from apps.execution.models import Order, Trade
from apps.system_events.models import SystemEvent
from tests.agents.factories import AgentFactory
from tests.factories import ExchangeFactory

THREADS = 20

pytestmark = pytest.mark.django_db(transaction=True)


def _hammer(token: str, path: str, body, headers: dict | None = None) -> list:
    """POST `body` from THREADS threads released at the same instant; their responses."""
    barrier = threading.Barrier(THREADS)
    responses: list = [None] * THREADS

    def post(slot: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait(timeout=30)
            responses[slot] = client.post(path, body, format="json", **(headers or {}))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            responses[slot] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.fixture
def token():
    ExchangeFactory(name="binance")
    return AgentFactory(name="racer").token


ORDER = {
    "exchange": "binance",
    "id": "race-1",
    "clientOrderId": "race-client-1",
    "symbol": "BTC/USDT",
    "side": "buy",
    "type": "limit",
    "status": "open",
    "amount": "0.01",
    "price": "45000",
    "timestamp": 1_767_225_600_000,
}


def test_twenty_simultaneous_posts_of_one_order_make_one_row(token):
    responses = _hammer(token, "/api/v1/orders/", ORDER)

    statuses = sorted(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == [200] * (THREADS - 1) + [201], statuses
    assert Order.objects.filter(client_order_id="race-client-1").count() == 1
    assert SystemEvent.objects.filter(related_order_id="race-1").count() == 1


def test_twenty_simultaneous_fills_of_one_order_never_go_backwards(token):
    first = _hammer(token, "/api/v1/orders/", ORDER)
    assert all(r.status_code in (200, 201) for r in first)
    filled = {**ORDER, "status": "closed", "filled": "0.01", "average": "45000"}

    responses = _hammer(token, "/api/v1/orders/", filled)

    assert sorted(r.status_code for r in responses) == [200] * THREADS
    order = Order.objects.get(pk="race-1")
    assert (order.status, order.remaining) == ("filled", 0)
    assert SystemEvent.objects.filter(related_order_id="race-1", data__to="filled").count() == 1


def test_twenty_simultaneous_posts_of_one_trade_make_one_row(token):
    _hammer(token, "/api/v1/orders/", ORDER)
    trade = {
        "exchange": "binance",
        "id": "race-trade",
        "order": "race-1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "price": "45000",
        "amount": "0.01",
        "timestamp": 1_767_225_600_000,
    }

    responses = _hammer(token, "/api/v1/trades/", trade)

    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    assert Trade.objects.filter(pk="race-trade").count() == 1


def test_twenty_simultaneous_creates_with_one_idempotency_key_make_one_decision(token):
    body = {
        "decision_layer": "tactical",
        "input_context": {"symbol": "BTC/USDT"},
        "thought_process": "Same request, sent twenty times at once by a retrying client.",
        "decision": "hold",
    }

    responses = _hammer(token, "/api/v1/decisions/", body, {"HTTP_IDEMPOTENCY_KEY": "race-key"})

    assert [r.status_code for r in responses] == [201] * THREADS
    assert len({r.json()["id"] for r in responses}) == 1
    assert Decision.objects.count() == 1
