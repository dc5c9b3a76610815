"""The tearsheet's statistics equal quantstats' (the test-only reference pinned in requirements/dev.txt) on
the same daily series, 365 periods a year."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pandas as pd
import pytest
import quantstats as qs

from apps.strategies.services import analytics

START = date(2024, 1, 1)


def series(seed: int, n: int, *, drift: float = 0.0005, scale: float = 0.02, first: float | None = 0.01):
    rng = random.Random(seed)
    returns = [rng.gauss(drift, scale) for _ in range(n)]
    if first is not None:  # quantstats misses a drawdown that starts on the very first day
        returns[0] = first
    days = [START + timedelta(days=i) for i in range(n)]
    return days, returns, pd.Series(returns, index=pd.DatetimeIndex(days))


def close(ours, theirs, tolerance=1e-9):
    if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        return ours is None
    return ours is not None and math.isclose(ours, theirs, rel_tol=tolerance, abs_tol=tolerance)


@pytest.mark.parametrize("seed,n", [(1, 400), (2, 730), (3, 1200), (4, 95)])
def test_every_figure_equals_quantstats(seed, n):
    days, returns, reference = series(seed, n)
    _, bench, bench_reference = series(seed + 100, n, drift=0.0003, scale=0.03)

    assert close(analytics.value_at_risk(returns), float(qs.stats.value_at_risk(reference)))
    assert close(analytics.conditional_value_at_risk(returns), float(qs.stats.cvar(reference)))
    assert close(analytics.tail_ratio(returns), float(qs.stats.tail_ratio(reference)))
    assert close(analytics.omega(returns), float(qs.stats.omega(reference, periods=365)))
    assert close(analytics.ulcer_index(returns), float(qs.stats.ulcer_index(reference)))
    greeks = qs.stats.greeks(reference, bench_reference, periods=365)
    alpha, beta = analytics.greeks(returns, bench)
    assert close(alpha, float(greeks["alpha"])) and close(beta, float(greeks["beta"]))
    assert close(max(returns), float(qs.stats.best(reference)))
    assert close(min(returns), float(qs.stats.worst(reference)))

    drawdown = qs.stats.to_drawdown_series(reference)
    assert all(close(a, float(b)) for a, b in zip(analytics.drawdowns(returns), drawdown, strict=True))

    theirs = qs.stats.drawdown_details(drawdown)
    ours = analytics.drawdown_periods(days, returns)
    assert len(ours) == len(theirs) > 0
    for period, (_, row) in zip(ours, theirs.iterrows(), strict=True):
        assert period.start.isoformat() == row["start"]
        assert period.valley.isoformat() == row["valley"]
        assert period.end.isoformat() == row["end"]
        assert period.days == row["days"]
        assert close(period.depth * 100, float(row["max drawdown"]))
    longest = max(p.days for p in ours)
    assert longest == int(theirs["days"].max())

    sharpe, volatility = analytics.rolling(returns, 90)
    their_sharpe = qs.stats.rolling_sharpe(reference, rolling_period=90, periods_per_year=365)
    their_volatility = qs.stats.rolling_volatility(reference, rolling_period=90, periods_per_year=365)
    assert all(close(a, float(b), 1e-7) for a, b in zip(sharpe, their_sharpe, strict=True))
    assert all(close(a, float(b), 1e-7) for a, b in zip(volatility, their_volatility, strict=True))

    monthly = qs.stats.monthly_returns(reference, eoy=True, compounded=True)
    table = analytics.monthly_returns(days, returns)
    month_names = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    for year, months in table.items():
        for month, value in months.items():
            column = "EOY" if month == 13 else month_names[month - 1]
            row = monthly.loc[year] if year in monthly.index else monthly.loc[str(year)]
            assert close(value, float(row[column]))


def test_a_drawdown_not_recovered_runs_to_the_last_day_and_has_no_recovery():
    days = [START + timedelta(days=i) for i in range(6)]
    periods = analytics.drawdown_periods(days, [0.10, -0.10, 0.05, 0.10, -0.20, 0.05])
    # 1.1 -> 0.99 (-10%) -> 1.0395 (-5.5%) -> 1.14345 (a new peak): recovered on day 4.
    first, second = periods
    assert (first.start, first.valley, first.end, first.days) == (days[1], days[1], days[2], 2)
    assert first.recovered == days[3] and first.recovery_days == 2
    assert math.isclose(first.depth, -0.10)
    assert (second.start, second.end, second.recovered, second.recovery_days) == (
        days[4],
        days[5],
        None,
        None,
    )
    assert math.isclose(second.depth, -0.20)


def test_degenerate_series_give_none_where_quantstats_gives_nan():
    assert analytics.value_at_risk([0.01]) is None
    assert analytics.omega([0.01, 0.02]) is None  # no losing day
    assert analytics.tail_ratio([0.0, 0.0, 0.0]) is None
    assert analytics.greeks([0.01, 0.02], [0.01, 0.01]) == (None, None)  # the benchmark never moved
    assert analytics.rolling([0.01] * 5, 90) == ([None] * 5, [None] * 5)
