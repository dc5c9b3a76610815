"""An operator's journal in a real headless Chromium at 1,440 px, on the demo world: the figures above the
lists (and no key column pushed off the screen), the stats pages, the calendar, and a review from the queue.

Screenshots are kept in test-artifacts/browser-journal/ (docs/operators.md shows them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from apps.backoffice.roles import roles_sync
from apps.demo.services import demo_seed
from apps.journal.models import Review
from apps.system_events.models import SystemEvent
from tests.backoffice.test_browser import Operator

from .chromium import chromium, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser-journal"
PASSWORD = "operator-journal-password"
WIDTH = 1440

pytestmark = needs_chromium


@pytest.fixture
def wide_browser():
    with chromium(width=WIDTH, height=1000) as driver:
        yield driver


class Journalist(Operator):
    """Operator's steps, its screenshots kept apart from the other browser test's."""

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

    def hidden_columns(self) -> list[str]:
        """Headers of the result list that end beyond the window's right edge (off screen)."""
        return self.driver.execute_script(
            "const width = document.documentElement.clientWidth;"
            "return [...document.querySelectorAll('#result_list thead th')]"
            ".filter(th => th.getBoundingClientRect().right > width + 1).map(th => th.innerText.trim());"
        )


@pytest.fixture
def demo_desk(transactional_db, fresh_memory):
    roles_sync()
    demo_seed()
    operator = User.objects.create_user("olivia", password=PASSWORD, is_staff=True)
    operator.groups.add(Group.objects.get(name="operators"))
    return operator


def test_the_journal_and_a_review_at_1440_pixels(wide_browser, live_server, demo_desk):
    me = Journalist(wide_browser, live_server.url)
    me.open("/admin/")
    me.type_into("#id_username", "olivia")
    me.type_into("#id_password", PASSWORD)
    me.find('input[type="submit"]').click()
    me.wait.until(me.ec.title_contains("Back-office"))
    assert "operators read everything and act" in me.page_text()
    me.shot("index-roles")

    # The lists: figures for what is filtered, and every column on screen with the sidebar open.
    for path, name in [
        ("/admin/memory/experience/?outcome__exact=failure", "experiences-losses"),
        ("/admin/execution/order/", "orders"),
        ("/admin/execution/position/", "positions"),
        ("/admin/execution/trade/", "trades"),
        ("/admin/decisions/decision/", "decisions"),
    ]:
        me.open(path)
        me.find("#result_list")
        if name != "orders":  # orders have no result of their own: their fills and positions do
            assert "filtered" in me.find("#figures").text
        me.shot(name)
        assert me.hidden_columns() == [], f"{path}: columns off screen at {WIDTH} px"
    me.open("/admin/memory/experience/?outcome__exact=failure")
    assert "losses" in me.find("#figures").text and "USDT" in me.find("#figures").text

    # Stats by tag, sorted by win rate; a row leads to the experiences it counts.
    me.open("/admin/journal/stats/?by=tag")
    me.find("#journal-stats")
    me.find('#journal-stats th a[href*="sort=win_rate"]').click()
    me.wait.until(me.ec.url_contains("sort=win_rate"))
    me.shot("stats-by-tag")
    first = me.find("#journal-stats tbody tr td a")
    label = first.text
    counted = me.find("#journal-stats tbody tr td.num").text.split()[0]
    first.click()
    me.wait.until(me.ec.url_contains(f"tag={label}"))
    assert f"{counted} experiences filtered" in me.find("#figures").text
    me.shot("stats-row-filtered")
    for by in ("hour", "holding", "strategy"):
        me.open(f"/admin/journal/stats/?by={by}")
        assert me.find("#journal-stats tbody tr")
    me.shot("stats-by-strategy-version")

    # The calendar of daily PnL and the weekly table.
    me.open("/admin/journal/calendar/?period=week")
    assert me.find("#journal-calendar table caption").text
    assert me.find("#journal-periods tbody tr")
    me.shot("calendar")

    # A review from the queue: the biggest unreviewed result first.
    me.open("/admin/journal/review/queue/")
    me.find("#review-queue")
    me.shot("review-queue")
    me.click_link("Review")
    assert "It chose:" in me.find("#review-subject").text
    me.find("#id_verdict_2").click()  # bad
    me.find("#id_reasoning_score_1").click()  # 2
    me.find("#id_risk_score_0").click()  # 1
    me.find("#id_timing_score_2").click()  # 3
    me.type_into("#id_corrected_decision", "Wait for a 4h close back above the 200 EMA before buying.")
    me.type_into("#id_notes", "A win, but a falling knife bought against the 4h trend: lucky, not right.")
    me.shot("review-form")
    me.find('input[name="_save"]').click()
    me.wait.until(me.ec.visibility_of_element_located((me.By.CSS_SELECTOR, ".messagelist")))
    me.shot("review-saved")
    review = Review.objects.get()
    assert (review.verdict, review.risk_score, review.reviewer) == ("bad", 1, "olivia")
    me.open(f"/admin/decisions/decision/{review.decision_id}/change/")
    assert "a falling knife bought against the 4h trend" in me.page_text()
    me.shot("decision-with-review")

    # On the record: Recent actions, and a system event naming the operator.
    me.open("/admin/")
    assert "bad review of decision" in me.find("#recent-actions-module").text
    assert SystemEvent.objects.filter(event_type="operator_action", data__user="olivia").exists()
