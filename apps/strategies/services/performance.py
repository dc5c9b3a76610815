"""Computing and storing a strategy's performance metrics for a date range (see docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.execution.models import Trade
from apps.memory.models import Experience
from apps.portfolio.selectors import equity_curve
from apps.strategies.models import PerformanceMetrics, Strategy

from . import metrics

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PerformanceOutcome:
    row: PerformanceMetrics
    created: bool
    equity_points: int
    notes: tuple[str, ...]  # why a figure is NULL, when it is


def strategy_get(*, name: str, version: str | None = None) -> Strategy:
    """The strategy version to measure: the one named, else the active one, else the only one."""
    versions = Strategy.objects.filter(name=name)
    if version is not None:
        found = versions.filter(version=version).first()
        if found is None:
            known = ", ".join(versions.values_list("version", flat=True)) or "none"
            raise ValidationError(
                {"version": f"Strategy {name!r} has no version {version!r} (known: {known})."}
            )
        return found
    candidates = list(versions.order_by("-created_at"))
    if not candidates:
        raise ValidationError({"strategy": f"No strategy named {name!r}."})
    active = [s for s in candidates if s.is_active]
    if len(active) == 1:
        return active[0]
    if len(candidates) == 1:
        return candidates[0]
    known = ", ".join(s.version for s in candidates)
    raise ValidationError(
        {
            "version": f"Strategy {name!r} has several versions and none is active; "
            f"name one with --version ({known})."
        }
    )


def strategy_scope(strategy: Strategy) -> tuple[list[int] | None, list[str] | None]:
    """Which exchanges and symbols count: the strategy's config may name them, else everything does.

    The schema links neither snapshots nor experiences to a strategy, so a strategy is measured on
    the account it trades: config {"exchanges": [...]} and {"symbols": [...]} narrow that down.
    """
    config = strategy.config if isinstance(strategy.config, dict) else {}
    exchange_ids = None
    if config.get("exchanges"):
        from apps.exchanges.models import Exchange

        exchanges = Exchange.objects.filter(name__in=config["exchanges"])
        exchange_ids = list(exchanges.values_list("pk", flat=True))
    symbols = list(config["symbols"]) if config.get("symbols") else None
    return exchange_ids, symbols


def _percent(value: Decimal | None) -> Decimal | None:
    return None if value is None else value * HUNDRED


@transaction.atomic
def performance_metrics_compute(
    *,
    strategy: Strategy,
    start_date: date,
    end_date: date,
    risk_free_rate: Decimal | None = None,
) -> PerformanceOutcome:
    """Compute the metrics over [start_date, end_date], upsert the row, refresh the strategy's figures.

    Returns, volatility and drawdown are stored in percent (NUMERIC(10,4)); ratios as plain numbers;
    the win rate in percent (NUMERIC(5,2)); average win and loss in the quote currency. The
    strategy's total_trades, win_rate and total_return follow its most recent row (latest end date).
    """
    if start_date > end_date:
        raise ValidationError(
            {"start_date": f"The start date {start_date} is after the end date {end_date}."}
        )
    if risk_free_rate is None:
        risk_free_rate = Decimal(str(getattr(settings, "PERFORMANCE_RISK_FREE_RATE", "0")))
    exchange_ids, symbols = strategy_scope(strategy)

    curve = equity_curve(start_date=start_date, end_date=end_date, exchange_ids=exchange_ids)
    notes: list[str] = []
    try:
        flow_returns = metrics.time_weighted_returns([p.value for p in curve], [p.flow for p in curve])
        returns = metrics.return_metrics(
            metrics.growth_index(flow_returns) if curve else [], risk_free_rate=risk_free_rate
        )
    except ValueError as exc:  # a non-positive equity point
        notes.append(f"return figures not computed: {exc}")
        returns = metrics.return_metrics([])

    experiences = Experience.objects.filter(
        datetime__date__gte=start_date, datetime__date__lte=end_date, pnl__isnull=False
    )
    fills = Trade.objects.filter(datetime__date__gte=start_date, datetime__date__lte=end_date)
    if symbols is not None:
        experiences = experiences.filter(symbol__in=symbols)
        fills = fills.filter(symbol__in=symbols)
    if exchange_ids is not None:
        fills = fills.filter(exchange_id__in=exchange_ids)
    pnls = list(experiences.order_by("datetime", "id").values_list("pnl", flat=True))
    trades = metrics.trade_statistics(pnls)

    def ratio(value):
        return metrics.to_column(value, max_digits=10, decimal_places=4)

    columns = {
        "total_return": ratio(_percent(returns.total_return)),
        "annualized_return": ratio(_percent(returns.annualized_return)),
        "volatility": ratio(_percent(returns.volatility)),
        "max_drawdown": ratio(_percent(returns.max_drawdown)),
        "sharpe_ratio": ratio(returns.sharpe_ratio),
        "sortino_ratio": ratio(returns.sortino_ratio),
        "calmar_ratio": ratio(returns.calmar_ratio),
        "total_trades": trades.total_trades,
        "winning_trades": trades.winning_trades,
        "losing_trades": trades.losing_trades,
        "win_rate": metrics.to_column(_percent(trades.win_rate), max_digits=5, decimal_places=2),
        "avg_win": metrics.to_column(trades.avg_win, max_digits=20, decimal_places=8),
        "avg_loss": metrics.to_column(trades.avg_loss, max_digits=20, decimal_places=8),
        "profit_factor": ratio(trades.profit_factor),
        "max_consecutive_wins": trades.max_consecutive_wins,
        "max_consecutive_losses": trades.max_consecutive_losses,
    }
    null_reasons = _null_reasons(
        columns=columns,
        returns=returns,
        trades=trades,
        points=len(curve),
        failed=notes[0] if notes else None,
        risk_free_daily=metrics.daily_risk_free(risk_free_rate),
    )
    notes = [f"{field} is NULL: {reason}" for field, reason in null_reasons.items()]
    flows = [{"date": p.day.isoformat(), "net_flow": str(p.flow)} for p in curve if p.flow]

    columns["daily_returns"] = {
        "returns": [
            {"date": day.isoformat(), "return": str(r.quantize(Decimal("1e-12")))}
            for (day, _, _), r in zip(curve[1:], returns.daily_returns, strict=True)
        ],
        "conventions": {
            "return": "time-weighted daily return of the summed total_value of portfolio snapshots: "
            "(E_t - F_t) / E_t-1 - 1, F_t the day's net cash flow, taken at the end of the day",
            "reporting_currency": settings.REPORTING_CURRENCY,
            "flows": flows,
            "day": "UTC calendar day of snapshot_date; a day without a snapshot is skipped, not filled",
            "periods_per_year": metrics.PERIODS_PER_YEAR,
            "risk_free_rate_annual": str(risk_free_rate),
            "volatility": "sample standard deviation (n-1) x sqrt(365), percent",
            "sortino_downside": "over all periods, target = daily risk-free rate",
            "max_drawdown": "negative percent from the running peak, starting value included",
            "trades": "experiences with a pnl; pnl = 0 is a scratch: not in the win rate, ends both runs",
            "scratch_trades": trades.scratch_trades,
            "fills": fills.count(),
            "exchanges": "all" if exchange_ids is None else exchange_ids,
            "symbols": "all" if symbols is None else symbols,
            "notes": notes,
            "null_reasons": null_reasons,
        },
    }

    row, created = PerformanceMetrics.objects.update_or_create(
        strategy=strategy, start_date=start_date, end_date=end_date, defaults=columns
    )
    _strategy_refresh(strategy=strategy)
    return PerformanceOutcome(row=row, created=created, equity_points=len(curve), notes=tuple(notes))


RETURN_FIGURES = ("total_return", "annualized_return", "volatility", "max_drawdown", "sharpe_ratio",
                  "sortino_ratio", "calmar_ratio")  # fmt: skip


def _null_reasons(
    *, columns: dict, returns, trades, points: int, failed: str | None, risk_free_daily: Decimal
) -> dict[str, str]:
    """Why each NULL column is NULL, a sentence per column (docs/metrics.md, "Degenerate cases are NULL")."""
    reasons: dict[str, str] = {}
    n = len(returns.daily_returns)
    raw = {"total_return": returns.total_return, "annualized_return": returns.annualized_return,
           "volatility": returns.volatility, "max_drawdown": returns.max_drawdown,
           "sharpe_ratio": returns.sharpe_ratio, "sortino_ratio": returns.sortino_ratio,
           "calmar_ratio": returns.calmar_ratio, "win_rate": trades.win_rate, "avg_win": trades.avg_win,
           "avg_loss": trades.avg_loss, "profit_factor": trades.profit_factor}  # fmt: skip
    for field in RETURN_FIGURES:
        if columns[field] is not None:
            continue
        if failed:
            reasons[field] = failed
        elif points < 2:
            reasons[field] = (
                f"{points} equity point(s) in the range; return and risk figures need two or more"
            )
        elif raw[field] is not None:
            reasons[field] = f"{raw[field]:.6g} is too large for its column"
        elif field in ("volatility", "sharpe_ratio", "sortino_ratio") and n < 2:
            reasons[field] = "a single daily return; a sample deviation needs two or more"
        elif field == "sharpe_ratio":
            reasons[field] = "the daily excess return is the same every day: zero deviation to divide by"
        elif field == "sortino_ratio":
            reasons[field] = (
                f"no day returned less than the target (the daily risk-free rate, {risk_free_daily:.6g}): "
                "no downside deviation to divide by"
            )
        elif field == "calmar_ratio":
            reasons[field] = (
                "no drawdown in the range: nothing to divide the annualized return by"
                if returns.max_drawdown == 0
                else "the annualized return is NULL"
            )
        elif field == "annualized_return":
            reasons[field] = "the growth index fell below zero: no compound annual rate exists"
    decided = trades.winning_trades + trades.losing_trades
    trade_reasons = {
        "win_rate": "no trade with a PnL in the range" if trades.total_trades == 0
        else f"no decided trade: the {trades.total_trades} trade(s) are all scratches (PnL 0)",
        "avg_win": "no winning trade in the range",
        "avg_loss": "no losing trade in the range",
        "profit_factor": "no losing trade in the range: the gross loss it divides by is 0",
    }  # fmt: skip
    for field, reason in trade_reasons.items():
        if columns[field] is not None:
            continue
        if raw[field] is not None:
            reasons[field] = f"{raw[field]:.6g} is too large for its column"
        elif field == "win_rate" and decided:
            reasons[field] = "not computed"
        else:
            reasons[field] = reason
    return reasons


def _strategy_refresh(*, strategy: Strategy) -> None:
    """Copy the latest row's trade count, win rate and total return onto the strategy."""
    latest = strategy.performance_metrics.order_by("-end_date", "start_date").first()
    if latest is None:
        return
    Strategy.objects.filter(pk=strategy.pk).update(
        total_trades=latest.total_trades,
        win_rate=latest.win_rate,
        total_return=latest.total_return,
    )
    strategy.refresh_from_db(fields=["total_trades", "win_rate", "total_return"])
