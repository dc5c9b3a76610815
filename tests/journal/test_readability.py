"""What an operator reads: money in its currency with its sign coloured, % on percentages, UTC said, a home
page where "View site" leads, the roles explained on the index."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.common.formatting import money, percent, plain_money, quantity
from tests.factories import ExperienceFactory

pytestmark = pytest.mark.django_db


def test_the_formats():
    assert plain_money(Decimal("1234.5678"), "USDT") == "+1,234.57 USDT"
    assert plain_money(Decimal("-0.70000000"), "USDT") == "-0.70 USDT"
    assert plain_money(None) == "—"
    assert money(Decimal("-12.5"), "USDT") == '<span class="num-neg">-12.50 USDT</span>'
    assert percent(Decimal("-0.7449")) == '<span class="num-neg">-0.74 %</span>'
    assert quantity(Decimal("0.01500000")) == "0.015" and quantity(Decimal("43000.00000000")) == "43,000"


def test_the_experiences_list_reads_as_money_percent_and_utc(root_client, world):
    ExperienceFactory(pnl=Decimal("-84.20000000"), pnl_percentage=Decimal("-0.7449"), symbol="BTC/USDT")
    html = root_client.get(reverse("admin:memory_experience_changelist")).content.decode()
    assert '<span class="num-neg">-84.20 USDT</span>' in html and "-0.74 %" in html
    assert "Time (UTC)" in html and "-84.20000000" not in html


def test_the_orders_and_trades_lists_drop_padding_zeros(root_client, world):
    html = root_client.get(reverse("admin:execution_trade_changelist")).content.decode()
    assert '<td class="field-amount_shown">0.01</td>' in html
    assert '<td class="field-price_shown">45,000.00</td>' in html and "0.4500 USDT" in html
    html = root_client.get(reverse("admin:execution_order_changelist")).content.decode()
    assert '<td class="field-filled_shown">0.01</td>' in html and "Time (UTC)" in html


def test_view_site_leads_to_a_home_page(client, root_client):
    assert client.get("/").status_code == 200
    html = client.get("/").content.decode()
    assert 'href="/admin/"' in html and "/api/v1/docs/" in html
    index = root_client.get(reverse("admin:index")).content.decode()
    assert 'href="/"' in index  # Django's "View site"


def test_the_index_explains_the_roles_and_links_the_journal(client, auditor, world):
    client.force_login(auditor)
    html = client.get(reverse("admin:index")).content.decode()
    assert "<em>operators</em> read everything and act" in html
    assert "<em>auditors</em> read everything and change nothing" in html
    assert "You are in: auditors." in html
    for name in ("admin:journal_stats", "admin:journal_calendar", "admin:journal_review_queue"):
        assert reverse(name) in html


def test_an_empty_performance_metrics_page_names_the_command_and_the_dates_it_covers(root_client, db):
    from datetime import date

    from tests.factories import PortfolioSnapshotFactory, StrategyFactory

    url = reverse("admin:strategies_performancemetrics_changelist")
    assert "manage.py seed_demo" in root_client.get(url).content.decode()  # nothing to compute from yet
    StrategyFactory(name="rsi_mean_reversion", is_active=True)
    PortfolioSnapshotFactory(snapshot_date=date(2026, 1, 5))
    PortfolioSnapshotFactory(snapshot_date=date(2026, 4, 4))
    html = root_client.get(url).content.decode()
    command = "compute_performance_metrics --strategy rsi_mean_reversion --start 2026-01-05 --end 2026-04-04"
    assert f"manage.py {command}" in html
