"""A tearsheet's statistics of a daily return series: pure functions, as quantstats defines them.

Every function takes the daily (time-weighted) returns as floats, oldest first, with their dates where a
figure needs them, and 365 periods a year. These are ratios and shapes, not money: floats are exact enough
(the stored metrics of apps/strategies/services/metrics.py stay Decimal). The definitions are quantstats'
(the version in requirements/dev.txt; tests/strategies/test_tearsheet_analytics.py compares every one):

- drawdown: I_t / max(I_0 .. I_t) - 1 on the growth index, I_0 = 1 before the first return;
- a drawdown period runs from its first day under the peak to its last; its length in calendar days is
  last - first + 1; it has recovered on the next day back at the peak (none while still under it);
- VaR 95% is parametric: the 5% quantile of a normal law with the returns' mean and sample deviation;
  CVaR 95% its expected shortfall, mu - sigma x pdf(z_0.05) / 0.05;
- the tail ratio is |q95 / q05| with linear interpolation between order statistics;
- Omega at a 0 threshold: the sum of gains over the sum of losses;
- the Ulcer index: sqrt(sum(dd_t^2) / (n - 1));
- alpha and beta against a benchmark's daily returns: beta = cov(r, b) / var(b) (sample), alpha =
  (mean(r) - beta x mean(b)) x 365;
- rolling Sharpe and volatility over a window of returns (not of calendar days): mean / sample deviation x
  sqrt(365), and sample deviation x sqrt(365).

Where quantstats would answer NaN (a division by zero, too few returns), these answer None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

PERIODS = 365


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def sample_std(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def growth(returns: Sequence[float]) -> list[float]:
    """The index I_1 .. I_n (I_0 = 1 is before the first return)."""
    level, index = 1.0, []
    for r in returns:
        level *= 1.0 + r
        index.append(level)
    return index


def drawdowns(returns: Sequence[float]) -> list[float]:
    """The drawdown of each day, <= 0: below the running peak of the index, the starting 1 included."""
    peak, out = 1.0, []
    for level in growth(returns):
        peak = max(peak, level)
        out.append(level / peak - 1.0)
    return out


@dataclass(frozen=True)
class DrawdownPeriod:
    start: date  # the first day under the peak
    valley: date  # the deepest day
    end: date  # the last day under the peak (the last day of the series while not recovered)
    days: int  # end - start + 1, calendar days
    depth: float  # the deepest drawdown, a fraction <= 0
    recovered: date | None  # the day back at the peak; None while still under it
    recovery_days: int | None  # valley to recovery, calendar days


def drawdown_periods(days: Sequence[date], returns: Sequence[float]) -> list[DrawdownPeriod]:
    dd = drawdowns(returns)
    periods, start = [], None
    for index, value in enumerate(dd):
        if value < 0 and start is None:
            start = index
        ends = start is not None and (value == 0 or index == len(dd) - 1)
        if ends:
            last = index - 1 if value == 0 else index
            window = range(start, last + 1)
            valley = min(window, key=lambda i: (dd[i], i))
            recovered = days[index] if value == 0 else None
            periods.append(
                DrawdownPeriod(
                    start=days[start],
                    valley=days[valley],
                    end=days[last],
                    days=(days[last] - days[start]).days + 1,
                    depth=dd[valley],
                    recovered=recovered,
                    recovery_days=(recovered - days[valley]).days if recovered else None,
                )
            )
            start = None
    return periods


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's and pandas' default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def value_at_risk(returns: Sequence[float], confidence: float = 0.95) -> float | None:
    sigma = sample_std(returns)
    if sigma is None or sigma == 0:
        return None
    return NormalDist(_mean(returns), sigma).inv_cdf(1 - confidence)


def conditional_value_at_risk(returns: Sequence[float], confidence: float = 0.95) -> float | None:
    sigma = sample_std(returns)
    if sigma is None:
        return None
    mean = _mean(returns)
    if sigma == 0:
        return mean
    alpha = 1 - confidence
    standard = NormalDist()
    return mean - sigma * standard.pdf(standard.inv_cdf(alpha)) / alpha


def tail_ratio(returns: Sequence[float], cutoff: float = 0.95) -> float | None:
    if not returns:
        return None
    lower = quantile(returns, 1 - cutoff)
    return None if lower == 0 else abs(quantile(returns, cutoff) / lower)


def omega(returns: Sequence[float], threshold: float = 0.0) -> float | None:
    if len(returns) < 2:
        return None
    gains = math.fsum(r - threshold for r in returns if r - threshold > 0)
    losses = -math.fsum(r - threshold for r in returns if r - threshold < 0)
    return gains / losses if losses > 0 else None


def ulcer_index(returns: Sequence[float]) -> float | None:
    if len(returns) < 2:
        return None
    return math.sqrt(math.fsum(d * d for d in drawdowns(returns)) / (len(returns) - 1))


def greeks(returns: Sequence[float], benchmark: Sequence[float]) -> tuple[float | None, float | None]:
    """(alpha, beta) against the benchmark's returns on the same days."""
    n = len(returns)
    if n < 2 or len(benchmark) != n:
        return None, None
    mean_r, mean_b = _mean(returns), _mean(benchmark)
    covariance = math.fsum((r - mean_r) * (b - mean_b) for r, b in zip(returns, benchmark, strict=True)) / (
        n - 1
    )
    variance = math.fsum((b - mean_b) ** 2 for b in benchmark) / (n - 1)
    if variance == 0:
        return None, None
    beta = covariance / variance
    return (mean_r - beta * mean_b) * PERIODS, beta


def rolling(returns: Sequence[float], window: int) -> tuple[list[float | None], list[float | None]]:
    """Rolling (Sharpe, volatility) over the `window` returns ending at each day; None until a full window
    has passed. One pass: the window's sums move by one return in and one out, taken about the first return
    so that the sum of squares does not cancel; a window whose variance is lost in rounding has none."""
    n = len(returns)
    sharpe: list[float | None] = [None] * n
    volatility: list[float | None] = [None] * n
    if window < 2 or n < window:
        return sharpe, volatility
    annualizer = math.sqrt(PERIODS)
    shift = returns[0]
    total = squares = 0.0
    for index, value in enumerate(returns):
        centred = value - shift
        total += centred
        squares += centred * centred
        if index >= window:
            leaving = returns[index - window] - shift
            total -= leaving
            squares -= leaving * leaving
        if index + 1 < window:
            continue
        mean = total / window
        variance = (squares - total * mean) / (window - 1)
        if variance <= 1e-12 * (squares / window):  # nothing but rounding left: the same return every day
            variance = 0.0
        std = math.sqrt(variance)
        volatility[index] = std * annualizer
        sharpe[index] = (mean + shift) / std * annualizer if std else None
    return sharpe, volatility


def monthly_returns(days: Sequence[date], returns: Sequence[float]) -> dict[int, dict[int, float]]:
    """{year: {month: compounded return}}, and under month 13 the year's own compounded return."""
    table: dict[int, dict[int, float]] = {}
    for day, r in zip(days, returns, strict=True):
        months = table.setdefault(day.year, {})
        for key in (day.month, 13):
            months[key] = (1.0 + months.get(key, 0.0)) * (1.0 + r) - 1.0
    return table


def histogram(returns: Sequence[float], bins: int = 40) -> list[tuple[float, float, int]]:
    """(low, high, count) of equal-width bins over the returns' range."""
    if not returns:
        return []
    low, high = min(returns), max(returns)
    if high == low:
        return [(low, high, len(returns))]
    width = (high - low) / bins
    counts = [0] * bins
    for r in returns:
        counts[min(int((r - low) / width), bins - 1)] += 1
    return [(low + i * width, low + (i + 1) * width, c) for i, c in enumerate(counts)]

