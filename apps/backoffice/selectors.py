"""Reads behind the dashboard: the seed's monitoring queries (section 8) and the equity curve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.decisions.models import Decision
from apps.execution.models import CurrentPosition, Side, Trade
from apps.portfolio.models import PortfolioSnapshot
from apps.system_events.models import Severity, SystemEvent


@dataclass(frozen=True)
class EquityPoint:
    day: date
    total_value: Decimal
    daily_pnl: Decimal
    drawdown: Decimal  # percent below the running peak, <= 0


def equity_curve(*, days: int = 365) -> list[EquityPoint]:
    """Total value across exchanges per snapshot date, with daily PnL and drawdown from the running peak."""
    since = timezone.localdate() - timedelta(days=days)
    rows = (
        PortfolioSnapshot.objects.filter(snapshot_date__gte=since)
        .values("snapshot_date")
        .annotate(total=Sum("total_value"), pnl=Sum("daily_pnl"))
        .order_by("snapshot_date")
    )
    points = []
    peak = None
    for row in rows:
        total = row["total"]
        peak = total if peak is None or total > peak else peak
        drawdown = (total - peak) / peak * 100 if peak else Decimal("0")
        points.append(
            EquityPoint(
                day=row["snapshot_date"],
                total_value=total,
                daily_pnl=row["pnl"] or Decimal("0"),
                drawdown=drawdown.quantize(Decimal("0.01")),
            )
        )
    return points


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
