"""Reads behind the dashboard: the seed's monitoring queries (section 8) and the equity curve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.decisions.models import Decision
from apps.decisions.selectors import by_day, by_model, inference_cost_by_day_and_model
from apps.exchanges.models import Exchange
from apps.execution.models import CurrentPosition, Side, Trade
from apps.portfolio.models import PortfolioSnapshot
from apps.portfolio.selectors import equity_curve as portfolio_equity_curve
from apps.portfolio.selectors import recorded_rates
from apps.reconciliation.models import Discrepancy, DiscrepancyState, ReconciliationRun
from apps.strategies.models import Strategy
from apps.strategies.services.metrics import growth_index, return_metrics, time_weighted_returns
from apps.system_events.models import Severity, SystemEvent


@dataclass(frozen=True)
class EquityPoint:
    day: date
    total_value: Decimal
    daily_pnl: Decimal  # net of the day's cash flows
    drawdown: Decimal  # percent below the running peak of the growth index, <= 0
    flow: Decimal = Decimal(0)  # deposits less withdrawals recorded that day
    level: Decimal = Decimal(1)  # the growth index: 1 compounded by the time-weighted returns


def equity_curve(*, days: int = 365) -> list[EquityPoint]:
    """Total value across exchanges per snapshot date, with daily PnL and drawdown from the running peak.

    The totals are the metrics' own equity curve (apps.portfolio.selectors.equity_curve: an exchange
    missing a day carries its last value forward), so the dashboard and performance_metrics agree.
    """
    end = timezone.localdate()
    since = end - timedelta(days=days)
    curve = portfolio_equity_curve(start_date=since, end_date=end)
    pnl_by_day = dict(
        PortfolioSnapshot.objects.filter(snapshot_date__gte=since, snapshot_date__lte=end)
        .values("snapshot_date")
        .annotate(pnl=Sum("daily_pnl"))
        .values_list("snapshot_date", "pnl")
    )
    # The drawdown is the growth index's (returns net of deposits and withdrawals), so taking money out is
    # never shown as a loss; an index that cannot be computed (a non-positive value) falls back to none.
    try:
        index = growth_index(time_weighted_returns([p.value for p in curve], [p.flow for p in curve]))
    except ValueError:
        index = [Decimal(1)] * len(curve)
    points = []
    peak = None
    for point, level in zip(curve, index, strict=False):
        peak = level if peak is None or level > peak else peak
        drawdown = (level - peak) / peak * 100 if peak else Decimal("0")
        points.append(
            EquityPoint(
                day=point.day,
                total_value=point.value,
                daily_pnl=pnl_by_day.get(point.day) or Decimal("0"),
                drawdown=drawdown.quantize(Decimal("0.01")),
                flow=point.flow,
                level=level,
            )
        )
    return points


@dataclass(frozen=True)
class PerformanceSummary:
    """The curve's return and risk figures, in percent where the metrics store percent."""

    start: date
    end: date
    total_return: Decimal | None
    annualized_return: Decimal | None
    volatility: Decimal | None
    max_drawdown: Decimal | None
    sharpe_ratio: Decimal | None
    sortino_ratio: Decimal | None
    calmar_ratio: Decimal | None


def performance_summary(curve: list[EquityPoint]) -> PerformanceSummary | None:
    """Return and risk figures of the dashboard's curve, computed by the performance metrics' own code
    (apps.strategies.services.metrics, checked against empyrical), so the two never disagree."""
    if len(curve) < 2 or any(p.level <= 0 for p in curve[:-1]):
        return None
    figures = return_metrics([p.level for p in curve])

    def percent(value: Decimal | None) -> Decimal | None:
        return None if value is None else (value * 100).quantize(Decimal("0.01"))

    def ratio(value: Decimal | None) -> Decimal | None:
        return None if value is None else value.quantize(Decimal("0.01"))

    return PerformanceSummary(
        start=curve[0].day,
        end=curve[-1].day,
        total_return=percent(figures.total_return),
        annualized_return=percent(figures.annualized_return),
        volatility=percent(figures.volatility),
        max_drawdown=percent(figures.max_drawdown),
        sharpe_ratio=ratio(figures.sharpe_ratio),
        sortino_ratio=ratio(figures.sortino_ratio),
        calmar_ratio=ratio(figures.calmar_ratio),
    )


def today_trade_stats(*, now: datetime | None = None) -> dict:
    """The seed's "today's trade statistics": count, buys, sells and volume of today's trades (UTC)."""
    now = now or timezone.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Trade.objects.filter(datetime__gte=start, datetime__lt=start + timedelta(days=1)).aggregate(
        total_trades=Count("id"),
        buy_count=Count("id", filter=Q(side=Side.BUY)),
        sell_count=Count("id", filter=Q(side=Side.SELL)),
        total_volume=Sum("cost"),
    )


def open_positions(*, limit: int = 50):
    """The seed's "current position value": open positions by value, largest first."""
    return CurrentPosition.objects.select_related("exchange").order_by("-value")[:limit]


def recent_decisions(*, limit: int = 10):
    """The seed's "recent decisions": the latest decisions with a 100-character preview."""
    return Decision.objects.only("id", "decision_layer", "decision", "datetime").order_by("-datetime")[:limit]


def events_by_severity(*, hours: int = 24, now: datetime | None = None) -> dict[str, int]:
    """How many system events of each severity in the last `hours` (every severity, zeros included)."""
    since = (now or timezone.now()) - timedelta(hours=hours)
    counts = dict(
        SystemEvent.objects.filter(datetime__gte=since)
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in Severity.values}


@dataclass(frozen=True)
class AccountDrift:
    """One exchange account's last reconciliation and the discrepancies still open on it."""

    exchange: Exchange
    last_run: ReconciliationRun | None
    open_discrepancies: int


def reconciliation_drift() -> list[AccountDrift]:
    """Every active account with its last run and open drift, in three queries whatever their number."""
    exchanges = list(Exchange.objects.filter(is_active=True).order_by("name"))
    open_counts = dict(
        Discrepancy.objects.filter(state=DiscrepancyState.OPEN)
        .values_list("exchange_id")
        .annotate(n=Count("id"))
        .values_list("exchange_id", "n")
    )
    last_runs = {
        run.exchange_id: run
        for run in ReconciliationRun.objects.filter(exchange__in=exchanges)
        .order_by("exchange_id", "-started_at", "-id")
        .distinct("exchange_id")
    }
    return [AccountDrift(e, last_runs.get(e.pk), open_counts.get(e.pk, 0)) for e in exchanges]


def account_chart(curve: list[EquityPoint]) -> dict:
    """The dashboard's equity curve for the interactive chart, with buy-and-hold of the benchmark scaled to
    the first day's value, from the rates the snapshots recorded (none when the first day has no rate)."""
    currency = settings.PERFORMANCE_BENCHMARK
    data = {
        "currency": settings.REPORTING_CURRENCY,
        "benchmark": f"{currency}/{settings.REPORTING_CURRENCY}",
        "x": [int(datetime(p.day.year, p.day.month, p.day.day, tzinfo=UTC).timestamp()) for p in curve],
        "equity": [float(p.total_value) for p in curve],
        "benchmark_equity": None,
    }
    if not curve:
        return data
    prices = recorded_rates(currency=currency, start_date=curve[0].day, end_date=curve[-1].day)
    if curve[0].day in prices:
        first, last, scaled = prices[curve[0].day], prices[curve[0].day], []
        for point in curve:
            last = prices.get(point.day, last)
            scaled.append(float(curve[0].total_value * last / first))
        data["benchmark_equity"] = scaled
    return data


@dataclass(frozen=True)
class InferenceSummary:
    """The agent's thinking against its results over the last days: per day, model and strategy version."""

    days: list[dict]  # day, pnl (net of cash flows), inference cost, net; newest first
    models: list[dict]
    versions: list[dict]  # strategy versions active in the period: decisions, cost, pnl, net
    cost: Decimal
    pnl: Decimal

    @property
    def net(self) -> Decimal:
        return self.pnl - self.cost


def inference_summary(curve: list[EquityPoint], *, days: int = 30) -> InferenceSummary:
    end = timezone.now().astimezone(UTC)
    since = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = inference_cost_by_day_and_model(since=since, until=end)
    costs = by_day(rows)
    pnl_by_day = {p.day: p.daily_pnl for p in curve if p.day >= since.date()}
    every_day = sorted(set(costs) | set(pnl_by_day), reverse=True)
    table = [
        {"day": day, "pnl": pnl_by_day.get(day, Decimal(0)), "cost": costs.get(day, Decimal(0)),
         "net": pnl_by_day.get(day, Decimal(0)) - costs.get(day, Decimal(0))}
        for day in every_day
    ]  # fmt: skip
    versions = []
    for strategy in Strategy.objects.filter(activated_at__isnull=False, activated_at__lt=end).exclude(
        deactivated_at__lt=since
    ).order_by("name", "-activated_at"):
        start = max(since, strategy.activated_at)
        stop = min(end, strategy.deactivated_at) if strategy.deactivated_at else end
        spent = inference_cost_by_day_and_model(since=start, until=stop)
        cost = sum((r.cost for r in spent), Decimal(0))
        pnl = sum((v for d, v in pnl_by_day.items() if start.date() <= d <= stop.date()), Decimal(0))
        versions.append(
            {"strategy": strategy, "decisions": sum(r.decisions for r in spent), "cost": cost, "pnl": pnl,
             "net": pnl - cost}
        )  # fmt: skip
    return InferenceSummary(
        days=table,
        models=by_model(rows),
        versions=versions,
        cost=sum(costs.values(), Decimal(0)),
        pnl=sum(pnl_by_day.values(), Decimal(0)),
    )
