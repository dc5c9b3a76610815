"""The dashboard's reads: equity curve with drawdown from the running peak, today's trades, events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.backoffice import selectors
from tests.factories import (
    DecisionFactory,
    ExchangeFactory,
    PortfolioSnapshotFactory,
    PositionFactory,
    SystemEventFactory,
    TradeFactory,
)

pytestmark = pytest.mark.django_db


def snapshots(exchange, totals: list[str], pnls: list[str] | None = None, *, end=None):
    end = end or timezone.localdate()
    pnls = pnls or ["0"] * len(totals)
    for n, (total, pnl) in enumerate(zip(totals, pnls, strict=True)):
        PortfolioSnapshotFactory(
            exchange=exchange,
            snapshot_date=end - timedelta(days=len(totals) - 1 - n),
            total_value=Decimal(total),
            daily_pnl=Decimal(pnl),
        )


def test_equity_curve_sums_exchanges_and_measures_drawdown_from_the_running_peak():
    binance, kraken = ExchangeFactory(name="binance"), ExchangeFactory(name="kraken")
    snapshots(binance, ["60", "80", "50", "90", "77"], ["1", "2", "-30", "40", "-13"])
    snapshots(kraken, ["40", "40", "40", "40", "40"], ["0.5", "0", "0", "0", "0"])
    curve = selectors.equity_curve(days=30)
    assert [p.total_value for p in curve] == [100, 120, 90, 130, 117]
    assert [p.daily_pnl for p in curve] == [Decimal("1.5"), 2, -30, 40, -13]
    # 90 is 25% below the 120 peak; 117 is 10% below the later 130 peak (not the first one).
    assert [p.drawdown for p in curve] == [Decimal("0.00"), 0, Decimal("-25.00"), 0, Decimal("-10.00")]
    assert [p.day for p in curve] == sorted(p.day for p in curve)


def test_equity_curve_keeps_to_its_window():
    exchange = ExchangeFactory()
    snapshots(exchange, ["100"], end=timezone.localdate() - timedelta(days=400))
    snapshots(exchange, ["110"])
    assert [p.total_value for p in selectors.equity_curve(days=365)] == [Decimal("110")]
    assert selectors.equity_curve(days=365)[0].drawdown == 0


def test_today_trade_stats_counts_today_only():
    now = datetime(2026, 6, 15, 14, 0, tzinfo=UTC)
    midnight = datetime(2026, 6, 15, tzinfo=UTC)
    TradeFactory(side="buy", datetime=midnight, price=Decimal("100"), amount=Decimal("2"))
    TradeFactory(side="sell", datetime=midnight + timedelta(hours=23, minutes=59), price=Decimal("50"))
    TradeFactory(side="buy", datetime=midnight - timedelta(microseconds=1))  # yesterday
    TradeFactory(side="buy", datetime=midnight + timedelta(days=1))  # tomorrow
    stats = selectors.today_trade_stats(now=now)
    assert stats == {
        "total_trades": 2,
        "buy_count": 1,
        "sell_count": 1,
        "total_volume": Decimal("200") + Decimal("50") * Decimal("0.01"),
    }


def test_today_trade_stats_on_a_quiet_day():
    assert selectors.today_trade_stats() == {
        "total_trades": 0,
        "buy_count": 0,
        "sell_count": 0,
        "total_volume": None,
    }


def test_open_positions_largest_first_closed_ones_left_out():
    PositionFactory(symbol="SOL/USDT", current_price=Decimal("10"), amount=Decimal("1"))
    PositionFactory(symbol="BTC/USDT", current_price=Decimal("60000"), amount=Decimal("0.1"))
    PositionFactory(symbol="ETH/USDT", current_price=Decimal("3000"), amount=Decimal("1"))
    PositionFactory(
        symbol="XRP/USDT", is_open=False, closed_at=timezone.now(), current_price=Decimal("900000")
    )
    assert [p.symbol for p in selectors.open_positions()] == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    assert len(selectors.open_positions(limit=2)) == 2


def test_recent_decisions_newest_first():
    decisions = [DecisionFactory() for _ in range(12)]
    recent = list(selectors.recent_decisions())
    assert [d.pk for d in recent] == [d.pk for d in reversed(decisions)][:10]


def test_events_by_severity_over_the_last_24_hours():
    now = timezone.now()
    SystemEventFactory(severity="warning", datetime=now - timedelta(hours=1))
    SystemEventFactory(severity="warning", datetime=now - timedelta(hours=23, minutes=59))
    SystemEventFactory(severity="error", datetime=now - timedelta(minutes=5))
    SystemEventFactory(severity="critical", datetime=now - timedelta(hours=25))
    assert selectors.events_by_severity(hours=24, now=now) == {
        "info": 0,
        "warning": 2,
        "error": 1,
        "critical": 0,
    }


def test_performance_summary_agrees_with_the_reference_library():
    import empyrical
    import pandas as pd

    totals = ["10000", "10150", "10020", "10400", "10310", "10650", "10500", "10890", "10800", "11020"]
    snapshots(ExchangeFactory(), totals)
    curve = selectors.equity_curve(days=30)
    summary = selectors.performance_summary(curve)
    returns = pd.Series([float(b) / float(a) - 1 for a, b in itertools.pairwise(totals)])

    def pct(value: float) -> Decimal:
        return Decimal(str(value * 100)).quantize(Decimal("0.01"))

    def two(value: float) -> Decimal:
        return Decimal(str(value)).quantize(Decimal("0.01"))

    assert summary.total_return == pct(empyrical.cum_returns_final(returns))
    assert summary.annualized_return == pct(empyrical.annual_return(returns, annualization=365))
    assert summary.volatility == pct(empyrical.annual_volatility(returns, annualization=365))
    assert summary.max_drawdown == pct(empyrical.max_drawdown(returns))
    assert summary.sharpe_ratio == two(empyrical.sharpe_ratio(returns, annualization=365))
    assert summary.sortino_ratio == two(empyrical.sortino_ratio(returns, annualization=365))
    assert summary.calmar_ratio == two(empyrical.calmar_ratio(returns, annualization=365))


def test_performance_summary_needs_two_days():
    snapshots(ExchangeFactory(), ["10000"])
    assert selectors.performance_summary(selectors.equity_curve(days=30)) is None


def test_equity_curve_carries_a_missing_exchange_forward():
    today = timezone.localdate()
    first, second = ExchangeFactory(), ExchangeFactory()
    snapshots(first, ["100", "110", "120"], end=today)
    snapshots(second, ["50"], end=today - timedelta(days=2))
    # The second exchange reported only on the first day: its 50 still counts on the next two.
    assert [p.total_value for p in selectors.equity_curve(days=30)] == [150, 160, 170]
