"""Figures for the filtered rows of the experiences, positions, trades and decisions changelists, against
sets computed by hand, in one query each, and as the page shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.decisions.models import Decision
from apps.execution.models import Position, Trade
from apps.journal.selectors.figures import (
    decision_figures,
    experience_figures,
    position_figures,
    trade_figures,
)
from apps.memory.models import Experience
from tests.factories import (
    DecisionFactory,
    ExchangeFactory,
    ExperienceFactory,
    OrderFactory,
    PositionFactory,
    TradeFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def experiences(db):
    # PnL: +120.50, +30.00, -45.25, -10.00, 0 (a success at break-even), and one without a PnL.
    rows = [
        ("BTC/USDT", "success", "120.50"), ("BTC/USDT", "success", "30.00"),
        ("ETH/USDT", "failure", "-45.25"), ("BTC/USDT", "failure", "-10.00"),
        ("ETH/USDT", "success", "0"), ("BTC/USDT", "failure", None),
    ]  # fmt: skip
    return [
        ExperienceFactory(
            symbol=s, outcome=o, pnl=None if p is None else D(p), datetime=T0 + timedelta(hours=i)
        )
        for i, (s, o, p) in enumerate(rows)
    ]


def test_experience_figures_by_hand(experiences):
    with CaptureQueriesContext(connection) as captured:
        figures = experience_figures(Experience.objects.all())
    assert len(captured.captured_queries) == 1
    assert (figures.count, figures.with_result, figures.wins, figures.losses) == (6, 5, 3, 3)
    assert figures.win_rate == D("50.00")  # 3 / 6 decided by outcome
    assert figures.total_pnl == D("95.25")  # 120.50 + 30 - 45.25 - 10 + 0
    assert figures.average_pnl == D("19.05")  # 95.25 / 5 with a PnL
    assert figures.profit_factor == D("2.72")  # 150.50 / 55.25 = 2.7240
    assert figures.currency == "USDT" and not figures.mixed_currencies


def test_experience_figures_of_a_filter(experiences):
    figures = experience_figures(Experience.objects.filter(symbol="BTC/USDT"))
    # +120.50, +30.00, -10.00 and one without: wins 2, losses 2 (by outcome), PF 150.50 / 10 = 15.05.
    assert (figures.count, figures.wins, figures.losses, figures.total_pnl) == (4, 2, 2, D("140.50"))
    assert figures.profit_factor == D("15.05") and figures.win_rate == D("50.00")


def test_nothing_lost_has_no_profit_factor_and_nothing_filtered_has_no_figures(experiences):
    won = experience_figures(Experience.objects.filter(pnl__gt=0))
    assert won.profit_factor is None and won.win_rate == D("100.00")
    empty = experience_figures(Experience.objects.none() | Experience.objects.filter(symbol="XRP/USDT"))
    assert (empty.count, empty.win_rate, empty.total_pnl, empty.average_pnl, empty.currency) == (
        0, None, None, None, None,
    )  # fmt: skip


def test_several_quote_currencies_are_not_summed_as_one(experiences):
    ExperienceFactory(symbol="BTC/EUR", outcome="success", pnl=D("5"))
    figures = experience_figures(Experience.objects.all())
    assert figures.currency is None and figures.mixed_currencies


def test_position_figures_by_hand(db):
    exchange = ExchangeFactory(name="binance")
    realized = [("84.10", "1.20"), ("-32.40", "0.90"), ("-12.00", "0.40"), ("0", "0.10"), (None, None)]
    for i, (pnl, fees) in enumerate(realized):
        PositionFactory(
            exchange=exchange, symbol=f"C{i}/USDT", is_open=pnl is None,
            closed_at=None if pnl is None else T0, realized_pnl=None if pnl is None else D(pnl),
            realized_fees=None if fees is None else D(fees),
        )  # fmt: skip
    figures = position_figures(Position.objects.all())
    assert (figures.count, figures.with_result, figures.wins, figures.losses) == (5, 4, 1, 2)
    assert figures.win_rate == D("33.33")  # 1 / 3: break-even is neither
    assert figures.total_pnl == D("39.70") and figures.average_pnl == D("9.925")
    assert figures.profit_factor == D("1.89")  # 84.10 / 44.40 = 1.8941
    assert figures.fees == D("2.60") and figures.currency == "USDT"


def test_trade_figures_by_hand(db):
    exchange = ExchangeFactory(name="binance")
    fills = [
        ("buy", "0.010", "43000", "0.43"), ("buy", "0.020", "43100", "0.86"),
        ("sell", "0.030", "43500", "1.31"),
    ]  # fmt: skip
    for side, amount, price, fee in fills:
        order = OrderFactory(exchange=exchange, symbol="BTC/USDT", side=side)
        TradeFactory(order=order, amount=D(amount), price=D(price), fee=D(fee), fee_currency="USDT")
    figures = trade_figures(Trade.objects.all())
    assert (figures.count, figures.buys, figures.sells) == (3, 2, 1)
    assert figures.volume == D("2597.00")  # 430 + 862 + 1305
    assert (figures.fees, figures.fee_currency) == (D("2.60"), "USDT")
    TradeFactory(order=OrderFactory(exchange=exchange), fee=D("0.001"), fee_currency="BNB")
    mixed = trade_figures(Trade.objects.all())
    assert mixed.fees is None and mixed.mixed_fee_currencies


def test_decision_figures_by_hand(db):
    for layer, tokens, inp, out, cost, latency in [
        ("tactical", 3000, 2500, 500, "0.011250", 900), ("tactical", 2000, 1500, 500, "0.008750", 700),
        ("strategic", 8000, None, None, None, 2400),
    ]:  # fmt: skip
        DecisionFactory(decision_layer=layer, tokens_used=tokens, input_tokens=inp, output_tokens=out,
                        inference_cost=None if cost is None else D(cost), latency_ms=latency)  # fmt: skip
    figures = decision_figures(Decision.objects.all())
    assert (figures.count, figures.strategic, figures.tactical) == (3, 1, 2)
    assert (figures.tokens, figures.input_tokens, figures.output_tokens) == (13000, 4000, 1000)
    assert figures.cost == D("0.02") and figures.priced == 2 and figures.average_cost == D("0.0100")
    assert figures.average_latency_ms == D("1333")


def test_the_changelist_shows_the_figures_of_its_filter(root_client, experiences):
    url = reverse("admin:memory_experience_changelist")
    html = root_client.get(url + "?symbol=BTC/USDT").content.decode()
    assert "4 experiences filtered" in html
    assert '<span class="num-pos">+140.50 USDT</span>' in html  # total
    assert "50.00 %" in html and "15.05" in html
    assert "1 of them without a PnL" in html
    html = root_client.get(url + "?outcome__exact=failure").content.decode()
    assert "3 experiences filtered" in html and '<span class="num-neg">-55.25 USDT</span>' in html


@pytest.mark.parametrize(
    ("page", "text"),
    [
        ("admin:execution_position_changelist", "positions filtered"),
        ("admin:execution_trade_changelist", "trades filtered"),
        ("admin:decisions_decision_changelist", "decisions filtered"),
    ],
)
def test_every_results_changelist_has_figures(root_client, world, page, text):
    html = root_client.get(reverse(page)).content.decode()
    assert text in html and 'id="figures"' in html
