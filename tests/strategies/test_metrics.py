"""The metric formulas against empyrical (the reference library) and hand-worked figures."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest

from apps.strategies.services import metrics

D = Decimal


START = D("10000")


def _equity_from_returns(returns, start=START) -> list[Decimal]:
    """An equity curve as the database would hold it: NUMERIC(20, 8) at every point."""
    equity = [start]
    for r in returns:
        equity.append((equity[-1] * (1 + D(repr(float(r))))).quantize(D("0.00000001")))
    return equity


def _float_returns(equity) -> pd.Series:
    return pd.Series([float(b) / float(a) - 1 for a, b in itertools.pairwise(equity)])


def _close(ours: Decimal | None, reference: float, *, tolerance: float = 1e-8) -> bool:
    assert ours is not None
    return math.isclose(float(ours), reference, rel_tol=tolerance, abs_tol=tolerance)


@pytest.mark.parametrize(
    ("seed", "days", "mean", "std", "risk_free"),
    [
        (1, 30, 0.002, 0.03, "0"),
        (2, 365, 0.0005, 0.02, "0"),
        (3, 400, -0.001, 0.04, "0.04"),
        (4, 90, 0.003, 0.01, "0.1"),
    ],
)
def test_return_figures_agree_with_empyrical_to_1e_8(seed, days, mean, std, risk_free):
    returns = np.random.default_rng(seed).normal(mean, std, days)
    equity = _equity_from_returns(returns)
    rf_daily = metrics.daily_risk_free(D(risk_free))
    series = _float_returns(equity)

    ours = metrics.return_metrics(equity, risk_free_rate=D(risk_free))

    assert _close(ours.total_return, empyrical.cum_returns_final(series))
    assert _close(ours.annualized_return, empyrical.annual_return(series, annualization=365))
    assert _close(ours.volatility, empyrical.annual_volatility(series, annualization=365))
    assert _close(ours.max_drawdown, empyrical.max_drawdown(series))
    assert _close(
        ours.sharpe_ratio, empyrical.sharpe_ratio(series, risk_free=float(rf_daily), annualization=365)
    )
    assert _close(
        ours.sortino_ratio,
        empyrical.sortino_ratio(series, required_return=float(rf_daily), annualization=365),
    )
    if risk_free == "0":  # empyrical's Calmar takes no risk-free rate; ours neither
        assert _close(ours.calmar_ratio, empyrical.calmar_ratio(series, annualization=365))
    for our_return, reference in zip(ours.daily_returns, series, strict=True):
        assert _close(our_return, reference, tolerance=1e-12)


def test_hand_worked_curve():
    # 100 -> 110 -> 99 -> 121: returns +10 %, -10 %, +22.2... %
    ours = metrics.return_metrics([D(100), D(110), D(99), D(121)])
    assert ours.total_return == D("0.21")
    assert ours.max_drawdown == D("-0.1")  # 110 -> 99
    r = [0.1, -0.1, 121 / 99 - 1]
    mean = sum(r) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    assert _close(ours.volatility, std * math.sqrt(365))
    assert _close(ours.sharpe_ratio, mean / std * math.sqrt(365))
    downside = math.sqrt(0.01 / 3)  # only -10 % is below 0, averaged over all three days
    assert _close(ours.sortino_ratio, mean / downside * math.sqrt(365))
    assert _close(ours.annualized_return, 1.21 ** (365 / 3) - 1, tolerance=1e-6)
    assert _close(ours.calmar_ratio, float(ours.annualized_return) / 0.1)


def test_drawdown_counts_the_starting_value_as_a_peak():
    # Falling from the first day: the drawdown is measured from the starting equity.
    ours = metrics.return_metrics([D(100), D(90), D(95)])
    assert ours.max_drawdown == D("-0.1")


@pytest.mark.parametrize(
    ("equity", "expected_none"),
    [
        ([], {"total_return", "annualized_return", "volatility", "max_drawdown", "sharpe_ratio",
              "sortino_ratio", "calmar_ratio"}),
        ([D(100)], {"total_return", "annualized_return", "volatility", "max_drawdown", "sharpe_ratio",
                    "sortino_ratio", "calmar_ratio"}),
        # one daily return: no sample deviation
        ([D(100), D(101)], {"volatility", "sharpe_ratio", "sortino_ratio", "calmar_ratio"}),
        # no losing day: no downside, no drawdown
        ([D(100), D(101), D(103), D(104)], {"sortino_ratio", "calmar_ratio"}),
        # zero volatility (the same return every day) and no losing day
        ([D(100), D(110), D(121), D("133.1")], {"sharpe_ratio", "sortino_ratio", "calmar_ratio"}),
    ],
)
def test_degenerate_cases_are_none_not_errors(equity, expected_none):
    ours = metrics.return_metrics(equity)
    figures = {
        name: getattr(ours, name)
        for name in ("total_return", "annualized_return", "volatility", "max_drawdown", "sharpe_ratio",
                     "sortino_ratio", "calmar_ratio")
    }
    assert {name for name, value in figures.items() if value is None} == expected_none


def test_flat_curve_has_zero_volatility_and_no_ratios():
    ours = metrics.return_metrics([D(100)] * 5)
    assert ours.volatility == 0
    assert ours.max_drawdown == 0
    assert ours.sharpe_ratio is None and ours.sortino_ratio is None and ours.calmar_ratio is None


def test_non_positive_equity_is_refused():
    with pytest.raises(ValueError, match="positive"):
        metrics.return_metrics([D(100), D(0), D(50)])


def test_trade_statistics_with_a_scratch_trade():
    pnls = [D("10"), D("5"), D("0"), D("7"), D("-4"), D("-6"), D("-2"), D("0"), D("3")]
    stats = metrics.trade_statistics(pnls)
    counts = (stats.total_trades, stats.winning_trades, stats.losing_trades, stats.scratch_trades)
    assert counts == (9, 4, 3, 2)
    assert abs(stats.win_rate - D(4) / D(7)) < D("1e-25")  # scratches are not in the denominator
    assert stats.avg_win == D("6.25")
    assert stats.avg_loss == D("-4")
    assert abs(stats.profit_factor - D(25) / D(12)) < D("1e-25")
    assert stats.max_consecutive_wins == 2  # the scratch after 10, 5 ends that run
    assert stats.max_consecutive_losses == 3


def test_trade_statistics_without_losses_or_trades():
    only_wins = metrics.trade_statistics([D(1), D(2)])
    assert only_wins.profit_factor is None and only_wins.avg_loss is None
    assert only_wins.win_rate == 1
    nothing = metrics.trade_statistics([])
    assert nothing.total_trades == 0 and nothing.win_rate is None and nothing.max_consecutive_wins == 0


def test_trade_statistics_agree_with_empyrical_style_reference():
    pnls = [D(str(round(x, 8))) for x in np.random.default_rng(9).normal(0, 100, 500)]
    stats = metrics.trade_statistics(pnls)
    values = np.array([float(p) for p in pnls])
    assert _close(stats.win_rate, (values > 0).sum() / (values != 0).sum())
    assert _close(stats.profit_factor, values[values > 0].sum() / -values[values < 0].sum())


@pytest.mark.parametrize(
    ("value", "digits", "places", "expected"),
    [
        (D("1.23455"), 10, 4, D("1.2346")),  # half away from zero, as PostgreSQL rounds
        (D("-1.23455"), 10, 4, D("-1.2346")),
        (D("999999.99994"), 10, 4, D("999999.9999")),
        (D("999999.99995"), 10, 4, None),  # rounds to 1 000 000, which NUMERIC(10, 4) cannot hold
        (D("1E+40"), 10, 4, None),
        (D("99.995"), 5, 2, D("100.00")),
        (None, 10, 4, None),
    ],
)
def test_to_column_rounds_to_the_scale_and_refuses_overflow(value, digits, places, expected):
    assert metrics.to_column(value, max_digits=digits, decimal_places=places) == expected


def test_daily_risk_free_compounds_to_the_annual_rate():
    daily = metrics.daily_risk_free(D("0.05"))
    assert abs((1 + daily) ** 365 - D("1.05")) < D("1e-20")
