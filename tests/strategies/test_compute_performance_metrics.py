"""compute_performance_metrics: the stored row, its rounding, the upsert and the strategy's figures."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import empyrical
import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from apps.strategies.models import PerformanceMetrics
from tests.factories import (
    ExchangeFactory,
    ExperienceFactory,
    PortfolioSnapshotFactory,
    StrategyFactory,
)
from tests.operations.locks import other_session_holding_lock

pytestmark = pytest.mark.django_db

D = Decimal
START = date(2026, 1, 1)


def compute(*args: str) -> str:
    out = StringIO()
    call_command("compute_performance_metrics", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def curve():
    """Sixty days of equity on two exchanges, and a dozen closed trades."""
    rng = np.random.default_rng(42)
    a, b = ExchangeFactory(name="binance"), ExchangeFactory(name="okx")
    values_a, values_b = [D("10000")], [D("5000")]
    for _ in range(59):
        values_a.append((values_a[-1] * (1 + D(repr(float(rng.normal(0.001, 0.02)))))).quantize(D("1e-8")))
        values_b.append((values_b[-1] * (1 + D(repr(float(rng.normal(0.0, 0.01)))))).quantize(D("1e-8")))
    for day, (va, vb) in enumerate(zip(values_a, values_b, strict=True)):
        PortfolioSnapshotFactory(exchange=a, snapshot_date=START + timedelta(days=day), total_value=va)
        PortfolioSnapshotFactory(exchange=b, snapshot_date=START + timedelta(days=day), total_value=vb)
    pnls = ["120", "-40", "0", "75.5", "80", "-10", "-15", "-20", "300", "0", "12", "-60"]
    for n, pnl in enumerate(pnls):
        ExperienceFactory(pnl=D(pnl), datetime=datetime(2026, 1, 2, tzinfo=UTC) + timedelta(days=n))
    ExperienceFactory(pnl=None, datetime=datetime(2026, 1, 5, tzinfo=UTC))  # no PnL: not a closed trade
    ExperienceFactory(pnl=D("999"), datetime=datetime(2026, 6, 1, tzinfo=UTC))  # outside the range
    return [x + y for x, y in zip(values_a, values_b, strict=True)]


def test_row_matches_empyrical_rounded_to_the_columns(curve):
    strategy = StrategyFactory(name="meanrev")
    end = START + timedelta(days=59)
    compute("--strategy", "meanrev", "--start", str(START), "--end", str(end))

    row = PerformanceMetrics.objects.get(strategy=strategy, start_date=START, end_date=end)
    returns = pd.Series([float(y) / float(x) - 1 for x, y in itertools.pairwise(curve)])

    def four(value: float) -> Decimal:
        return D(str(float(value))).quantize(D("0.0001"))

    assert row.total_return == four(float(curve[-1] / curve[0] - 1) * 100)
    assert row.annualized_return == four(empyrical.annual_return(returns, annualization=365) * 100)
    assert row.volatility == four(empyrical.annual_volatility(returns, annualization=365) * 100)
    assert row.max_drawdown == four(empyrical.max_drawdown(returns) * 100)
    assert row.sharpe_ratio == four(empyrical.sharpe_ratio(returns, annualization=365))
    assert row.sortino_ratio == four(empyrical.sortino_ratio(returns, annualization=365))
    assert row.calmar_ratio == four(empyrical.calmar_ratio(returns, annualization=365))
    assert len(row.daily_returns["returns"]) == 59
    assert math.isclose(float(row.daily_returns["returns"][0]["return"]), returns[0], abs_tol=1e-12)
    assert row.daily_returns["conventions"]["periods_per_year"] == 365

    # twelve closed trades: 5 wins, 5 losses, 2 scratches
    assert (row.total_trades, row.winning_trades, row.losing_trades) == (12, 5, 5)
    assert row.win_rate == D("50.00")
    assert row.avg_win == D("117.50000000")  # (120 + 75.5 + 80 + 300 + 12) / 5
    assert row.avg_loss == D("-29.00000000")
    assert row.profit_factor == D("4.0517")  # 587.5 / 145
    assert (row.max_consecutive_wins, row.max_consecutive_losses) == (2, 3)

    strategy.refresh_from_db()
    figures = (strategy.total_trades, strategy.win_rate, strategy.total_return)
    assert figures == (12, D("50.00"), row.total_return)


def test_rerun_updates_the_same_row(curve):
    StrategyFactory(name="meanrev")
    args = ("--strategy", "meanrev", "--start", "2026-01-01", "--end", "2026-01-31")
    first = compute(*args)
    second = compute(*args)
    assert PerformanceMetrics.objects.count() == 1
    assert "metrics written" in first and "metrics updated" in second


def test_strategy_figures_follow_the_latest_range(curve):
    strategy = StrategyFactory(name="meanrev")
    compute("--strategy", "meanrev", "--start", "2026-01-01", "--end", "2026-03-01")
    latest = PerformanceMetrics.objects.get()
    # an older, shorter range computed afterwards
    compute("--strategy", "meanrev", "--start", "2026-01-01", "--end", "2026-01-05")
    strategy.refresh_from_db()
    assert strategy.total_return == latest.total_return
    assert strategy.total_trades == latest.total_trades


def test_single_day_gives_nulls_not_errors(curve):
    StrategyFactory(name="meanrev")
    compute("--strategy", "meanrev", "--start", "2026-01-10", "--end", "2026-01-10")
    row = PerformanceMetrics.objects.get()
    assert row.total_return is None and row.sharpe_ratio is None and row.volatility is None
    assert row.daily_returns["returns"] == []
    assert row.daily_returns["conventions"]["notes"]


def test_config_narrows_to_the_strategys_exchanges_and_symbols(curve):
    StrategyFactory(name="meanrev", config={"exchanges": ["okx"], "symbols": ["ETH/USDT"]})
    compute("--strategy", "meanrev", "--start", "2026-01-01", "--end", "2026-01-02")
    row = PerformanceMetrics.objects.get()
    snapshots = ExchangeFactory(name="okx").portfolio_snapshots.order_by("snapshot_date")[:2]
    okx = [s.total_value for s in snapshots]
    assert row.total_return == ((okx[1] / okx[0] - 1) * 100).quantize(D("0.0001"))
    assert row.total_trades == 0  # every experience is on BTC/USDT


def test_version_is_chosen_active_first():
    StrategyFactory(name="meanrev", version="1.0.0")
    StrategyFactory(name="meanrev", version="2.0.0", is_active=True)
    output = compute("--strategy", "meanrev", "--start", "2026-01-01", "--end", "2026-01-02")
    assert "meanrev v2.0.0" in output
    compute("--strategy", "meanrev", "--version", "1.0.0", "--start", "2026-01-01", "--end", "2026-01-02")
    assert PerformanceMetrics.objects.filter(strategy__version="1.0.0").exists()


def test_dry_run_writes_nothing(curve):
    strategy = StrategyFactory(name="meanrev")
    output = compute("--strategy", "meanrev", "--start", "2026-01-01", "--end", "2026-01-31", "--dry-run")
    assert "dry run" in output
    assert PerformanceMetrics.objects.count() == 0
    strategy.refresh_from_db()
    assert strategy.total_trades == 0 and strategy.total_return is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nosuch"], "No strategy named 'nosuch'"),
        (["--strategy", "meanrev", "--version", "9"], "has no version '9'"),
        (["--strategy", "twoversions"], "name one with --version"),
    ],
)
def test_unknown_strategy_is_a_clear_error(args, message):
    StrategyFactory(name="meanrev")
    StrategyFactory(name="twoversions", version="1")
    StrategyFactory(name="twoversions", version="2")
    with pytest.raises(CommandError, match=message):
        compute(*args, "--start", "2026-01-01", "--end", "2026-01-31")
    assert PerformanceMetrics.objects.count() == 0


def test_reversed_range_is_refused():
    StrategyFactory(name="meanrev")
    with pytest.raises(CommandError, match="after the end date"):
        compute("--strategy", "meanrev", "--start", "2026-02-01", "--end", "2026-01-01")
    assert PerformanceMetrics.objects.count() == 0


def test_malformed_date_is_refused():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        compute("--strategy", "meanrev", "--start", "01/02/2026", "--end", "2026-01-01")


def test_a_second_run_refuses_while_one_holds_the_lock(curve):
    StrategyFactory(name="meanrev")
    with (
        other_session_holding_lock("compute_performance_metrics"),
        pytest.raises(CommandError, match="Another"),
    ):
        compute("--strategy", "meanrev", "--start", "2026-01-01", "--end", "2026-01-31")
    assert PerformanceMetrics.objects.count() == 0
