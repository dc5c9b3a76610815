"""POST/GET /api/v1/trades/: ccxt's unified trade in; a repeat is a no-op."""

from decimal import Decimal

import pytest

from apps.execution.models import Trade
from tests.factories import ExchangeFactory, OrderFactory, TradeFactory

pytestmark = pytest.mark.django_db

T0 = 1_767_225_600_000


@pytest.fixture
def order(binance):
    return OrderFactory(id="28457", exchange=binance, symbol="BTC/USDT")


def ccxt_trade(**overrides):
    trade = {
        "exchange": "binance",
        "info": {"id": 9001, "orderId": 28457, "price": "45000.10", "qty": "0.00500000"},
        "timestamp": T0,
        "datetime": "2026-01-01T00:00:00.000Z",
        "symbol": "BTC/USDT",
        "id": "9001",
        "order": "28457",
        "type": "limit",
        "side": "buy",
        "takerOrMaker": "maker",
        "price": 45000.1,
        "amount": 0.005,
        "cost": 225.0005,
        "fee": {"cost": 0.000005, "currency": "BTC"},
        "fees": [{"cost": 0.000005, "currency": "BTC"}],
    }
    trade.update(overrides)
    return trade


def test_a_ccxt_trade_is_recorded_and_linked_to_its_order(api, order):
    response = api.post("/api/v1/trades/", ccxt_trade(), format="json")

    assert response.status_code == 201
    trade = Trade.objects.get(pk="9001")
    assert trade.order_id == "28457"
    assert (trade.price, trade.amount, trade.cost) == (
        Decimal("45000.1"),
        Decimal("0.005"),
        Decimal("225.0005"),
    )
    assert (trade.fee, trade.fee_currency) == (Decimal("0.000005"), "BTC")
    assert trade.raw_data["orderId"] == 28457
    assert response.json()["order_id"] == "28457"


def test_a_repeat_is_a_no_op(api, order):
    first = api.post("/api/v1/trades/", ccxt_trade(), format="json")
    again = api.post("/api/v1/trades/", ccxt_trade(price=1), format="json")
    batch = api.post("/api/v1/trades/", [ccxt_trade(), ccxt_trade(id="9002")], format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert Trade.objects.get(pk="9001").price == Decimal("45000.1")
    assert batch.status_code == 201
    assert (batch.json()["created"], batch.json()["unchanged"]) == (1, 1)
    assert Trade.objects.count() == 2


def test_the_same_trade_id_on_another_exchange_is_a_409(api, order):
    ExchangeFactory(name="okx")
    api.post("/api/v1/trades/", ccxt_trade(), format="json")

    response = api.post("/api/v1/trades/", ccxt_trade(exchange="okx", order=None), format="json")

    assert response.status_code == 409
    assert "id" in response.json()["details"]


def test_cost_defaults_to_price_times_amount(api, order):
    api.post("/api/v1/trades/", ccxt_trade(cost=None), format="json")

    assert Trade.objects.get(pk="9001").cost == Decimal("225.0005")


def test_a_trade_of_an_unrecorded_order_is_refused_with_what_to_do(api, binance):
    response = api.post("/api/v1/trades/", ccxt_trade(order="nope"), format="json")

    assert response.status_code == 400
    assert "POST it to /api/v1/orders/" in response.json()["details"]["order"][0]
    assert not Trade.objects.exists()


def test_a_maker_rebate_is_a_negative_fee_recorded_exactly(api, order):
    rebate = {"cost": -0.0092, "currency": "USDT"}

    response = api.post("/api/v1/trades/", ccxt_trade(fee=rebate, fees=[rebate]), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["fee"] == "-0.00920000"
    assert Trade.objects.values_list("fee", "fee_currency").get(pk="9001") == (Decimal("-0.0092"), "USDT")


def test_one_rebate_fill_in_a_fetch_my_trades_page_does_not_refuse_the_page(api, order):
    rebate = {"cost": "-0.00000123", "currency": "BTC"}
    page = [
        ccxt_trade(id="9001"),
        ccxt_trade(id="9002", takerOrMaker="maker", fee=rebate, fees=[rebate]),
        ccxt_trade(id="9003"),
    ]

    response = api.post("/api/v1/trades/", page, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 3
    fees = dict(Trade.objects.values_list("id", "fee"))
    assert fees == {"9001": Decimal("0.000005"), "9002": Decimal("-0.00000123"), "9003": Decimal("0.000005")}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"side": "short"}, "side"),
        ({"amount": -1}, "amount"),
        ({"price": "cheap"}, "price"),
        ({"exchange": "mtgox"}, "exchange"),
        ({"timestamp": "yesterday", "datetime": None}, "timestamp"),
    ],
)
def test_bad_trades_are_400s_and_write_nothing(api, order, overrides, field):
    response = api.post("/api/v1/trades/", ccxt_trade(**overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["details"]
    assert not Trade.objects.exists()


def test_filters_pagination_and_query_count(api, binance, django_assert_max_num_queries):
    order = OrderFactory(exchange=binance)
    TradeFactory.create_batch(12, order=order)
    TradeFactory(order=OrderFactory(exchange=binance, symbol="ETH/USDT"), symbol="ETH/USDT")
    api.get("/api/v1/trades/")

    with django_assert_max_num_queries(2):
        page = api.get("/api/v1/trades/?page_size=5").json()
    by_order = api.get(f"/api/v1/trades/?order_id={order.pk}").json()["results"]
    eth = api.get("/api/v1/trades/?symbol=ETH/USDT").json()["results"]

    assert len(page["results"]) == 5 and page["next"]
    assert len(by_order) == 12
    assert [t["symbol"] for t in eth] == ["ETH/USDT"]
