"""The dashboard page: equity, charts, today's trades, positions, decisions and events at a glance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.utils import quote
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    DecisionFactory,
    ExchangeFactory,
    PortfolioSnapshotFactory,
    PositionFactory,
    SystemEventFactory,
    TradeFactory,
)

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:dashboard")

# The seed's monitoring query (section 8), verbatim.
TODAY_TRADES_SQL = """
SELECT
    COUNT(*) as total_trades,
    SUM(CASE WHEN side = 'buy' THEN 1 ELSE 0 END) as buy_count,
    SUM(CASE WHEN side = 'sell' THEN 1 ELSE 0 END) as sell_count,
    SUM(cost) as total_volume
FROM trades
WHERE DATE(datetime) = CURRENT_DATE;
"""


@pytest.fixture
def desk(db):
    today = timezone.localdate()
    binance, kraken = ExchangeFactory(name="binance"), ExchangeFactory(name="kraken")
    for days_ago, (b, k, pnl) in enumerate(
        [("6100.5", "4000", "35.25"), ("6000", "4200", "-80"), ("6500", "4000", "10")]
    ):
        for exchange, total in ((binance, b), (kraken, k)):
            PortfolioSnapshotFactory(
                exchange=exchange,
                snapshot_date=today - timedelta(days=days_ago),
                total_value=Decimal(total),
                daily_pnl=Decimal(pnl) / 2,
            )
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    for n, (side, price, amount) in enumerate(
        [("buy", "45000", "0.01"), ("buy", "3000", "0.5"), ("sell", "45500", "0.02")]
    ):
        TradeFactory(
            side=side, price=Decimal(price), amount=Decimal(amount), datetime=midnight + timedelta(minutes=n)
        )
    TradeFactory(side="sell", datetime=midnight - timedelta(seconds=1), price=Decimal("99999"))
    PositionFactory(exchange=binance, symbol="SOL/USDT", current_price=Decimal("150"), amount=Decimal("2"))
    PositionFactory(
        exchange=binance, symbol="BTC/USDT", current_price=Decimal("45000"), amount=Decimal("0.1")
    )
    PositionFactory(
        exchange=kraken,
        symbol="ETH/USDT",
        current_price=Decimal("3000"),
        amount=Decimal("1"),
        entry_price=Decimal("3200"),
    )
    PositionFactory(exchange=kraken, symbol="DOGE/USDT", is_open=False, closed_at=timezone.now())
    decisions = [DecisionFactory(decision=f"Decision number {n}: " + "hold " * 40) for n in range(12)]
    now = timezone.now()
    SystemEventFactory(severity="warning", datetime=now - timedelta(hours=2))
    SystemEventFactory(severity="error", datetime=now - timedelta(hours=3))
    SystemEventFactory(severity="error", datetime=now - timedelta(minutes=1))
    SystemEventFactory(severity="critical", datetime=now - timedelta(hours=25))
    return {"decisions": decisions}  # fmt: skip


def test_dashboard_answers_how_the_agent_is_doing(root_client, desk):
    response = root_client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    context = response.context

    # The latest total value across exchanges, today's PnL and the drawdown from the 10,500 peak.
    assert context["latest"].total_value == Decimal("10100.5")
    assert "10100.50" in html
    assert "35.25" in html
    assert str(context["latest"].drawdown) == "-3.80"
    assert "-3.80%" in html

    # Offline SVG charts: an equity line, a drawdown, and daily PnL bars; no script, no CDN.
    assert html.count('<svg class="chart"') == 3
    assert "<polyline" in html and "<rect" in html
    assert "cdn" not in html.lower() and '<script src="http' not in html

    # Today's trades, as the seed's section 8 query counts them.
    with connection.cursor() as cursor:
        cursor.execute(TODAY_TRADES_SQL)
        total, buys, sells, volume = cursor.fetchone()
    assert (total, buys, sells) == (3, 2, 1)
    assert context["today"] == {
        "total_trades": total,
        "buy_count": buys,
        "sell_count": sells,
        "total_volume": volume,
    }
    assert f"{buys} buy / {sells} sell, volume {volume:.2f}" in html

    # Open positions, largest first; the closed one is not there.
    positions = html[html.index("<h2>Open positions</h2>") : html.index("<h2>Recent decisions</h2>")]
    assert positions.index("BTC/USDT") < positions.index("ETH/USDT") < positions.index("SOL/USDT")
    assert "DOGE/USDT" not in positions
    assert 'class="loss">-200.00' in positions  # ETH bought at 3200, now 3000

    # The ten latest decisions, newest first, each a link to its audit page, previews cut at 100.
    decisions = html[html.index("<h2>Recent decisions</h2>") : html.index("<h2>System events")]
    assert decisions.count("Decision number ") == 10
    newest, oldest = desk["decisions"][-1], desk["decisions"][0]
    assert reverse("admin:decisions_decision_change", args=[quote(newest.pk)]) in decisions
    assert reverse("admin:decisions_decision_change", args=[quote(oldest.pk)]) not in decisions
    assert decisions.index("Decision number 11") < decisions.index("Decision number 2")
    assert "hold " * 40 not in decisions

    # System events by severity over the last 24 hours (the critical one is 25 hours old).
    assert context["events"] == {"info": 0, "warning": 1, "error": 2, "critical": 0}
    events = html[html.index("<h2>System events") :]
    assert 'severity__exact=error">2</a>' in events
    assert 'severity__exact=critical">0</a>' in events


def test_an_empty_dashboard_says_there_is_nothing_yet(root_client):
    html = root_client.get(DASHBOARD).content.decode()
    assert "Equity (total value): no data yet." in html
    assert "No open positions." in html
    assert "No decisions yet." in html
    assert "<polyline" not in html


def test_the_dashboard_is_for_staff_only(client, django_user_model):
    django_user_model.objects.create_user("visitor", password="visitor-password-1")
    client.login(username="visitor", password="visitor-password-1")
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_the_index_links_to_the_dashboard(root_client):
    assert f'href="{DASHBOARD}"' in root_client.get(reverse("admin:index")).content.decode()


def test_the_dashboard_nets_pnl_of_inference_cost_and_overlays_the_benchmark(root_client, db):
    from datetime import UTC, datetime

    from apps.decisions.costs import model_price_add
    from apps.strategies.models import Strategy

    today = timezone.now().astimezone(UTC).date()
    binance = ExchangeFactory(name="binance")
    for days_ago, (total, pnl, btc) in enumerate([("10300", "300", "66000"), ("10000", "0", "60000")]):
        PortfolioSnapshotFactory(
            exchange=binance, snapshot_date=today - timedelta(days=days_ago), total_value=Decimal(total),
            daily_pnl=Decimal(pnl), rates={"BTC": {"rate": btc, "source": "given"}},
        )  # fmt: skip
    model_price_add(model="gpt-4o", input_per_million=Decimal("2.5"), output_per_million=Decimal("10"),
                    effective_from=timezone.now() - timedelta(days=400))  # fmt: skip
    moment = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=1)
    DecisionFactory(model_used="gpt-4o", input_tokens=None, output_tokens=None, tokens_used=1_000_000,
                    timestamp=int(moment.timestamp() * 1000), datetime=moment)  # fmt: skip
    from apps.decisions.costs import decisions_reprice

    decisions_reprice()
    Strategy.objects.create(name="trend", version="1.0", config={}, is_active=True,
                            activated_at=timezone.now() - timedelta(days=3))  # fmt: skip

    page = root_client.get(DASHBOARD)
    html = page.content.decode()
    assert "PnL net of inference cost, last 30 days (UTC)" in html
    assert "PnL 300.00 \u2212 inference 10.00 = " in html and "290.00 USDT" in html
    assert reverse("admin:tearsheet", args=[Strategy.objects.get().pk]) in html
    data = page.context["equity_data"]
    assert data["equity"] == [10000.0, 10300.0]
    assert data["benchmark_equity"] == [10000.0, 11000.0]  # BTC's +10% on the first day's value
    assert "svg.chart text { fill: var(--body-fg); }" in html  # axis labels readable on a dark background
