"""Every NULL column of a performance row has its reason in daily_returns.conventions.null_reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from apps.strategies.services.performance import performance_metrics_compute
from tests.factories import ExchangeFactory, ExperienceFactory, PortfolioSnapshotFactory, StrategyFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 4, 1)
NULLABLE = [
    "total_return", "annualized_return", "volatility", "max_drawdown", "sharpe_ratio", "sortino_ratio",
    "calmar_ratio", "win_rate", "avg_win", "avg_loss", "profit_factor",
]  # fmt: skip


def compute(values, pnls=()):
    exchange = ExchangeFactory(name="binance")
    strategy = StrategyFactory(name="nulls", version="1", config={})
    for i, value in enumerate(values):
        PortfolioSnapshotFactory(
            exchange=exchange, snapshot_date=DAY + timedelta(days=i), total_value=D(value)
        )
    for i, pnl in enumerate(pnls):
        ExperienceFactory(pnl=D(pnl), datetime=datetime(2026, 4, 1, 12, i, tzinfo=UTC))
    end = DAY + timedelta(days=max(len(values), 1) - 1)
    row = performance_metrics_compute(strategy=strategy, start_date=DAY, end_date=end).row
    reasons = row.daily_returns["conventions"]["null_reasons"]
    nulls = {name for name in NULLABLE if getattr(row, name) is None}
    assert nulls == set(reasons), "every NULL has a reason, and only NULLs do"
    assert row.daily_returns["conventions"]["notes"] == [f"{n} is NULL: {r}" for n, r in reasons.items()]
    return reasons


def test_a_single_day_explains_every_return_figure_and_no_trades_explains_the_trade_figures():
    reasons = compute(["1000"])
    for name in NULLABLE[:7]:
        assert reasons[name] == "1 equity point(s) in the range; return and risk figures need two or more"
    assert reasons["win_rate"] == "no trade with a PnL in the range"
    assert reasons["avg_win"] == "no winning trade in the range"
    assert reasons["profit_factor"] == "no losing trade in the range: the gross loss it divides by is 0"


def test_a_single_return_explains_the_deviations():
    reasons = compute(["1000", "1010"], pnls=["5", "-2"])
    assert reasons["volatility"] == "a single daily return; a sample deviation needs two or more"
    assert reasons["sharpe_ratio"] == reasons["volatility"] == reasons["sortino_ratio"]
    assert reasons["calmar_ratio"].startswith("no drawdown")
    assert "win_rate" not in reasons and "profit_factor" not in reasons


def test_flat_equity_and_scratch_trades():
    reasons = compute(["1000", "1000", "1000"], pnls=["0", "0"])
    assert (
        reasons["sharpe_ratio"]
        == "the daily excess return is the same every day: zero deviation to divide by"
    )
    assert reasons["sortino_ratio"].startswith("no day returned less than the target")
    assert reasons["win_rate"] == "no decided trade: the 2 trade(s) are all scratches (PnL 0)"


def test_lucky_days_overflow_the_annualized_column_and_say_so():
    reasons = compute(["1000", "2000", "4000"])
    assert reasons["annualized_return"].endswith("is too large for its column")
