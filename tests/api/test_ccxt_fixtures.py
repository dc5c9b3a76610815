"""ccxt's own parsers, offline, on recorded Binance/OKX/Kraken replies: ingested and compared field by field.

ccxt is a test dependency only. Each exchange object gets its markets from here and has its
network call replaced by a failure, so nothing can reach an exchange or load markets remotely.
"""

import json
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from apps.exchanges.models import Exchange
from apps.execution.models import Order, Trade
from apps.execution.services.imports import trades_import
from apps.system_events.models import SystemEvent
from tests.factories import ExchangeFactory, OrderFactory

pytestmark = pytest.mark.django_db

RAW = Path(__file__).parent / "fixtures" / "ccxt_raw"


def _market(market_id, symbol, base, quote, **extra):
    market = {
        "id": market_id,
        "symbol": symbol,
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "settle": None,
        "settleId": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "contractSize": None,
        "active": True,
        "precision": {"amount": 1e-8, "price": 0.01},
        "limits": {},
        "info": {},
    }
    market.update(extra)
    return market


MARKETS = {
    "binance": [_market("BTCUSDT", "BTC/USDT", "BTC", "USDT")],
    "okx": [_market("ETH-USDT", "ETH/USDT", "ETH", "USDT")],
    "kraken": [_market("XXBTZUSD", "BTC/USD", "BTC", "USD", baseId="XXBT", quoteId="ZUSD", altname="XBTUSD")],
}


def _offline(name: str):
    exchange = getattr(ccxt, name)({"enableRateLimit": False})

    def no_network(*args, **kwargs):
        raise AssertionError(f"ccxt.{name} tried to reach the network")

    exchange.fetch = no_network
    exchange.set_markets(MARKETS[name])
    if name == "kraken":
        exchange.options["marketsByAltname"] = {"XBTUSD": exchange.markets["BTC/USD"]}
    return exchange


def _parsed(name: str, fixture: str | None = None) -> tuple[list[dict], list[dict]]:
    """The recorded replies through ccxt's parse_order / parse_trade, as an agent would hold them."""
    exchange = _offline(name)
    raw = json.loads((RAW / f"{fixture or name}.json").read_text())
    if isinstance(raw["orders"], dict):  # Kraken keys its results by txid
        orders = [exchange.parse_order(exchange.extend({"id": k}, v)) for k, v in raw["orders"].items()]
        trades = [exchange.parse_trade(exchange.extend({"id": k}, v)) for k, v in raw["trades"].items()]
    else:
        orders = [exchange.parse_order(o) for o in raw["orders"]]
        trades = [exchange.parse_trade(t) for t in raw["trades"]]
    # What goes over the wire: ccxt's structure serialised by the agent's JSON library.
    return json.loads(json.dumps(orders)), json.loads(json.dumps(trades))


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _expected_status(ccxt_order: dict) -> str:
    status = ccxt_order["status"]
    if status == "open":
        return "partially_filled" if (ccxt_order["filled"] or 0) > 0 else "open"
    return {"closed": "filled", "canceled": "canceled", "cancelled": "canceled"}.get(status, status)


def _expected_type(ccxt_type: str) -> str:
    return {"post_only": "limit", "limit_maker": "limit"}.get(ccxt_type, ccxt_type)


def assert_order_matches(ccxt_order: dict, row: Order, exchange_name: str) -> None:
    assert row.id == ccxt_order["id"]
    assert row.client_order_id == ccxt_order["clientOrderId"]
    assert row.exchange.name == exchange_name
    assert row.symbol == ccxt_order["symbol"]
    assert row.side == ccxt_order["side"]
    assert row.type == _expected_type(ccxt_order["type"])
    assert row.status == _expected_status(ccxt_order)
    assert row.timestamp == ccxt_order["timestamp"]
    assert row.amount == _dec(ccxt_order["amount"])
    assert row.filled == _dec(ccxt_order["filled"] or 0)
    assert row.remaining == row.amount - row.filled
    if ccxt_order.get("remaining") is not None:
        assert row.remaining == _dec(ccxt_order["remaining"])
    for field, key in (("price", "price"), ("average", "average"), ("cost", "cost")):
        if ccxt_order.get(key) is not None:
            assert getattr(row, field) == _dec(ccxt_order[key]), field
    trigger = ccxt_order.get("stopPrice") or ccxt_order.get("triggerPrice")
    assert row.stop_price == _dec(trigger)
    fee = ccxt_order.get("fee") or {}
    assert row.fee == _dec(fee.get("cost"))
    assert row.fee_currency == fee.get("currency")
    assert row.raw_data == ccxt_order["info"]


def assert_trade_matches(ccxt_trade: dict, row: Trade, exchange_name: str) -> None:
    assert row.id == ccxt_trade["id"]
    assert row.order_id == ccxt_trade["order"]
    assert row.exchange.name == exchange_name
    assert (row.symbol, row.side) == (ccxt_trade["symbol"], ccxt_trade["side"])
    assert row.price == _dec(ccxt_trade["price"])
    assert row.amount == _dec(ccxt_trade["amount"])
    assert row.cost == _dec(ccxt_trade["cost"])
    assert row.fee == _dec(ccxt_trade["fee"]["cost"])
    assert row.fee_currency == ccxt_trade["fee"]["currency"]
    assert row.timestamp == ccxt_trade["timestamp"]
    assert row.raw_data == ccxt_trade["info"]


@pytest.mark.parametrize("name", ["binance", "okx", "kraken"])
def test_ccxt_orders_and_trades_are_ingested_field_by_field(api, name):
    ExchangeFactory(name=name)
    orders, trades = _parsed(name)

    # Each state of each order, in the order the agent saw them (Binance has one order's history).
    for order in orders:
        response = api.post(f"/api/v1/orders/?exchange={name}", order, format="json")
        assert response.status_code in (200, 201), response.json()
    traded = api.post(f"/api/v1/trades/?exchange={name}", trades, format="json")
    assert traded.status_code == 201, traded.json()

    latest = {o["clientOrderId"]: o for o in orders}
    assert Order.objects.count() == len(latest)
    for client_order_id, order in latest.items():
        row = Order.objects.select_related("exchange").get(client_order_id=client_order_id)
        assert_order_matches(order, row, name)
    assert Trade.objects.count() == len(trades)
    for trade in trades:
        assert_trade_matches(trade, Trade.objects.select_related("exchange").get(pk=trade["id"]), name)


def test_the_binance_history_moves_through_the_state_machine(api):
    ExchangeFactory(name="binance")
    orders, _ = _parsed("binance")
    history = [o for o in orders if o["id"] == "28457"]

    statuses = []
    for order in history:
        api.post("/api/v1/orders/?exchange=binance", order, format="json")
        statuses.append(Order.objects.get(pk="28457").status)
    stale = api.post("/api/v1/orders/?exchange=binance", history[0], format="json")

    assert statuses == ["open", "partially_filled", "filled"]
    assert stale.status_code == 409  # the NEW reply arriving late cannot reopen a filled order
    assert SystemEvent.objects.filter(related_order_id="28457").count() == 3


def test_an_okx_maker_rebate_is_recorded_as_the_negative_fee_ccxt_reports(api, okx):
    # OKX reports a maker's rebate as a positive `fee`; ccxt's parser turns it into a negative fee.cost.
    orders, trades = _parsed("okx", "okx_rebate")
    _, earlier_fills = _parsed("okx")
    assert trades[0]["fee"] == {"cost": -0.0092, "currency": "USDT"}
    assert earlier_fills[0]["fee"]["cost"] > 0  # a fee charged, beside the rebate in one page

    order = api.post("/api/v1/orders/?exchange=okx", orders[0], format="json")
    OrderFactory(id=earlier_fills[0]["order"], exchange=Exchange.objects.get(name="okx"), symbol="ETH/USDT")
    page = api.post("/api/v1/trades/?exchange=okx", [*earlier_fills, *trades], format="json")

    assert order.status_code == 201, order.json()
    assert page.status_code == 201, page.json()
    assert page.json()["created"] == 2
    recorded = Order.objects.select_related("exchange").get(pk=orders[0]["id"])
    assert_order_matches(orders[0], recorded, "okx")
    assert (recorded.fee, recorded.fee_currency) == (Decimal("-0.0092"), "USDT")
    fill = Trade.objects.select_related("exchange").get(pk=trades[0]["id"])
    assert_trade_matches(trades[0], fill, "okx")
    assert (fill.fee, fill.fee_currency) == (Decimal("-0.0092"), "USDT")
    assert page.json()["results"][1]["fee"] == "-0.00920000"


def _kraken_orders_without_client_ids() -> list[dict]:
    orders, _ = _parsed("kraken", "kraken_userref")
    # ccxt takes Kraken's userref for the clientOrderId: 0 for every order placed without one.
    assert [o["clientOrderId"] for o in orders] == ["0", "0"]
    return orders


def test_kraken_orders_placed_without_a_client_id_are_keyed_on_their_own_ids(api, kraken):
    orders = _kraken_orders_without_client_ids()

    first = [api.post("/api/v1/orders/?exchange=kraken", order, format="json") for order in orders]
    again = [api.post("/api/v1/orders/?exchange=kraken", order, format="json") for order in orders]

    assert [r.status_code for r in first] == [201, 201], [r.json() for r in first]
    assert [r.status_code for r in again] == [200, 200], [r.json() for r in again]  # no 409
    rows = Order.objects.select_related("exchange").order_by("timestamp")
    assert [(row.id, row.client_order_id) for row in rows] == [(o["id"], o["id"]) for o in orders]
    for order, row in zip(orders, rows, strict=True):
        assert_order_matches({**order, "clientOrderId": order["id"]}, row, "kraken")


def test_kraken_orders_placed_without_a_client_id_are_imported_alike(kraken, tmp_path):
    orders = _kraken_orders_without_client_ids()
    path = tmp_path / "kraken-orders.jsonl"
    path.write_text("".join(json.dumps(order) + "\n" for order in orders))

    report = trades_import(path=path, exchange=kraken)
    again = trades_import(path=path, exchange=kraken)

    assert report.rejections == [] and report.orders_inserted == 2
    assert again.rejections == [] and again.orders_present == 2
    rows = Order.objects.select_related("exchange").order_by("timestamp")
    assert [(row.id, row.client_order_id) for row in rows] == [(o["id"], o["id"]) for o in orders]
    for order, row in zip(orders, rows, strict=True):
        assert_order_matches({**order, "clientOrderId": order["id"]}, row, "kraken")
