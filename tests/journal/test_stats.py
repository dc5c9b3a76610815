"""Stats by setup and by period, and the calendar, against a set computed by hand; each row's link lists
exactly the experiences it counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.journal.selectors.stats import calendar, stats_by, stats_by_period
from tests.factories import DecisionFactory, ExperienceFactory, StrategyFactory
from tests.journal.factories import PositionExcursionFactory

pytestmark = pytest.mark.django_db
D = Decimal
STATS = reverse("admin:journal_stats")
CALENDAR = reverse("admin:journal_calendar")


def moment(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)  # 2026-03-02 is a Monday


@pytest.fixture
def journal(db):
    """Five results; entry is the decision's time, holding the time from decision to result.

    | id | entry (decision) | result       | held | tags               | model  | layer     | outcome | PnL  |
    | e1 | Mon 02 09:00     | Mon 02 10:30 | 1.5h | breakout, btc      | gpt-4o | tactical  | success | +120 |
    | e2 | Mon 02 09:00     | Tue 03 09:00 | 24h  | breakout           | gpt-4o | tactical  | failure | -40  |
    | e3 | Wed 04 14:00     | Wed 04 14:20 | 20m  | mean-reversion     | claude | tactical  | success | +30  |
    | e4 | Wed 04 14:00     | Sat 07 16:00 | 74h  | mean-reversion,btc | claude | strategic | failure | -60  |
    | e5 | (none) Fri 06 22 | Fri 06 22:00 | -    | (none)             | -      | -         | success | +10  |
    """
    v1 = StrategyFactory(name="mean-reversion", version="1.0.0", activated_at=moment(1, 0),
                         deactivated_at=moment(4, 0))  # fmt: skip
    v2 = StrategyFactory(name="mean-reversion", version="1.1.0", is_active=True, activated_at=moment(4, 0))
    d1 = DecisionFactory(datetime=moment(2, 9), model_used="gpt-4o", decision_layer="tactical")
    d3 = DecisionFactory(datetime=moment(4, 14), model_used="claude-sonnet-4", decision_layer="tactical")
    d4 = DecisionFactory(datetime=moment(4, 14), model_used="claude-sonnet-4", decision_layer="strategic")
    rows = {
        "e1": (d1, moment(2, 10) + timedelta(minutes=30), ["breakout", "btc"], "success", "120", ["o1"]),
        "e2": (d1, moment(3, 9), ["breakout"], "failure", "-40", ["o2"]),
        "e3": (d3, moment(4, 14) + timedelta(minutes=20), ["mean-reversion"], "success", "30", []),
        "e4": (d4, moment(7, 16), ["mean-reversion", "btc"], "failure", "-60", []),
        "e5": (None, moment(6, 22), None, "success", "10", []),
    }
    made = {
        key: ExperienceFactory(
            id=key,
            decision_ref=d,
            datetime=at,
            situation_tags=tags,
            outcome=outcome,
            pnl=D(pnl),
            symbol="BTC/USDT",
            related_orders=orders,
        )
        for key, (d, at, tags, outcome, pnl, orders) in rows.items()
    }
    PositionExcursionFactory(entry_order_id="o1", r_multiple=D("2.40"))
    PositionExcursionFactory(entry_order_id="o2", r_multiple=D("-1.00"))
    return {"v1": v1, "v2": v2, **made}


def table(rows) -> dict:
    return {r.label: (r.count, r.win_rate, r.total_pnl, r.average_r, r.profit_factor) for r in rows}


def test_by_tag(journal):
    assert table(stats_by(dimension="tag")) == {
        "breakout": (2, D("50.00"), D("80.00"), D("0.70"), D("3.00")),  # R (2.40 - 1.00) / 2; 120 / 40
        "btc": (2, D("50.00"), D("60.00"), D("2.40"), D("2.00")),  # 120 / 60
        "mean-reversion": (2, D("50.00"), D("-30.00"), None, D("0.50")),  # 30 / 60
    }


def test_by_model_layer_and_strategy_version(journal):
    assert table(stats_by(dimension="model")) == {
        "gpt-4o": (2, D("50.00"), D("80.00"), D("0.70"), D("3.00")),
        "claude-sonnet-4": (2, D("50.00"), D("-30.00"), None, D("0.50")),
        "none": (1, D("100.00"), D("10.00"), None, None),
    }
    assert table(stats_by(dimension="layer"))["strategic"] == (1, D("0.00"), D("-60.00"), None, D("0.00"))
    by_version = table(stats_by(dimension="strategy"))
    # Entries before 04 00:00 ran under v1.0.0, later ones under v1.1.0 (e5's entry is its own time).
    assert by_version["mean-reversion v1.0.0"] == (2, D("50.00"), D("80.00"), D("0.70"), D("3.00"))
    assert by_version["mean-reversion v1.1.0"] == (3, D("66.67"), D("-20.00"), None, D("0.67"))


def test_by_weekday_hour_and_holding_time(journal):
    assert table(stats_by(dimension="weekday", sort="key", descending=False)) == {
        "Monday": (2, D("50.00"), D("80.00"), D("0.70"), D("3.00")),
        "Wednesday": (2, D("50.00"), D("-30.00"), None, D("0.50")),
        "Friday": (1, D("100.00"), D("10.00"), None, None),
    }
    assert [r.label for r in stats_by(dimension="hour", sort="key", descending=False)] == [
        "09:00 to 09:59", "14:00 to 14:59", "22:00 to 22:59",
    ]  # fmt: skip
    assert table(stats_by(dimension="holding", sort="key", descending=False)) == {
        "under 1 hour": (1, D("100.00"), D("30.00"), None, None),
        "1 to 4 hours": (1, D("100.00"), D("120.00"), D("2.40"), None),
        "1 to 3 days": (1, D("0.00"), D("-40.00"), D("-1.00"), D("0.00")),
        "over 3 days": (1, D("0.00"), D("-60.00"), None, D("0.00")),
        "unknown (no decision)": (1, D("100.00"), D("10.00"), None, None),
    }


def test_sorting_puts_rows_without_the_figure_last(journal):
    rows = stats_by(dimension="tag", sort="average_r", descending=True)
    assert [r.label for r in rows] == ["btc", "breakout", "mean-reversion"]
    rows = stats_by(dimension="tag", sort="total_pnl", descending=False)
    assert [r.label for r in rows] == ["mean-reversion", "btc", "breakout"]


def test_periods_and_the_calendar(journal):
    days = table(stats_by_period(period="day"))
    assert days["2026-03-02"] == (1, D("100.00"), D("120.00"), D("2.40"), None)
    assert list(days) == ["2026-03-07", "2026-03-06", "2026-03-04", "2026-03-03", "2026-03-02"]
    assert table(stats_by_period(period="week")) == {
        "week of 2026-03-02 (2026-W10)": (5, D("60.00"), D("60.00"), D("0.70"), D("1.60")),  # 160 / 100
    }
    assert table(stats_by_period(period="month"))["2026-03"][0] == 5
    months, scale = calendar(since=date(2026, 3, 1), until=date(2026, 3, 31))
    [march] = months
    assert scale == D("120.00")
    first_week = march.weeks[0]  # 2026-03-01 is a Sunday: six blanks, then the 1st
    assert first_week[:6] == [None] * 6 and first_week[6] == (date(2026, 3, 1), None, 0)
    assert march.weeks[1][0] == (date(2026, 3, 2), D("120.00"), 1)


@pytest.mark.parametrize(
    ("by", "label", "expected"),
    [
        ("tag", "btc", {"e1", "e4"}),
        ("model", "gpt-4o", {"e1", "e2"}),
        ("layer", "strategic", {"e4"}),
        ("weekday", "Wednesday", {"e3", "e4"}),
        ("hour", "22:00 to 22:59", {"e5"}),
        ("holding", "1 to 3 days", {"e2"}),
        ("strategy", "mean-reversion v1.1.0", {"e3", "e4", "e5"}),
    ],
)
def test_each_row_links_to_exactly_the_experiences_it_counts(root_client, journal, by, label, expected):
    page = root_client.get(STATS, {"by": by})
    assert page.status_code == 200
    [link] = [link for row, link in page.context["rows"] if row.label == label]
    listed = root_client.get(link)
    assert {e.pk for e in listed.context["cl"].result_list} == expected
    assert f"{len(expected)} experiences filtered" in listed.content.decode()


def test_the_pages_show_money_signs_and_percent(root_client, journal):
    html = root_client.get(STATS, {"by": "tag", "sort": "key", "dir": "asc"}).content.decode()
    assert '<span class="num-neg">-30.00</span>' in html and "50.00 %" in html and "+2.40" in html
    html = root_client.get(CALENDAR, {"since": "2026-03-01", "until": "2026-03-31"}).content.decode()
    assert 'id="journal-calendar"' in html and "March 2026" in html
    assert "rgba(26, 127, 55, 0.90)" in html  # the largest gain, deepest green


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        (
            STATS,
            {"by": "colour"},
            "by must be one of: tag, symbol, strategy, model, layer, weekday, hour, holding",
        ),
        (STATS, {"since": "yesterday"}, "since must be a date as YYYY-MM-DD, not “yesterday”."),
        (STATS, {"sort": "luck"}, "sort must be one of"),
        (CALENDAR, {"period": "year"}, "period must be one of: day, week, month"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(root_client, journal, url, query, message):
    response = root_client.get(url, query)
    assert response.status_code == 400 and message in response.content.decode()


def test_empty_states_name_the_command_and_the_dates_covered(root_client, journal):
    html = root_client.get(STATS, {"since": "2025-01-01", "until": "2025-01-31"}).content.decode()
    assert "manage.py seed_demo" in html and "2026-03-02 to 2026-03-07 UTC" in html


def test_auditors_read_the_stats_and_a_user_without_a_role_does_not(
    client, auditor, journal, django_user_model
):
    client.force_login(auditor)
    assert client.get(STATS).status_code == 200 and client.get(CALENDAR).status_code == 200
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))
    assert client.get(STATS).status_code == 403
