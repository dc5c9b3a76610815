"""Positions: open or update by (exchange, symbol), close; the current-positions view."""

from decimal import Decimal

import pytest

from apps.agents.models import AgentWrite
from apps.execution.models import Position
from tests.factories import PositionFactory

pytestmark = pytest.mark.django_db


def position(**overrides):
    body = {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "amount": "0.5",
        "entry_price": "40000",
        "current_price": "42000",
    }
    body.update(overrides)
    return body


def test_opening_derives_pnl_and_value(api, binance):
    response = api.post("/api/v1/positions/", position(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["unrealized_pnl"] == "1000.00000000"
    assert body["unrealized_pnl_percentage"] == "5.0000"
    assert body["value"] == "21000.00000000"
    assert body["is_open"] is True


def test_posting_again_updates_the_open_position(api, binance):
    api.post("/api/v1/positions/", position(), format="json")

    response = api.post(
        "/api/v1/positions/", position(current_price="39000", stop_loss="38000"), format="json"
    )

    assert response.status_code == 200
    assert Position.objects.count() == 1
    updated = Position.objects.get()
    assert updated.unrealized_pnl == Decimal("-500") and updated.stop_loss == Decimal("38000")


def test_ccxt_positions_are_accepted(api, binance):
    ccxt_position = {
        "exchange": "binance",
        "symbol": "ETH/USDT:USDT",
        "side": "short",
        "contracts": 2,
        "entryPrice": 3000,
        "markPrice": 2900,
        "unrealizedPnl": 200,
        "percentage": 3.33,
        "notional": 5800,
        "info": {"positionAmt": "-2"},
    }

    response = api.post("/api/v1/positions/", ccxt_position, format="json")

    assert response.status_code == 201
    recorded = Position.objects.get(symbol="ETH/USDT:USDT")
    assert (recorded.side, recorded.amount, recorded.unrealized_pnl) == ("sell", Decimal("2"), Decimal("200"))


def test_closing_by_id_and_by_symbol(api, binance):
    opened = api.post("/api/v1/positions/", position(), format="json").json()
    api.post(
        "/api/v1/positions/",
        position(symbol="ETH/USDT", entry_price="3000", current_price="3100"),
        format="json",
    )

    by_id = api.post(f"/api/v1/positions/{opened['id']}/close/", {"current_price": "43000"}, format="json")
    by_symbol = api.post(
        "/api/v1/positions/close/", {"exchange": "binance", "symbol": "ETH/USDT"}, format="json"
    )
    again = api.post(f"/api/v1/positions/{opened['id']}/close/", {}, format="json")

    assert by_id.status_code == 200 and by_id.json()["is_open"] is False
    assert by_id.json()["closed_at"] and by_id.json()["unrealized_pnl"] == "1500.00000000"
    assert by_symbol.status_code == 200 and by_symbol.json()["symbol"] == "ETH/USDT"
    assert again.status_code == 200 and again.json()["closed_at"] == by_id.json()["closed_at"]
    assert not Position.objects.filter(is_open=True).exists()
    assert AgentWrite.objects.filter(resource="positions", action="closed").count() == 2


def test_a_closed_symbol_can_be_opened_again(api, binance):
    first = api.post("/api/v1/positions/", position(), format="json").json()
    api.post(f"/api/v1/positions/{first['id']}/close/", {}, format="json")

    reopened = api.post("/api/v1/positions/", position(), format="json")

    assert reopened.status_code == 201 and reopened.json()["id"] != first["id"]


def test_closing_nothing_is_a_404(api, binance):
    response = api.post(
        "/api/v1/positions/close/", {"exchange": "binance", "symbol": "DOGE/USDT"}, format="json"
    )

    assert response.status_code == 404


def test_current_positions_lists_only_open_ones(api, binance, django_assert_max_num_queries):
    PositionFactory.create_batch(3, exchange=binance)
    PositionFactory(exchange=binance, is_open=False)
    api.get("/api/v1/current-positions/")

    with django_assert_max_num_queries(3):  # the agent, the count, the page
        response = api.get("/api/v1/current-positions/")

    assert response.json()["count"] == 3
    assert all(p["is_open"] for p in response.json()["results"])


@pytest.mark.parametrize(("overrides", "field"), [({"side": "flat"}, "side"), ({"amount": "0"}, "amount")])
def test_bad_positions_are_refused(api, binance, overrides, field):
    response = api.post("/api/v1/positions/", position(**overrides), format="json")

    assert response.status_code == 400 and field in response.json()["details"]
    assert not Position.objects.exists()
