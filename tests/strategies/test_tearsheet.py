"""The tearsheet of a strategy version: its figures on the flow-adjusted series equal quantstats', the
benchmark comes from the snapshots' recorded rates, PnL is netted of inference cost, and the page and its
download work for the roles that may see it."""

from __future__ import annotations

import itertools
import math
import random
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pandas as pd
import pytest
import quantstats as qs
from django.urls import reverse

from apps.decisions.costs import model_price_add
from apps.strategies.services.tearsheet import tearsheet_build
from tests.factories import (
    DecisionFactory,
    ExchangeFactory,
    PortfolioSnapshotFactory,
    PositionFactory,
    StrategyFactory,
    TradeFactory,
)

START = date(2025, 1, 1)
DAYS = 200
DEPOSIT_DAY = 100


@pytest.fixture
def account(db):
    """200 daily snapshots of one account, a 5,000 USDT deposit on day 100, BTC's rate recorded each day."""
    rng = random.Random(7)
    exchange = ExchangeFactory(name="binance")
    strategy = StrategyFactory(name="trend", version="2.0", config={"exchanges": ["binance"]})
    value, btc = D("10000"), D("40000")
    values, flows, prices = [], [], []
    for i in range(DAYS):
        flow = D("5000") if i == DEPOSIT_DAY else D(0)
        if i:
            value = (value * (1 + D(str(round(rng.gauss(0.001, 0.02), 6))))).quantize(D("0.00000001")) + flow
            btc = (btc * (1 + D(str(round(rng.gauss(0.0005, 0.03), 6))))).quantize(D("0.01"))
        values.append(value)
        flows.append(flow)
        prices.append(btc)
        PortfolioSnapshotFactory(
            exchange=exchange, snapshot_date=START + timedelta(days=i), total_value=value, net_flow=flow,
            reporting_currency="USDT", rates={"BTC": {"rate": str(btc), "source": "given"}},
        )  # fmt: skip
    return exchange, strategy, values, flows, prices


def flow_adjusted(values, flows):
    return [float((values[i] - flows[i]) / values[i - 1] - 1) for i in range(1, len(values))]


def close(a, b, tolerance=1e-9):
    return a is not None and math.isclose(a, float(b), rel_tol=tolerance, abs_tol=tolerance)


def test_figures_equal_quantstats_on_the_flow_adjusted_series(account):
    _, strategy, values, flows, prices = account
    sheet = tearsheet_build(strategy=strategy, start=START, end=START + timedelta(days=DAYS - 1))
    returns = pd.Series(
        flow_adjusted(values, flows),
        index=pd.DatetimeIndex([START + timedelta(days=i) for i in range(1, DAYS)]),
    )
    benchmark = pd.Series(
        [float(b / a - 1) for a, b in itertools.pairwise(prices)], index=returns.index
    )

    assert sheet.returns == pytest.approx(list(returns), abs=1e-12)
    # The deposit is not a return: day 100's return is the account's own move only.
    assert abs(sheet.returns[DEPOSIT_DAY - 1]) < 0.1
    figures = sheet.figures
    assert close(figures["total_return"], qs.stats.comp(returns))
    assert close(figures["cagr"], (1 + qs.stats.comp(returns)) ** (365 / len(returns)) - 1)
    assert close(figures["sharpe"], qs.stats.sharpe(returns, periods=365))
    assert close(figures["sortino"], qs.stats.sortino(returns, periods=365))
    assert close(figures["volatility"], qs.stats.volatility(returns, periods=365))
    assert close(figures["max_drawdown"], qs.stats.max_drawdown(returns))
    assert close(figures["var_95"], qs.stats.value_at_risk(returns))
    assert close(figures["cvar_95"], qs.stats.cvar(returns))
    assert close(figures["omega"], qs.stats.omega(returns, periods=365))
    assert close(figures["tail_ratio"], qs.stats.tail_ratio(returns))
    assert close(figures["ulcer_index"], qs.stats.ulcer_index(returns))
    greeks = qs.stats.greeks(returns, benchmark, periods=365)
    assert close(figures["alpha"], greeks["alpha"]) and close(figures["beta"], greeks["beta"])
    details = qs.stats.drawdown_details(qs.stats.to_drawdown_series(returns))
    assert figures["longest_drawdown_days"] == int(details["days"].max())
    assert figures["best_day"][0] == pytest.approx(float(returns.max()))
    # Buy-and-hold of BTC from the same recorded rates.
    assert sheet.benchmark[-1] == pytest.approx(float(prices[-1] / prices[0]))


def test_pnl_is_netted_of_the_inference_cost_of_the_versions_decisions(account):
    _, strategy, values, flows, _ = account
    model_price_add(model="gpt-4o", input_per_million=D("2.5"), output_per_million=D("10"),
                    effective_from=datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
    day = datetime(2025, 2, 1, 12, tzinfo=UTC)
    DecisionFactory(model_used="gpt-4o", input_tokens=100_000, output_tokens=20_000, tokens_used=120_000,
                    timestamp=int(day.timestamp() * 1000), datetime=day)  # fmt: skip
    DecisionFactory(
        model_used="gpt-4o", tokens_used=50_000, timestamp=int(day.timestamp() * 1000), datetime=day
    )
    from apps.decisions.costs import decisions_reprice

    decisions_reprice()
    sheet = tearsheet_build(strategy=strategy, start=START, end=START + timedelta(days=DAYS - 1))
    # 100,000 x 2.5 / 1M + 20,000 x 10 / 1M = 0.45; 50,000 unsplit at the output price = 0.50.
    assert sheet.figures["inference_cost"] == D("0.95")
    (model,) = sheet.costs_by_model
    assert (model["model"], model["decisions"], model["input_tokens"], model["cost"]) == (
        "gpt-4o",
        2,
        100_000,
        D("0.95"),
    )
    row = next(r for r in sheet.pnl_by_day if r["day"] == date(2025, 2, 1))
    assert row["cost"] == D("0.95") and row["net"] == row["pnl"] - D("0.95")
    index = (date(2025, 2, 1) - START).days
    assert row["pnl"] == values[index] - values[index - 1] - flows[index]
    assert sheet.figures["pnl_net_of_inference"] == sheet.figures["pnl"] - D("0.95")


def test_closed_positions_and_fills_are_counted_in_the_range(account):
    exchange, strategy, *_ = account
    inside = datetime(2025, 3, 1, tzinfo=UTC)
    for pnl in (D("120"), D("-40"), D("-20")):
        PositionFactory(
            exchange=exchange, symbol="BTC/USDT", is_open=False, opened_at=inside - timedelta(hours=5),
            closed_at=inside, realized_pnl=pnl, realized_fees=D("1"),
        )  # fmt: skip
    PositionFactory(
        exchange=exchange, symbol="ETH/USDT", is_open=False, opened_at=datetime(2024, 1, 1, tzinfo=UTC),
        closed_at=datetime(2024, 1, 2, tzinfo=UTC), realized_pnl=D("999"),
    )  # fmt: skip
    TradeFactory(order__exchange=exchange, price=D("50000"), amount=D("0.1"), fee=D("5"), fee_currency="USDT",
                 datetime=inside)  # fmt: skip
    sheet = tearsheet_build(strategy=strategy, start=START, end=START + timedelta(days=DAYS - 1))
    assert sheet.positions["closed"] == 3
    assert (sheet.positions["wins"], sheet.positions["losses"]) == (1, 2)
    assert sheet.positions["realized_pnl"] == D("60")
    assert sheet.positions["profit_factor"] == D("2")
    assert sheet.fills["count"] == 1 and sheet.fills["fees"] == {"USDT": D("5")}


def test_without_a_benchmark_rate_on_the_first_day_alpha_and_beta_say_why(db):
    exchange = ExchangeFactory(name="okx")
    strategy = StrategyFactory(name="flat", version="1.0", config={})
    for i, value in enumerate(["100", "101", "100.5"]):
        PortfolioSnapshotFactory(
            exchange=exchange, snapshot_date=START + timedelta(days=i), total_value=D(value)
        )
    sheet = tearsheet_build(strategy=strategy, start=START, end=START + timedelta(days=2))
    assert sheet.benchmark is None
    assert sheet.figures["alpha"] is None and "no BTC rate" in sheet.notes["alpha"]
    assert "two or more" not in sheet.notes.get("sharpe", "")


def test_the_page_renders_and_downloads_as_one_file(account, client, django_user_model):
    _, strategy, *_ = account
    from django.contrib.auth.models import Group

    auditor = django_user_model.objects.create_user("audrey", password="pw-123456!", is_staff=True)
    auditor.groups.add(Group.objects.get(name="auditors"))
    client.force_login(auditor)
    url = reverse("admin:tearsheet", args=[strategy.pk])
    page = client.get(url, {"start": "2025-01-01", "end": "2025-07-19"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Monthly returns" in html and "buy-and-hold BTC/USDT" in html
    assert 'src="/static/vendor/uplot/uPlot.iife.min.js"' in html
    assert "<script>" not in html  # no inline script: the Content-Security-Policy refuses them

    download = client.get(url, {"start": "2025-01-01", "end": "2025-07-19", "download": "1"})
    assert download.status_code == 200
    assert (
        download["Content-Disposition"]
        == 'attachment; filename="tearsheet-trend-20-2025-01-01-2025-07-19.html"'
    )
    text = download.content.decode()
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)  # nothing fetched from anywhere
    assert "uPlot" in text and 'id="tearsheet-data"' in text

    bad = client.get(url, {"start": "January"})
    assert bad.status_code == 400 and "&#x27;January&#x27; is not a date" in bad.content.decode()


def test_a_user_without_the_strategies_view_permission_is_refused(account, client, django_user_model):
    _, strategy, *_ = account
    user = django_user_model.objects.create_user("nobody", password="pw-123456!", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:tearsheet", args=[strategy.pk])).status_code == 403


def test_the_strategy_page_links_to_its_tearsheet(account, client, django_user_model):
    _, strategy, *_ = account
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456!")
    client.force_login(root)
    page = client.get(reverse("admin:strategies_strategy_change", args=[strategy.pk]))
    assert reverse("admin:tearsheet", args=[strategy.pk]) in page.content.decode()
