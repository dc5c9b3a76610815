"""The experience admin: review, annotation through the memory service, bulk actions, panels."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from apps.memory.models import Experience, MemoryOutbox, OutboxStatus
from apps.memory.services import long_term
from tests.factories import DecisionFactory, ExperienceFactory, OrderFactory, TradeFactory

pytestmark = pytest.mark.django_db


def memory_payload(experience_id: str) -> dict | None:
    """The experience's point payload in long-term memory, or None when it has no point."""
    for point in long_term.collection_ready().scroll():
        if point.experience_id == experience_id:
            return point.payload
    return None


def change_url(experience: Experience) -> str:
    return reverse("admin:memory_experience_change", args=[quote(experience.pk)])


CHANGELIST = reverse("admin:memory_experience_changelist")


def annotation(**overrides) -> dict:
    data = {
        "reflection": "Entered before the 4h close confirmed the bounce.",
        "lessons_learned": "Wait for the 4h close\r\n\r\n  Halve the size when funding flips  \r\n",
        "situation_tags": "BTC, oversold, failed-bounce, btc",
        "importance_score": "0.85",
    }
    data.update(overrides)
    return data


def test_annotation_round_trip_reaches_postgresql_and_long_term_memory(
    root_client, world, fresh_memory, django_capture_on_commit_callbacks
):
    experience = world.experience
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = root_client.post(change_url(experience), annotation())
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert callbacks, "the save queued no push to long-term memory"

    saved = Experience.objects.get(pk=experience.pk)
    assert saved.lessons_learned == ["Wait for the 4h close", "Halve the size when funding flips"]
    assert saved.situation_tags == ["btc", "oversold", "failed-bounce"]
    assert saved.importance_score == Decimal("0.85")
    assert saved.reflection == "Entered before the 4h close confirmed the bounce."
    # What the agent recorded is untouched by a review.
    assert (saved.situation, saved.decision, saved.outcome) == (
        experience.situation,
        experience.decision,
        experience.outcome,
    )

    payload = memory_payload(experience.pk)
    assert payload is not None
    assert payload["lessons_learned"] == ["Wait for the 4h close", "Halve the size when funding flips"]
    assert payload["tags"] == ["btc", "oversold", "failed-bounce"]
    assert payload["importance_score"] == pytest.approx(0.85)
    assert payload["reflection"] == "Entered before the 4h close confirmed the bounce."
    assert not MemoryOutbox.objects.filter(status=OutboxStatus.PENDING).exists()

    # The change page shows the saved review back, lessons one per line.
    page = root_client.get(change_url(experience)).content.decode()
    assert "Wait for the 4h close\nHalve the size when funding flips</textarea>" in page
    assert 'value="btc, oversold, failed-bounce"' in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("importance_score", "1.5", "less than or equal to 1"),
        ("importance_score", "-0.1", "greater than or equal to 0"),
        ("importance_score", "", "This field is required."),
        ("situation_tags", "btc, two words", "“two words” is not a tag"),
        ("situation_tags", "btc, " + "x" * 60, "is not a tag"),
    ],
)
def test_bad_annotation_is_a_form_error_and_saves_nothing(root_client, world, field, value, message):
    experience = world.experience
    before = Experience.objects.values().get(pk=experience.pk)
    outbox = MemoryOutbox.objects.count()
    response = root_client.post(change_url(experience), annotation(**{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert message in response.content.decode()
    assert Experience.objects.values().get(pk=experience.pk) == before
    assert MemoryOutbox.objects.count() == outbox


# --- bulk actions ---------------------------------------------------------------------------------


@pytest.fixture
def three(world):
    return [
        ExperienceFactory(
            id="exp_bulk_a", situation_tags=["btc", "breakout"], importance_score=Decimal("0.40")
        ),
        ExperienceFactory(id="exp_bulk_b", situation_tags=["eth"], importance_score=Decimal("0.60")),
        ExperienceFactory(id="exp_bulk_c", situation_tags=["btc"], importance_score=Decimal("0.20")),
    ]


def run_action(client, action: str, value: str, ids: list[str]):
    return client.post(
        CHANGELIST, {"action": action, "value": value, "_selected_action": ids, "index": "0"}, follow=True
    )


def test_bulk_set_importance_goes_through_the_memory_service(
    root_client, three, fresh_memory, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(root_client, "set_importance", "0.9", ["exp_bulk_a", "exp_bulk_b"])
    assert "Importance set to 0.9 on 2 experience(s)." in response.content.decode()
    scores = dict(Experience.objects.values_list("id", "importance_score"))
    assert scores["exp_bulk_a"] == scores["exp_bulk_b"] == Decimal("0.90")
    assert scores["exp_bulk_c"] == Decimal("0.20")
    assert memory_payload("exp_bulk_a")["importance_score"] == pytest.approx(0.9)
    assert memory_payload("exp_bulk_c") is None  # not selected, not pushed


def test_bulk_add_and_remove_tag(root_client, three, fresh_memory, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(root_client, "add_tag", " Breakout ", ["exp_bulk_a", "exp_bulk_b"])
    # exp_bulk_a already had the tag: only exp_bulk_b changes.
    assert "Tag “breakout” added to 1 experience(s)." in response.content.decode()
    tags = dict(Experience.objects.values_list("id", "situation_tags"))
    assert tags["exp_bulk_a"] == ["btc", "breakout"]
    assert tags["exp_bulk_b"] == ["eth", "breakout"]
    assert memory_payload("exp_bulk_b")["tags"] == ["eth", "breakout"]

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(root_client, "remove_tag", "btc", ["exp_bulk_a", "exp_bulk_b", "exp_bulk_c"])
    assert "Tag “btc” removed from 2 experience(s)." in response.content.decode()
    tags = dict(Experience.objects.values_list("id", "situation_tags"))
    assert tags["exp_bulk_a"] == ["breakout"] and tags["exp_bulk_c"] == []
    assert tags["exp_bulk_b"] == ["eth", "breakout"]
    assert memory_payload("exp_bulk_c")["tags"] == []


@pytest.mark.parametrize(
    ("action", "value", "message"),
    [
        ("set_importance", "1.5", "Nothing changed: The importance score must be between 0 and 1."),
        ("set_importance", "-0.1", "must be between 0 and 1"),
        ("set_importance", "high", "The importance score must be a number"),
        ("set_importance", "NaN", "The importance score must be a finite number"),
        ("set_importance", "", "The importance score must be a number"),
        ("set_importance", "0.123", "Nothing changed"),
        ("add_tag", "two words", "“two words” is not a tag"),
        ("add_tag", "x" * 60, "is not a tag"),
        ("add_tag", "a, b", "Give exactly one tag in the value box."),
        ("add_tag", "", "Give exactly one tag in the value box."),
        ("remove_tag", "two words", "“two words” is not a tag"),
    ],
)
def test_bulk_action_with_a_bad_value_changes_nothing(root_client, three, action, value, message):
    before = list(Experience.objects.order_by("pk").values())
    outbox = MemoryOutbox.objects.count()
    response = run_action(root_client, action, value, ["exp_bulk_a", "exp_bulk_b"])
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'class="error"' in html  # shown as an error, not a success
    assert list(Experience.objects.order_by("pk").values()) == before
    assert MemoryOutbox.objects.count() == outbox


def test_auditors_get_no_bulk_annotation_actions(client, auditor, three):
    client.force_login(auditor)
    html = client.get(CHANGELIST).content.decode()
    assert 'value="export_as_csv"' in html
    for action in ("set_importance", "add_tag", "remove_tag"):
        assert f'value="{action}"' not in html
    response = run_action(client, "set_importance", "0.9", ["exp_bulk_a"])
    assert Experience.objects.get(pk="exp_bulk_a").importance_score == Decimal("0.40")
    assert "No action selected." in response.content.decode()


def test_operators_annotate(client, operator, world, fresh_memory, django_capture_on_commit_callbacks):
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(world.experience), annotation(lessons_learned="Size down"))
    assert response.status_code == 302
    assert Experience.objects.get(pk=world.experience.pk).lessons_learned == ["Size down"]
    assert memory_payload(world.experience.pk)["lessons_learned"] == ["Size down"]


# --- the change page's panels --------------------------------------------------------------------


def test_change_page_shows_the_decision_orders_trades_and_similar_experiences(
    root_client, world, fresh_memory
):
    experience = world.experience
    # An id with what the admin's URL quoting must escape ("_5F" reads back as "_" unless quoted).
    decision = DecisionFactory(id="DEC_5F2A", thought_process="Funding is negative and the 1h RSI is 27.")
    Experience.objects.filter(pk=experience.pk).update(decision_ref=decision)
    other_order = OrderFactory(exchange=world.exchange, side="sell")
    fill = TradeFactory(order=other_order, amount=Decimal("0.00500000"))
    Experience.objects.filter(pk=experience.pk).update(
        related_orders=[world.order.pk, other_order.pk, "ord_gone_elsewhere"]
    )
    neighbours = [
        ExperienceFactory(
            id=f"exp_similar_{n}",
            situation="BTC price at 45000, RSI oversold on the 1h, funding negative again.",
            outcome="success",
        )
        for n in range(3)
    ]
    long_term.experiences_upsert(Experience.objects.all())

    html = root_client.get(change_url(experience)).content.decode()
    # The decision that led to it, with what the agent was thinking.
    assert "Funding is negative and the 1h RSI is 27." in html
    decision_url = reverse("admin:decisions_decision_change", args=[quote(decision.pk)])
    assert decision_url in html
    decision_page = root_client.get(decision_url)
    assert decision_page.status_code == 200 and decision_page.context["original"] == decision
    # Its orders, each with its fills, and the order the record does not hold.
    for order in (world.order, other_order):
        assert reverse("admin:execution_order_change", args=[quote(order.pk)]) in html
    for trade in (world.trade, world.today_trade, fill):
        assert reverse("admin:execution_trade_change", args=[quote(trade.pk)]) in html
    assert "Not recorded here: ord_gone_elsewhere" in html
    # Similar experiences from long-term memory: score components, each a link, never itself.
    for header in ("<th>score</th>", "<th>similarity</th>", "<th>importance</th>", "<th>recency</th>"):
        assert header in html
    for neighbour in neighbours:
        assert reverse("admin:memory_experience_change", args=[quote(neighbour.pk)]) in html
    panel = html[html.index("<th>recency</th>") :]
    assert f">{experience.pk}</a></td>" not in panel


def test_similar_panel_says_when_long_term_memory_is_empty(root_client, world, fresh_memory):
    html = root_client.get(change_url(world.experience)).content.decode()
    assert "No similar experience in long-term memory yet" in html


# --- browsing ------------------------------------------------------------------------------------


@pytest.fixture
def shelf(world):
    return {
        "rsi": ExperienceFactory(
            id="exp_rsi", situation="ETH bounced off support with RSI divergence", symbol="ETH/USDT",
            situation_tags=["eth", "divergence"], importance_score=Decimal("0.90"), outcome="success",
        ),
        "news": ExperienceFactory(
            id="exp_news", situation="SOL dumped on an exchange outage headline", symbol="SOL/USDT",
            situation_tags=["sol", "news"], importance_score=Decimal("0.30"), outcome="failure",
            reflection="Headlines about outages reverse within hours.",
        ),
    }  # fmt: skip


def listed(client, query: str) -> set[str]:
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=divergence", {"exp_rsi"}),
        ("?q=outages", {"exp_news"}),  # the reflection, stemmed
        ("?q=exp_news", {"exp_news"}),
        ("?q=nothing+like+this", set()),
        ("?outcome__exact=failure", {"exp_news", "exp_000000"}),
        ("?symbol=ETH/USDT", {"exp_rsi"}),
        ("?tag=news", {"exp_news"}),
        ("?importance=high", {"exp_rsi"}),
        ("?importance=low", {"exp_news"}),
        ("?importance=medium", {"exp_000000"}),
    ],
)
def test_browse_by_search_and_filters(root_client, shelf, world, query, expected):
    Experience.objects.filter(pk=world.experience.pk).update(id="exp_000000")
    assert listed(root_client, query) == expected
