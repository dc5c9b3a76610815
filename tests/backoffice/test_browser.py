"""An operator in a real headless Chromium: log in, annotate an experience, find it, open the dashboard."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from apps.backoffice.roles import roles_sync
from apps.memory.models import Experience
from tests.factories import ExchangeFactory, ExperienceFactory, PortfolioSnapshotFactory

from .chromium import chromium, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PASSWORD = "operator-browser-password"

pytestmark = needs_chromium


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


class Operator:
    """What a person at the browser does and sees, with a screenshot after every step."""

    def __init__(self, driver, base_url: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.base_url, self.By = driver, base_url, By
        self.wait = WebDriverWait(driver, 15)
        self.ec = expected_conditions
        self.step = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    def shot(self, name: str) -> None:
        self.step += 1
        self.driver.save_screenshot(str(ARTIFACTS / f"{self.step:02d}-{name}.png"))

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str):
        return self.wait.until(self.ec.visibility_of_element_located((self.By.CSS_SELECTOR, css)))

    def click_link(self, text: str) -> None:
        self.wait.until(self.ec.element_to_be_clickable((self.By.LINK_TEXT, text))).click()

    def type_into(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def heading(self) -> str:
        return self.find("#content h1").text

    def page_text(self) -> str:
        return self.find("body").text


@pytest.fixture
def desk(transactional_db):
    # The migration made the groups, but a transactional test before this one may have flushed them.
    roles_sync()
    operator = User.objects.create_user("olivia", password=PASSWORD, is_staff=True)
    operator.groups.add(Group.objects.get(name="operators"))
    exchange = ExchangeFactory(name="binance")
    today = timezone.localdate()
    for days_ago, total in enumerate(["10450.25", "10200", "10380"]):
        PortfolioSnapshotFactory(
            exchange=exchange, snapshot_date=today - timedelta(days=days_ago), total_value=Decimal(total)
        )
    ExperienceFactory(id="exp_other", situation="ETH range trade between support and resistance.")
    return ExperienceFactory(
        id="exp_capitulation",
        situation="BTC capitulation wick to 41000 on record liquidations.",
        outcome="failure",
        pnl=Decimal("-84.20000000"),
        lessons_learned=["Buy the dip"],
        situation_tags=["btc"],
    )


def test_operator_annotates_an_experience_finds_it_and_reads_the_dashboard(
    browser, live_server, desk, fresh_memory
):
    me = Operator(browser, live_server.url)

    # Log in.
    me.open("/admin/")
    me.find("#id_username")
    me.shot("login")
    me.type_into("#id_username", "olivia")
    me.type_into("#id_password", PASSWORD)
    me.find('input[type="submit"]').click()
    me.wait.until(me.ec.title_contains("Back-office"))
    assert "Experiences" in me.page_text()
    me.shot("index")

    # Open the losing experience from the list.
    me.click_link("Experiences")
    me.wait.until(me.ec.title_contains("Select experience to change"))
    me.shot("experiences")
    me.click_link("exp_capitulation")
    me.find("#id_lessons_learned")
    assert "BTC capitulation wick to 41000" in me.page_text()
    me.shot("experience")

    # Write the lessons, one per line, and the tags; save.
    me.type_into("#id_lessons_learned", "Wait for the 4h close\nHalve the size when liquidations spike")
    me.type_into("#id_situation_tags", "btc, capitulation, liquidations")
    me.type_into("#id_importance_score", "0.90")
    me.shot("annotated")
    me.find('input[name="_save"]').click()
    me.wait.until(me.ec.visibility_of_element_located((me.By.CSS_SELECTOR, ".messagelist .success")))
    assert "was changed successfully" in me.find(".messagelist").text
    me.shot("saved")

    saved = Experience.objects.get(pk="exp_capitulation")
    assert saved.lessons_learned == ["Wait for the 4h close", "Halve the size when liquidations spike"]
    assert saved.situation_tags == ["btc", "capitulation", "liquidations"]
    assert saved.importance_score == Decimal("0.90")

    # Find it again through the search box: its row shows the new tags.
    me.type_into("#searchbar", "liquidations")
    me.find('#changelist-search input[type="submit"]').click()
    me.wait.until(me.ec.url_contains("q=liquidations"))
    rows = browser.find_elements(me.By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "exp_capitulation" in rows[0].text
    assert "btc, capitulation, liquidations" in rows[0].text
    assert "exp_other" not in me.page_text()
    me.shot("found")
    me.click_link("exp_capitulation")
    lessons = me.find("#id_lessons_learned").get_attribute("value")
    assert lessons == "Wait for the 4h close\nHalve the size when liquidations spike"

    # The dashboard: the latest total value, the equity curve (interactive, drawn by its script) and the
    # drawdown and daily PnL (server-drawn SVG).
    me.open("/admin/")
    me.click_link("→ Dashboard: equity, drawdown, PnL, positions, today's trades")
    me.wait.until(me.ec.title_contains("Dashboard"))
    assert "10450.25" in me.page_text()
    equity = me.find('.ts-chart[data-chart="account-equity"] canvas')
    assert equity.size["width"] > 300
    charts = browser.find_elements(me.By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 2
    assert charts[0].find_element(me.By.TAG_NAME, "polyline").size["width"] > 100
    me.shot("dashboard")
