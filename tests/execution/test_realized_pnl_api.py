"""Realized PnL where people read it: the positions API (read-only fields) and the admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.common.clock import to_ms
from apps.execution.models import Position
from apps.execution.services.trades import trade_record
from tests.agents.factories import AgentFactory
from tests.factories import ExchangeFactory, PositionFactory

pytestmark = pytest.mark.django_db

OPENED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REALIZED_FIELDS = {"realized_pnl", "realized_fees", "realized_other_fees", "realized_at", "realized_note"}


@pytest.fixture
def binance():
    return ExchangeFactory(name="binance")


@pytest.fixture
def api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentFactory(name='realized-trader').token}")
    return client


def fill(exchange, n, side, amount, price, minutes, fee=None, fee_currency="USDT"):
    trade_record(
        exchange=exchange, trade_id=f"t{n}", symbol="BTC/USDT", side=side, price=Decimal(price),
        amount=Decimal(amount), timestamp=to_ms(OPENED + timedelta(minutes=minutes)),
        fee=Decimal(fee) if fee else None, fee_currency=fee_currency if fee else None,
    )  # fmt: skip


def open_position(api, **overrides):
    body = {
        "exchange": "binance", "symbol": "BTC/USDT", "side": "buy", "amount": "0.5",
        "entry_price": "65447", "current_price": "65447", "opened_at": OPENED.isoformat(),
    }  # fmt: skip
    response = api.post("/api/v1/positions/", body | overrides, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_closing_through_the_api_answers_with_the_realized_pnl(api, binance):
    opened = open_position(api)
    assert opened["realized_pnl"] is None  # not computed while nothing is realized
    fill(binance, 1, "buy", "0.5", "65447", 0, fee="32.7235", fee_currency="USDT")
    fill(binance, 2, "sell", "0.5", "53911", 60, fee="0.0001", fee_currency="BNB")
    closed_at = (OPENED + timedelta(minutes=60)).isoformat()

    response = api.post(
        f"/api/v1/positions/{opened['id']}/close/", {"closed_at": closed_at, "current_price": "53911"}
    )

    body = response.json()
    assert response.status_code == 200
    # (53,911 - 65,447) x 0.5 = -5,768; the USDT fee 32.7235: -5,800.7235; the BNB fee apart
    assert (body["realized_pnl"], body["realized_fees"]) == ("-5800.72350000", "32.72350000")
    assert body["realized_other_fees"] == {"BNB": "0.00010000"}
    assert body["realized_at"] and "BNB" in body["realized_note"]
    assert api.get(f"/api/v1/positions/{opened['id']}/").json()["realized_pnl"] == "-5800.72350000"


def test_a_position_without_fills_shows_null_and_the_reason(api, binance):
    opened = open_position(api)

    body = api.post(f"/api/v1/positions/{opened['id']}/close/", {}, format="json").json()

    assert body["realized_pnl"] is None and body["realized_fees"] is None
    assert body["realized_note"].startswith("No fills of BTC/USDT")


def test_the_realized_fields_are_in_every_position_serializer(api, binance):
    PositionFactory(exchange=binance, realized_pnl=Decimal("12.5"))

    listed = api.get("/api/v1/positions/").json()["results"][0]
    current = api.get("/api/v1/current-positions/").json()["results"][0]

    assert set(listed) >= REALIZED_FIELDS and set(current) >= REALIZED_FIELDS
    assert listed["realized_pnl"] == current["realized_pnl"] == "12.50000000"


def test_the_realized_fields_cannot_be_written(api, binance):
    opened = open_position(api, realized_pnl="1000000", realized_note="made up")

    stored = Position.objects.get(pk=opened["id"])
    assert (stored.realized_pnl, stored.realized_note) == (None, None)


# --- The admin ------------------------------------------------------------------------------------------


@pytest.fixture
def closed_positions(binance):
    with_result = PositionFactory(
        exchange=binance, symbol="BTC/USDT", is_open=False, closed_at=OPENED,
        realized_pnl=Decimal("-5827.679"), realized_fees=Decimal("59.679"),
        realized_other_fees={"BNB": "0.00031500"}, realized_at=OPENED,
        realized_note="Fees in BNB are not converted and not in realized_pnl (see realized_other_fees).",
    )  # fmt: skip
    without = PositionFactory(
        exchange=binance, symbol="ETH/USDT", is_open=False, closed_at=OPENED,
        realized_note="No fills of ETH/USDT on its exchange are recorded between opened_at and closed_at.",
    )  # fmt: skip
    return with_result, without


def test_the_positions_changelist_shows_the_realized_pnl(admin_client, closed_positions):
    response = admin_client.get(reverse("admin:execution_position_changelist"))

    page = response.content.decode()
    assert response.status_code == 200
    # Money in its currency to 2 places, its sign coloured (docs/operators.md, "How numbers read").
    assert ">Realized PnL</a>" in page
    assert '<td class="field-realized_shown"><span class="num-neg">-5,827.68 USDT</span></td>' in page
    # No figure reads "n/a" with its reason on hover, not as a blank or a 0.
    assert 'title="No fills of ETH/USDT on its exchange' in page


def test_the_position_page_shows_the_realized_figures(admin_client, closed_positions):
    with_result, without = closed_positions

    def page(position):
        url = reverse("admin:execution_position_change", args=[position.pk])
        return admin_client.get(url).content.decode()

    shown, other = page(with_result), page(without)

    assert "Realized (from the fills, by average cost)" in shown
    assert "-5827.67900000" in shown and "59.67900000" in shown and "0.00031500 BNB" in shown
    assert "No fills of ETH/USDT" in other
