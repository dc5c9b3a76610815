"""Recording a list of trades at once (trades_record_many, behind POST /api/v1/trades/ with a list): the
same outcomes as recording them one by one, a fixed number of queries, nothing written when any is refused,
and a trade id recorded meanwhile by someone else handled as trade_record handles it."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.clock import from_ms
from apps.execution.models import Trade
from apps.execution.services import trades as trade_services
from apps.execution.services.trades import TradeConflict, trades_record_many
from tests.factories import ExchangeFactory, OrderFactory

pytestmark = pytest.mark.django_db

T0 = 1_767_225_600_000


@pytest.fixture
def binance():
    return ExchangeFactory(name="binance")


def item(exchange, n, **overrides):
    values = {
        "exchange": exchange, "trade_id": f"t{n}", "symbol": "BTC/USDT", "side": "buy",
        "price": Decimal("45000.1"), "amount": Decimal("0.005"), "timestamp": T0 + n, "order_id": None,
        "cost": None, "fee": Decimal("0.01"), "fee_currency": "USDT", "raw_data": {"id": n},
    }  # fmt: skip
    values.update(overrides)
    return values


def recorded(trade_id, exchange, symbol="BTC/USDT"):
    """A trade already recorded, without an order."""
    return Trade.objects.create(
        id=trade_id, exchange=exchange, symbol=symbol, side="buy", price=Decimal(1), amount=Decimal(1),
        cost=Decimal(1), timestamp=T0, datetime=from_ms(T0),
    )  # fmt: skip


def test_new_repeated_and_listed_twice_get_the_outcomes_of_one_by_one(binance):
    recorded("t1", binance, "BTC/USDT")
    order = OrderFactory(id="o9", exchange=binance)

    results = trades_record_many(
        trades=[item(binance, 1), item(binance, 2, order_id="o9"), item(binance, 2), item(binance, 3)]
    )

    assert [r.outcome for r in results] == ["unchanged", "created", "unchanged", "created"]
    assert Trade.objects.get(pk="t2").order == order
    assert Trade.objects.get(pk="t3").cost == Decimal("225.00050000")  # price x amount by default
    assert Trade.objects.count() == 3


def test_a_thousand_trades_take_a_fixed_number_of_queries(binance):
    OrderFactory(id="o1", exchange=binance)
    with CaptureQueriesContext(connection) as queries:
        results = trades_record_many(trades=[item(binance, n, order_id="o1") for n in range(1000)])
    assert all(r.outcome == "created" for r in results)
    assert Trade.objects.count() == 1000
    assert len(queries) <= 8


def test_any_refusal_writes_nothing_and_every_refusal_is_returned(binance):
    OrderFactory(id="elsewhere", exchange=ExchangeFactory(name="okx"))
    recorded("taken", binance, "ETH/USDT")

    results = trades_record_many(
        trades=[
            item(binance, 1),
            item(binance, 2, order_id="missing"),
            item(binance, 3, order_id="elsewhere"),
            item(binance, 4, amount=Decimal("0")),
            item(binance, 5, trade_id="taken"),
        ]
    )

    assert results[0].outcome == "created"
    assert "Order missing is not recorded" in str(results[1])
    assert "recorded on another exchange" in str(results[2])
    assert isinstance(results[3], ValidationError) and "amount" in results[3].message_dict
    assert isinstance(results[4], TradeConflict) and "ETH/USDT" in str(results[4])
    assert not Trade.objects.exclude(pk="taken").exists()


def test_a_trade_recorded_meanwhile_by_another_request_is_a_repeat(binance, monkeypatch):
    real_new_trade = trade_services._new_trade

    def someone_else_first(**kwargs):
        # After the lookup of existing ids, before the insert: the race bulk_create loses.
        if not Trade.objects.filter(pk="t2").exists():
            recorded("t2", binance, "BTC/USDT")
        return real_new_trade(**kwargs)

    monkeypatch.setattr(trade_services, "_new_trade", someone_else_first)

    results = trades_record_many(trades=[item(binance, n) for n in range(1, 4)])

    assert [r.outcome for r in results] == ["created", "unchanged", "created"]
    assert set(Trade.objects.values_list("pk", flat=True)) == {"t1", "t2", "t3"}


def test_the_api_records_a_list_of_a_thousand_in_a_fixed_number_of_queries(binance):
    from rest_framework.test import APIClient

    from tests.agents.factories import AgentFactory

    agent = AgentFactory()
    client = APIClient()
    client.force_authenticate(user=agent)
    body = [
        {"id": f"x{n}", "symbol": "BTC/USDT", "side": "sell", "price": "45000.1", "amount": "0.001",
         "timestamp": T0 + n, "fee": {"cost": "0.01", "currency": "USDT"}, "info": {"n": n}}
        for n in range(1000)
    ]  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/trades/?exchange=binance", body, format="json")

    assert response.status_code == 201, response.content[:300]
    assert (response.json()["created"], len(response.json()["results"])) == (1000, 1000)
    assert Trade.objects.count() == 1000
    assert len(queries) <= 15
