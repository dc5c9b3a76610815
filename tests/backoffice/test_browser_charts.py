"""The tearsheet and the dashboard in a real headless Chromium: the uPlot charts draw under the site's
Content-Security-Policy with no script error, in the light theme and in the dark one (their axes in the
theme's text colour), and the tearsheet downloads as one file."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from apps.backoffice.roles import roles_sync
from tests.factories import ExchangeFactory, PortfolioSnapshotFactory, StrategyFactory

from .chromium import chromium, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser-charts"
PASSWORD = "operator-browser-password"

pytestmark = needs_chromium


@pytest.fixture
def browser():
    with chromium(width=1440, height=1100, console=True) as driver:
        yield driver


@pytest.fixture
def desk(transactional_db):
    roles_sync()
    operator = User.objects.create_user("otto", password=PASSWORD, is_staff=True)
    operator.groups.add(Group.objects.get(name="operators"))
    exchange = ExchangeFactory(name="binance")
    today = timezone.now().astimezone(UTC).date()
    for days_ago in range(120, -1, -1):
        wave = Decimal(days_ago % 17) * 40 - Decimal(days_ago % 5) * 25
        PortfolioSnapshotFactory(
            exchange=exchange,
            snapshot_date=today - timedelta(days=days_ago),
            total_value=Decimal(10000) + Decimal(120 - days_ago) * 15 + wave,
            rates={
                "BTC": {"rate": str(60000 + (120 - days_ago) * 40 + days_ago % 7 * 300), "source": "given"}
            },
        )
    return StrategyFactory(
        name="trend", version="2.0", config={}, activated_at=timezone.now() - timedelta(days=90)
    )


def sign_in(driver, base_url):
    driver.get(base_url + "/admin/login/")
    driver.find_element("id", "id_username").send_keys("otto")
    driver.find_element("id", "id_password").send_keys(PASSWORD)
    driver.find_element("css selector", 'input[type="submit"]').click()


def charts_drawn(driver) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(
        lambda d: all(
            el.find_elements("css selector", "canvas") for el in d.find_elements("css selector", ".ts-chart")
        )
    )
    return {
        el.get_attribute("data-chart"): el.get_attribute("data-axis-colour")
        for el in driver.find_elements("css selector", ".ts-chart")
    }


def script_errors(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]  # the browser's own guess
    ]


def test_the_charts_draw_in_both_themes_without_a_script_error(browser, live_server, desk):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sign_in(browser, live_server.url)
    browser.get(f"{live_server.url}/admin/tearsheet/{desk.pk}/")
    light = charts_drawn(browser)
    assert set(light) == {"equity", "drawdown", "rolling", "histogram", "pnl"}
    browser.save_screenshot(str(ARTIFACTS / "01-tearsheet-light.png"))

    # The admin's theme switch keeps the choice in localStorage and sets data-theme on <html>.
    browser.execute_script(
        "localStorage.setItem('theme', 'dark'); document.documentElement.dataset.theme = 'dark';"
    )
    dark = charts_drawn(browser)
    browser.save_screenshot(str(ARTIFACTS / "02-tearsheet-dark.png"))
    foreground = browser.execute_script(
        "return getComputedStyle(document.documentElement).getPropertyValue('--body-fg').trim()"
    )
    assert all(colour == foreground for colour in dark.values())  # axes redrawn in the dark theme's text
    assert set(dark.values()) != set(light.values())

    browser.get(f"{live_server.url}/admin/dashboard/")
    assert set(charts_drawn(browser)) == {"account-equity"}
    browser.save_screenshot(str(ARTIFACTS / "03-dashboard-dark.png"))
    assert script_errors(browser) == []


def test_the_downloaded_tearsheet_draws_from_disk_with_no_network(
    browser, live_server, desk, client, tmp_path
):
    operator = User.objects.get(username="otto")
    client.force_login(operator)
    download = client.get(f"/admin/tearsheet/{desk.pk}/", {"download": "1"})
    page = tmp_path / "tearsheet.html"
    page.write_bytes(download.content)
    live_server_url = live_server.url  # the file must not need it
    browser.get(page.as_uri())
    drawn = charts_drawn(browser)
    assert set(drawn) == {"equity", "drawdown", "rolling", "histogram", "pnl"}
    browser.save_screenshot(str(ARTIFACTS / "04-downloaded-file.png"))
    assert live_server_url not in download.content.decode()
    assert script_errors(browser) == []
