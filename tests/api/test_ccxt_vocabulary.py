"""The API and import_trades read ccxt's vocabulary alike (apps.execution.ccxt): each ccxt order type,
fee and fee list is recorded the same way by a POST and by a file line, and refused with the same words."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from apps.execution import ccxt
from apps.execution.models import Order, OrderType, Trade
from apps.execution.services.imports import trades_import

pytestmark = pytest.mark.django_db

T0 = 1_767_225_600_000

# Every spelling of an order type the vocabulary knows, and a few as exchanges write them.
ORDER_TYPES = [
    *sorted({*OrderType.values, *ccxt.TYPE_SYNONYMS}),
    "LIMIT_MAKER",  # Binance's own, upper case
    "stop-loss-limit",  # Kraken's
    "take-profit",
    "Stop Market",
]

FEES = [
    pytest.param({"fee": {"cost": "0.45", "currency": "USDT"}}, ("0.45", "USDT"), id="fee-object"),
    pytest.param({"fee": "0.3", "fee_currency": "ETH"}, ("0.3", "ETH"), id="seed-fee-and-currency"),
    pytest.param(
        {"fee": None, "fees": [{"cost": "0.1", "currency": "USDT"}, {"cost": "0.05", "currency": "USDT"}]},
        ("0.15", "USDT"),
        id="fees-one-currency-summed",
    ),
    pytest.param(
        {"fee": None, "fees": [{"cost": "0.1", "currency": "USDT"}, {"cost": "0", "currency": "BNB"}]},
        ("0.1", "USDT"),
        id="fees-zero-entry-in-another-currency",
    ),
    pytest.param(
        {"fee": {"cost": None, "currency": None}, "fees": [{"cost": 0.0002, "currency": "BTC"}]},
        ("0.0002", "BTC"),
        id="empty-fee-object-and-a-fees-list",
    ),
    pytest.param(
        {"fee": None, "fees": [{"cost": None, "currency": "USDT"}, {"cost": "0.2", "currency": "USDT"}]},
        ("0.2", "USDT"),
        id="fees-entry-without-cost",
    ),
    pytest.param({"fee": {"cost": "-0.0092", "currency": "USDT"}}, ("-0.0092", "USDT"), id="maker-rebate"),
    pytest.param({"fee": None, "fees": []}, (None, None), id="no-fee"),
]


def ccxt_order(n: int, **overrides) -> dict:
    order = {
        "id": f"o{n}", "clientOrderId": f"c{n}", "timestamp": T0 + n, "datetime": None, "status": "closed",
        "symbol": "BTC/USDT", "type": "limit", "side": "buy", "price": "45000.5", "amount": "0.01",
        "filled": "0.01", "remaining": "0", "cost": "450.005", "fee": None, "fees": [], "info": {"n": n},
    }  # fmt: skip
    order.update(overrides)
    return order


def ccxt_trade(n: int, **overrides) -> dict:
    trade = {
        "id": f"t{n}", "order": None, "timestamp": T0 + n, "symbol": "BTC/USDT", "type": "limit",
        "side": "sell", "takerOrMaker": "maker", "price": "45000.5", "amount": "0.01", "cost": "450.005",
        "fee": None, "fees": [], "info": {"n": n},
    }  # fmt: skip
    trade.update(overrides)
    return trade


def imported(tmp_path: Path, exchange, *records: dict):
    path = tmp_path / "ccxt.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return trades_import(path=path, exchange=exchange)


@pytest.mark.parametrize("order_type", ORDER_TYPES)
def test_every_order_type_the_api_accepts_the_import_accepts_as_the_same_type(
    api, binance, tmp_path, order_type
):
    posted = api.post("/api/v1/orders/?exchange=binance", ccxt_order(1, type=order_type), format="json")
    report = imported(tmp_path, binance, ccxt_order(2, type=order_type))

    assert posted.status_code == 201, posted.json()
    assert report.rejections == [] and report.orders_inserted == 1
    via_api, via_import = Order.objects.get(pk="o1"), Order.objects.get(pk="o2")
    assert via_api.type == via_import.type == ccxt.order_type(order_type)


@pytest.mark.parametrize(("fee", "expected"), FEES)
def test_every_fee_the_api_accepts_on_an_order_the_import_records_alike(
    api, binance, tmp_path, fee, expected
):
    posted = api.post("/api/v1/orders/?exchange=binance", ccxt_order(1, **fee), format="json")
    report = imported(tmp_path, binance, ccxt_order(2, **fee))

    assert posted.status_code == 201, posted.json()
    assert report.rejections == []
    cost, currency = expected
    want = (None if cost is None else Decimal(cost), currency)
    assert Order.objects.values_list("fee", "fee_currency").get(pk="o1") == want
    assert Order.objects.values_list("fee", "fee_currency").get(pk="o2") == want


@pytest.mark.parametrize(("fee", "expected"), FEES)
def test_every_fee_the_api_accepts_on_a_trade_the_import_records_alike(api, binance, tmp_path, fee, expected):
    posted = api.post("/api/v1/trades/?exchange=binance", [ccxt_trade(1, **fee)], format="json")
    report = imported(tmp_path, binance, ccxt_trade(2, **fee))

    assert posted.status_code == 201, posted.json()
    assert report.rejections == []
    cost, currency = expected
    want = (None if cost is None else Decimal(cost), currency)
    assert Trade.objects.values_list("fee", "fee_currency").get(pk="t1") == want
    assert Trade.objects.values_list("fee", "fee_currency").get(pk="t2") == want


def test_fees_in_several_currencies_are_refused_with_the_same_words_by_both(api, binance, tmp_path):
    fees = [{"cost": "0.1", "currency": "USDT"}, {"cost": "0.001", "currency": "BNB"}]
    message = (
        "`fees` are in several currencies (BNB, USDT); the seed records one fee. "
        "Send `fee: {cost, currency}` with the one to record."
    )

    order = api.post("/api/v1/orders/?exchange=binance", ccxt_order(1, fees=fees), format="json")
    trade = api.post("/api/v1/trades/?exchange=binance", ccxt_trade(1, fees=fees), format="json")
    report = imported(tmp_path, binance, ccxt_order(2, fees=fees), ccxt_trade(2, fees=fees), ccxt_trade(3))

    assert order.status_code == trade.status_code == 400
    assert order.json()["details"]["fee"] == trade.json()["details"]["fee"] == [message]
    assert [(r.line, r.reason) for r in report.rejections] == [(1, f"fee: {message}"), (2, f"fee: {message}")]
    assert not Order.objects.exists()
    assert list(Trade.objects.values_list("id", flat=True)) == ["t3"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "iceberg"}, "type"),
        ({"status": "sideways"}, "status"),
        ({"side": "long"}, "side"),
        ({"fee": {"cost": "a lot", "currency": "USDT"}}, "fee"),
        ({"fees": [{"cost": "0.1", "currency": "USDT"}, "0.2"]}, "fee"),
    ],
)
def test_what_the_api_refuses_the_import_refuses_with_the_same_reason(
    api, binance, tmp_path, overrides, field
):
    posted = api.post("/api/v1/orders/?exchange=binance", ccxt_order(1, **overrides), format="json")
    report = imported(tmp_path, binance, ccxt_order(2, **overrides), ccxt_order(3))

    assert posted.status_code == 400
    (reason,) = posted.json()["details"][field]
    assert [(r.line, r.reason) for r in report.rejections] == [(1, f"{field}: {reason}")]
    assert list(Order.objects.values_list("id", flat=True)) == ["o3"]
