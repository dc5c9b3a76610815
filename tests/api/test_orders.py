"""POST/GET /api/v1/orders/: ccxt's unified order in, the state machine, lists, filters, refusals."""

from decimal import Decimal

import pytest

from apps.agents.models import AgentWrite
from apps.execution.models import Order, OrderStatus
from apps.system_events.models import SystemEvent
from tests.factories import DecisionFactory, ExchangeFactory, OrderFactory

pytestmark = pytest.mark.django_db

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def ccxt_order(**overrides):
    """A unified order as ccxt returns it (camelCase, fee object, info), plus the exchange's name."""
    order = {
        "exchange": "binance",
        "id": "28457",
        "clientOrderId": "agent-btc-0001",
        "timestamp": T0,
        "datetime": "2026-01-01T00:00:00.000Z",
        "lastTradeTimestamp": None,
        "status": "open",
        "symbol": "BTC/USDT",
        "type": "limit",
        "timeInForce": "GTC",
        "side": "buy",
        "price": 45000.1,
        "average": None,
        "amount": 0.012,
        "filled": 0.0,
        "remaining": 0.012,
        "cost": 0.0,
        "trades": [],
        "fee": None,
        "fees": [],
        "stopPrice": None,
        "triggerPrice": None,
        "takeProfitPrice": 47000,
        "stopLossPrice": 44000,
        "info": {"orderId": 28457, "status": "NEW", "origQty": "0.01200000"},
    }
    order.update(overrides)
    return order


def test_a_ccxt_order_is_recorded_with_decimals_and_info_kept(api, binance):
    response = api.post("/api/v1/orders/", ccxt_order(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["client_order_id"] == "agent-btc-0001"
    assert body["price"] == "45000.10000000"
    assert body["remaining"] == "0.01200000"
    order = Order.objects.get(pk="28457")
    assert order.price == Decimal("45000.1")
    assert order.amount == Decimal("0.012")
    assert order.take_profit_price == Decimal("47000") and order.stop_loss_price == Decimal("44000")
    assert order.raw_data == {"orderId": 28457, "status": "NEW", "origQty": "0.01200000"}
    assert order.exchange == binance
    assert AgentWrite.objects.filter(resource="orders", object_id="28457", action="created").exists()


def test_snake_case_is_accepted_as_well(api, binance):
    order = {
        "exchange": "binance",
        "id": "9",
        "client_order_id": "snake-9",
        "symbol": "ETH/USDT",
        "side": "sell",
        "type": "stop_loss_limit",
        "status": "pending",
        "amount": "1.5",
        "price": "3000",
        "stop_price": "2990",
        "fee": "0.1",
        "fee_currency": "USDT",
        "datetime": "2026-01-01T00:00:00Z",
        "raw_data": {"x": 1},
    }

    response = api.post("/api/v1/orders/", order, format="json")

    assert response.status_code == 201
    recorded = Order.objects.get(pk="9")
    assert recorded.stop_price == Decimal("2990")
    assert recorded.timestamp == T0
    assert (recorded.fee, recorded.fee_currency) == (Decimal("0.1"), "USDT")


@pytest.mark.parametrize(
    ("ccxt_status", "filled", "expected"),
    [
        ("open", 0, OrderStatus.OPEN),
        ("open", 0.004, OrderStatus.PARTIALLY_FILLED),
        ("closed", 0.012, OrderStatus.FILLED),
        ("canceled", 0, OrderStatus.CANCELED),
        ("cancelled", 0.002, OrderStatus.CANCELED),
        ("expired", 0, OrderStatus.EXPIRED),
        ("rejected", 0, OrderStatus.REJECTED),
    ],
)
def test_ccxt_statuses_map_to_the_seeds(api, binance, ccxt_status, filled, expected):
    response = api.post("/api/v1/orders/", ccxt_order(status=ccxt_status, filled=filled), format="json")

    assert response.status_code == 201
    assert Order.objects.get(pk="28457").status == expected


def test_the_fee_object_and_the_fees_list_fill_fee_and_currency(api, binance):
    api.post(
        "/api/v1/orders/", ccxt_order(fee={"cost": 0.0012, "currency": "BNB", "rate": 0.001}), format="json"
    )
    fees = [{"cost": "0.1", "currency": "USDT"}, {"cost": "0.05", "currency": "USDT"}]
    api.post("/api/v1/orders/", ccxt_order(id="2", clientOrderId="c2", fees=fees), format="json")

    assert Order.objects.values_list("fee", "fee_currency").get(pk="28457") == (Decimal("0.0012"), "BNB")
    assert Order.objects.values_list("fee", "fee_currency").get(pk="2") == (Decimal("0.15"), "USDT")


def test_a_maker_rebate_is_a_negative_fee_recorded_exactly(api, binance):
    rebate = {"cost": -0.0092, "currency": "USDT"}
    order = ccxt_order(status="closed", filled=0.012, fee=rebate, fees=[rebate])

    response = api.post("/api/v1/orders/", order, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["fee"] == "-0.00920000"
    assert Order.objects.values_list("fee", "fee_currency").get(pk="28457") == (Decimal("-0.0092"), "USDT")


def test_fees_in_several_currencies_are_refused_with_what_to_send(api, binance):
    fees = [{"cost": "0.1", "currency": "USDT"}, {"cost": "0.001", "currency": "BNB"}]

    response = api.post("/api/v1/orders/", ccxt_order(fees=fees), format="json")

    assert response.status_code == 400
    assert "several currencies" in response.json()["details"]["fee"][0]
    assert not Order.objects.exists()


def test_trigger_price_stands_in_for_stop_price(api, binance):
    api.post("/api/v1/orders/", ccxt_order(type="stop_loss", triggerPrice=44100), format="json")

    assert Order.objects.get(pk="28457").stop_price == Decimal("44100")


def test_posting_again_updates_the_fill_state_and_records_each_status_change(api, binance):
    api.post("/api/v1/orders/", ccxt_order(), format="json")
    partial = api.post("/api/v1/orders/", ccxt_order(filled=0.005, cost=225.0005), format="json")
    full = api.post(
        "/api/v1/orders/",
        ccxt_order(status="closed", filled=0.012, average=45000.1, cost=540.0012),
        format="json",
    )
    repeat = api.post(
        "/api/v1/orders/",
        ccxt_order(status="closed", filled=0.012, average=45000.1, cost=540.0012),
        format="json",
    )

    assert (partial.status_code, full.status_code, repeat.status_code) == (200, 200, 200)
    order = Order.objects.get(pk="28457")
    assert order.status == OrderStatus.FILLED
    assert (order.filled, order.remaining, order.average) == (
        Decimal("0.012"),
        Decimal("0"),
        Decimal("45000.1"),
    )
    assert Order.objects.count() == 1
    moves = list(SystemEvent.objects.filter(related_order_id="28457").values_list("data__from", "data__to"))
    assert sorted(moves, key=str) == sorted(
        [(None, "open"), ("open", "partially_filled"), ("partially_filled", "filled")], key=str
    )
    assert SystemEvent.objects.filter(related_order_id="28457", data__agent="test-trader").count() == 3


@pytest.mark.parametrize(
    ("first", "then", "field"),
    [
        ({"status": "closed", "filled": 0.012}, {"status": "open", "filled": 0.012}, "status"),
        ({"status": "canceled", "filled": 0}, {"status": "closed", "filled": 0.012}, "status"),
        ({"status": "open", "filled": 0.006}, {"status": "open", "filled": 0.003}, "filled"),
        ({"status": "open", "filled": 0}, {"status": "pending", "filled": 0}, "status"),
    ],
)
def test_an_illegal_transition_is_a_409_with_the_reason_and_the_row_unchanged(
    api, binance, first, then, field
):
    api.post("/api/v1/orders/", ccxt_order(**first), format="json")
    before = Order.objects.values().get(pk="28457")
    events = SystemEvent.objects.count()

    response = api.post("/api/v1/orders/", ccxt_order(**then), format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert field in body["details"]
    assert "28457" in body["message"]
    assert Order.objects.values().get(pk="28457") == before
    assert SystemEvent.objects.count() == events


def test_the_same_client_order_id_for_another_exchange_id_is_a_409(api, binance):
    api.post("/api/v1/orders/", ccxt_order(), format="json")

    response = api.post("/api/v1/orders/", ccxt_order(id="99999"), format="json")

    assert response.status_code == 409
    assert "clientOrderId" in response.json()["details"]


def test_a_list_is_recorded_in_one_go(api, binance):
    orders = [ccxt_order(id=str(n), clientOrderId=f"c-{n}") for n in range(50)]

    response = api.post("/api/v1/orders/", orders, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (50, 0, 0)
    assert len(body["results"]) == 50
    assert Order.objects.count() == 50


def test_one_bad_item_refuses_the_whole_list_with_per_item_errors(api, binance):
    orders = [ccxt_order(id=str(n), clientOrderId=f"c-{n}") for n in range(5)]
    orders[1]["side"] = "hold"
    orders[3]["amount"] = "-1"

    response = api.post("/api/v1/orders/", orders, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body["details"]) == {"1", "3"}
    assert "side" in body["details"]["1"] and "amount" in body["details"]["3"]
    assert "2 of 5 orders refused" in body["message"]
    assert not Order.objects.exists()


def test_a_conflict_inside_a_list_rolls_the_whole_list_back(api, binance):
    api.post("/api/v1/orders/", ccxt_order(status="closed", filled=0.012), format="json")
    orders = [ccxt_order(id="new-1", clientOrderId="new-1"), ccxt_order(status="open", filled=0.012)]

    response = api.post("/api/v1/orders/", orders, format="json")

    assert response.status_code == 409
    assert set(response.json()["details"]) == {"1"}
    assert not Order.objects.filter(pk="new-1").exists()


def test_the_exchange_can_be_named_once_on_the_url(api, okx):
    order = ccxt_order()
    del order["exchange"]

    response = api.post("/api/v1/orders/?exchange=okx", [order], format="json")

    assert response.status_code == 201
    assert Order.objects.get(pk="28457").exchange == okx


def test_a_decision_id_must_name_a_recorded_decision(api, binance):
    DecisionFactory(id="dec_1")

    ok = api.post("/api/v1/orders/", ccxt_order(decisionId="dec_1"), format="json")
    unknown = api.post(
        "/api/v1/orders/", ccxt_order(id="2", clientOrderId="c2", decisionId="dec_x"), format="json"
    )

    assert ok.status_code == 201 and Order.objects.get(pk="28457").decision_id == "dec_1"
    assert unknown.status_code == 400 and "decisionId" in unknown.json()["details"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"side": "long"}, "side"),
        ({"type": "iceberg"}, "type"),
        ({"status": "sideways"}, "status"),
        ({"amount": -0.01}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": "a lot"}, "amount"),
        ({"amount": True}, "amount"),
        ({"price": "-5"}, "price"),
        ({"price": "1e20"}, "price"),
        ({"price": "Infinity"}, "price"),
        ({"filled": 0.02}, "filled"),
        ({"exchange": "nowhere"}, "exchange"),
        ({"symbol": "X" * 21}, "symbol"),
        ({"id": None}, "id"),
        ({"timestamp": None, "datetime": None}, "timestamp"),
        ({"timestamp": -1}, "timestamp"),
        ({"info": {"bad": "\u0000"}}, "info"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, binance, overrides, field):
    response = api.post("/api/v1/orders/", ccxt_order(**overrides), format="json")

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["details"], body
    assert not Order.objects.exists()
    assert not SystemEvent.objects.exists()


def test_more_than_eight_decimal_places_round_half_up_like_the_column(api, binance):
    api.post(
        "/api/v1/orders/", ccxt_order(average="45000.123456789", status="closed", filled=0.012), format="json"
    )

    assert Order.objects.get(pk="28457").average == Decimal("45000.12345679")


def test_list_filters_and_retrieve(api):
    binance, okx = ExchangeFactory(name="binance"), ExchangeFactory(name="okx")
    OrderFactory(id="a", exchange=binance, symbol="BTC/USDT", status=OrderStatus.OPEN)
    OrderFactory(id="b", exchange=okx, symbol="ETH/USDT", status=OrderStatus.FILLED)
    OrderFactory(id="c", exchange=okx, symbol="ETH/USDT", status=OrderStatus.CANCELED)

    def ids(query):
        response = api.get(f"/api/v1/orders/?{query}")
        assert response.status_code == 200
        return sorted(o["id"] for o in response.json()["results"])

    assert ids("exchange=okx") == ["b", "c"]
    assert ids("symbol=BTC/USDT") == ["a"]
    assert ids("status=filled&status=canceled") == ["b", "c"]
    assert api.get("/api/v1/orders/b/").json()["exchange"] == "okx"


def test_the_list_is_cursor_paginated_newest_first(api):
    exchange = ExchangeFactory(name="binance")
    OrderFactory.create_batch(7, exchange=exchange)

    first = api.get("/api/v1/orders/?page_size=3").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    seen = [o["id"] for page in (first, second, third) for o in page["results"]]
    assert len(seen) == 7 and len(set(seen)) == 7
    datetimes = [o["datetime"] for page in (first, second, third) for o in page["results"]]
    assert datetimes == sorted(datetimes, reverse=True)
    assert third["next"] is None


def test_listing_runs_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    exchange = ExchangeFactory(name="binance")
    OrderFactory.create_batch(30, exchange=exchange)
    api.get("/api/v1/orders/")  # the agent's last_used_at write happens once

    with django_assert_max_num_queries(2):  # the agent, the page (exchange joined)
        response = api.get("/api/v1/orders/?page_size=30")

    assert len(response.json()["results"]) == 30
