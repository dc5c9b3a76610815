"""A trader's tearsheet of one strategy version over a date range (docs/metrics.md, "The tearsheet").

It reads, for the strategy's scope (its config's exchanges and symbols, as the metrics do):

- the equity curve with its cash flows (apps.portfolio.selectors.equity_curve), whose time-weighted returns
  every figure is computed from, by apps/strategies/services/analytics.py;
- the benchmark, buy-and-hold of settings.PERFORMANCE_BENCHMARK (BTC), from the rates the same snapshots
  recorded (`portfolio_snapshots.rates`), so strategy and benchmark are valued with the same prices;
- the fills and the closed positions' realized PnL in the range, aggregated in PostgreSQL;
- the decisions' inference cost per day and model (apps/decisions/costs.py), for PnL net of it.

The decisions belong to the strategy version while it was active (activated_at to deactivated_at); a version
never activated counts every decision of the range. Days are UTC calendar days.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from apps.decisions.selectors import by_day, by_model, inference_cost_by_day_and_model
from apps.portfolio.selectors import equity_curve, recorded_rates
from apps.strategies.models import Strategy

from . import analytics, metrics
from .performance import strategy_scope

ROLLING_WINDOW = 90
TOP_DRAWDOWNS = 10


@dataclass
class Tearsheet:
    strategy: Strategy
    start: date
    end: date
    reporting_currency: str
    benchmark_symbol: str
    days: list[date] = field(default_factory=list)
    equity: list[Decimal] = field(default_factory=list)
    flows: list[Decimal] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)  # from the second day on
    index: list[float] = field(default_factory=list)  # the growth index, 1 on the first day
    benchmark: list[float] | None = None  # the benchmark's growth index, 1 on the first day
    benchmark_returns: list[float] | None = None
    drawdown: list[float] = field(default_factory=list)  # per day, the first day 0
    periods: list[analytics.DrawdownPeriod] = field(default_factory=list)  # the deepest first
    monthly: dict[int, dict[int, float]] = field(default_factory=dict)
    rolling_sharpe: list[float | None] = field(default_factory=list)
    rolling_volatility: list[float | None] = field(default_factory=list)
    histogram: list[tuple[float, float, int]] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # figure -> why it is empty
    fills: dict[str, object] = field(default_factory=dict)
    positions: dict[str, object] = field(default_factory=dict)
    costs_by_day: dict[date, Decimal] = field(default_factory=dict)
    costs_by_model: list[dict] = field(default_factory=list)
    pnl_by_day: list[dict] = field(default_factory=list)  # day, pnl, inference cost, net

    @property
    def return_days(self) -> list[date]:
        return self.days[1:]


def tearsheet_build(*, strategy: Strategy, start: date, end: date) -> Tearsheet:
    if start > end:
        raise ValidationError({"start": f"The start date {start} is after the end date {end}."})
    exchange_ids, symbols = strategy_scope(strategy)
    sheet = Tearsheet(
        strategy=strategy,
        start=start,
        end=end,
        reporting_currency=settings.REPORTING_CURRENCY,
        benchmark_symbol=f"{settings.PERFORMANCE_BENCHMARK}/{settings.REPORTING_CURRENCY}",
    )
    curve = equity_curve(start_date=start, end_date=end, exchange_ids=exchange_ids)
    sheet.days = [p.day for p in curve]
    sheet.equity = [p.value for p in curve]
    sheet.flows = [p.flow for p in curve]
    try:
        twr = metrics.time_weighted_returns(sheet.equity, sheet.flows)
    except ValueError as exc:
        sheet.notes["returns"] = f"not computed: {exc}"
        twr = ()
    sheet.returns = [float(r) for r in twr]
    _returns_figures(sheet)
    _benchmark(sheet, exchange_ids)
    _fills_and_positions(sheet, exchange_ids, symbols)
    _inference_costs(sheet)
    return sheet


def _returns_figures(sheet: Tearsheet) -> None:
    returns, days = sheet.returns, sheet.return_days
    if len(returns) != len(days):  # the returns could not be computed
        returns, days = [], []
    sheet.index = [1.0, *analytics.growth(returns)] if sheet.days else []
    sheet.drawdown = [0.0, *analytics.drawdowns(returns)] if sheet.days else []
    periods = analytics.drawdown_periods(days, returns)
    sheet.periods = sorted(periods, key=lambda p: p.depth)[:TOP_DRAWDOWNS]
    sheet.monthly = analytics.monthly_returns(days, returns)
    sheet.rolling_sharpe, sheet.rolling_volatility = analytics.rolling(returns, ROLLING_WINDOW)
    sheet.histogram = analytics.histogram(returns)
    summary = metrics.return_metrics([Decimal(repr(v)) for v in sheet.index]) if len(returns) else None
    best = max(zip(returns, days, strict=True), default=None)
    worst = min(zip(returns, days, strict=True), default=None)
    figures = {
        "total_return": _float(summary.total_return) if summary else None,
        "cagr": _float(summary.annualized_return) if summary else None,
        "volatility": _float(summary.volatility) if summary else None,
        "sharpe": _float(summary.sharpe_ratio) if summary else None,
        "sortino": _float(summary.sortino_ratio) if summary else None,
        "max_drawdown": _float(summary.max_drawdown) if summary else None,
        "calmar": _float(summary.calmar_ratio) if summary else None,
        "best_day": best,
        "worst_day": worst,
        "longest_drawdown_days": max((p.days for p in periods), default=0) if returns else None,
        "omega": analytics.omega(returns),
        "var_95": analytics.value_at_risk(returns),
        "cvar_95": analytics.conditional_value_at_risk(returns),
        "tail_ratio": analytics.tail_ratio(returns),
        "ulcer_index": analytics.ulcer_index(returns),
    }
    sheet.figures.update(figures)
    n = len(returns)
    for name, value in figures.items():
        if value is not None:
            continue
        if "returns" in sheet.notes:
            sheet.notes[name] = sheet.notes["returns"]
        elif n == 0:
            sheet.notes[name] = f"{len(sheet.days)} equity point(s) in the range: no daily return"
        elif n < 2 and name in (
            "volatility",
            "sharpe",
            "sortino",
            "omega",
            "var_95",
            "cvar_95",
            "ulcer_index",
        ):
            sheet.notes[name] = "a single daily return: it needs two or more"
        elif name in ("sharpe", "var_95"):
            sheet.notes[name] = "the same return every day: zero deviation"
        elif name == "sortino":
            sheet.notes[name] = "no losing day: no downside deviation"
        elif name in ("calmar",):
            sheet.notes[name] = "no drawdown in the range"
        elif name == "omega":
            sheet.notes[name] = "no losing day: nothing to divide the gains by"
        elif name == "tail_ratio":
            sheet.notes[name] = "the 5% quantile of the daily returns is 0"
        else:
            sheet.notes[name] = "not defined on this series"


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _benchmark(sheet: Tearsheet, exchange_ids: list[int] | None) -> None:
    """Buy-and-hold of the benchmark from its rates in the scope's snapshots, carried forward over a day
    without one; missing on the first day, there is no benchmark (and the note says so)."""
    currency = settings.PERFORMANCE_BENCHMARK
    prices = recorded_rates(
        currency=currency, start_date=sheet.start, end_date=sheet.end, exchange_ids=exchange_ids
    )
    if not sheet.days:
        return
    if sheet.days[0] not in prices:
        reason = (
            f"no {currency} rate is recorded with the snapshots of {sheet.days[0]}, the first day "
            "(snapshots record it when they can price it: a recent fill of "
            f"{sheet.benchmark_symbol}, the exchange's ticker, or --rate {currency}=PRICE)"
        )
        for name in ("benchmark", "alpha", "beta"):
            sheet.notes[name] = reason
        sheet.figures.update(alpha=None, beta=None, benchmark_return=None)
        return
    series, last = [], prices[sheet.days[0]]
    for day in sheet.days:
        last = prices.get(day, last)
        series.append(float(last))
    sheet.benchmark = [p / series[0] for p in series]
    sheet.benchmark_returns = [b / a - 1.0 for a, b in itertools.pairwise(series)]
    alpha, beta = analytics.greeks(sheet.returns, sheet.benchmark_returns)
    sheet.figures.update(alpha=alpha, beta=beta, benchmark_return=sheet.benchmark[-1] - 1.0)
    if alpha is None:
        reason = (
            "fewer than two daily returns"
            if len(sheet.returns) < 2
            else f"the benchmark did not move: {currency}'s variance is 0"
        )
        sheet.notes["alpha"] = sheet.notes["beta"] = reason


FILLS_SQL = """
SELECT COALESCE(fee_currency, ''), count(*), COALESCE(sum(fee), 0),
       COALESCE(sum(cost) FILTER (WHERE symbol LIKE %(quoted)s OR symbol LIKE %(settled)s), 0)
FROM trades
WHERE datetime >= %(since)s AND datetime < %(until)s
  AND (%(exchanges)s::int[] IS NULL OR exchange_id = ANY(%(exchanges)s::int[]))
  AND (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
GROUP BY 1
"""

POSITIONS_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE realized_pnl > 0), count(*) FILTER (WHERE realized_pnl < 0),
       COALESCE(sum(realized_pnl), 0), COALESCE(sum(realized_pnl) FILTER (WHERE realized_pnl > 0), 0),
       COALESCE(sum(realized_pnl) FILTER (WHERE realized_pnl < 0), 0), COALESCE(sum(realized_fees), 0),
       count(*) FILTER (WHERE realized_pnl IS NULL)
FROM positions
WHERE NOT is_open AND closed_at >= %(since)s AND closed_at < %(until)s
  AND upper(split_part(split_part(symbol, '/', 2), ':', 1)) = upper(%(quote)s)
  AND (%(exchanges)s::int[] IS NULL OR exchange_id = ANY(%(exchanges)s::int[]))
  AND (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
"""


def _bounds(sheet: Tearsheet) -> dict:
    return {
        "since": datetime.combine(sheet.start, time.min, tzinfo=UTC),
        "until": datetime.combine(sheet.end + timedelta(days=1), time.min, tzinfo=UTC),
    }


def _fills_and_positions(sheet: Tearsheet, exchange_ids, symbols) -> None:
    quote = sheet.reporting_currency
    parameters = {**_bounds(sheet), "quote": quote, "exchanges": exchange_ids, "symbols": symbols,
                  "quoted": f"%/{quote}", "settled": f"%/{quote}:%"}  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(FILLS_SQL, parameters)
        rows = cursor.fetchall()
        cursor.execute(POSITIONS_SQL, parameters)
        closed, wins, losses, total, gross_win, gross_loss, fees, unexplained = cursor.fetchone()
    sheet.fills = {
        "count": sum(r[1] for r in rows),
        "volume": sum((r[3] for r in rows), Decimal(0)),
        "fees": {(r[0] or "unknown"): r[2] for r in rows if r[2]},
    }
    decided = wins + losses
    sheet.positions = {
        "closed": closed,
        "wins": wins,
        "losses": losses,
        "win_rate": wins / decided if decided else None,
        "realized_pnl": total,
        "profit_factor": gross_win / -gross_loss if gross_loss else None,
        "average": total / (closed - unexplained) if closed - unexplained else None,
        "fees": fees,
        "without_result": unexplained,
    }


def _inference_costs(sheet: Tearsheet) -> None:
    bounds = _bounds(sheet)
    strategy = sheet.strategy
    if strategy.activated_at is not None:
        bounds["since"] = max(bounds["since"], strategy.activated_at)
        if strategy.deactivated_at is not None:
            bounds["until"] = min(bounds["until"], strategy.deactivated_at)
    rows = inference_cost_by_day_and_model(since=bounds["since"], until=bounds["until"])
    sheet.costs_by_day = by_day(rows)
    sheet.costs_by_model = by_model(rows)
    total_cost = sum(sheet.costs_by_day.values(), Decimal(0))
    cost_days = sorted(sheet.costs_by_day.items())
    position = 0
    while position < len(cost_days) and sheet.days and cost_days[position][0] <= sheet.days[0]:
        position += 1  # the first point's own day has no return to net against
    for index in range(1, len(sheet.days)):
        day = sheet.days[index]
        pnl = sheet.equity[index] - sheet.equity[index - 1] - sheet.flows[index]
        # The cost of the days since the previous point (a day without a snapshot is paid on the next).
        cost = Decimal(0)
        while position < len(cost_days) and cost_days[position][0] <= day:
            cost += cost_days[position][1]
            position += 1
        sheet.pnl_by_day.append({"day": day, "pnl": pnl, "cost": cost, "net": pnl - cost})
    pnl = sum((row["pnl"] for row in sheet.pnl_by_day), Decimal(0))
    netted = sum((row["cost"] for row in sheet.pnl_by_day), Decimal(0))
    sheet.figures.update(pnl=pnl, inference_cost=total_cost, pnl_net_of_inference=pnl - netted)
