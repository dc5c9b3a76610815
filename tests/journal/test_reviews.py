"""Reviews: the queue, the form (operators only), the trail, memory's importance moved, the API for agents."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.journal.models import Review
from apps.journal.services.reviews import review_record
from apps.memory.models import Experience, ImportanceChange
from apps.system_events.models import SystemEvent
from tests.agents.factories import AgentFactory
from tests.backoffice.conftest import PASSWORD
from tests.factories import DecisionFactory, ExperienceFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:journal_review_queue")
ADD = reverse("admin:journal_review_add")


@pytest.fixture
def decision_with_experiences(db):
    decision = DecisionFactory(datetime=timezone.now() - timedelta(days=2))
    experiences = [
        ExperienceFactory(decision_ref=decision, pnl=Decimal("-42.10"), importance_score=Decimal("0.50")),
        ExperienceFactory(decision_ref=decision, pnl=Decimal("-8.00"), importance_score=Decimal("0.95")),
    ]
    return decision, experiences


def importance(experiences) -> list[Decimal]:
    return [Experience.objects.get(pk=e.pk).importance_score for e in experiences]


def test_a_bad_verdict_lowers_the_importance_of_the_decisions_experiences(
    operator, decision_with_experiences
):
    decision, experiences = decision_with_experiences
    outcome = review_record(
        reviewer=operator, decision=decision, verdict="bad", reasoning_score=2, risk_score=1, timing_score=3,
        corrected_decision="Stay flat: funding had already flipped.",
        notes="Chased a breakout into resistance.",
    )  # fmt: skip
    # MEMORY_FEEDBACK_REVIEW_STEP is 0.15: 0.50 -> 0.35, 0.95 -> 0.80.
    assert importance(experiences) == [Decimal("0.35"), Decimal("0.80")]
    assert outcome.created and outcome.importance_changes == 2
    change = ImportanceChange.objects.get(experience=experiences[0])
    assert (change.reason, change.decision_id, change.note) == (
        "operator_review", decision.pk, "Chased a breakout into resistance.",
    )  # fmt: skip
    review = outcome.review
    assert (review.verdict, review.reviewer, review.corrected_decision) == (
        "bad", "olivia", "Stay flat: funding had already flipped.",
    )  # fmt: skip
    # On the operator's record.
    entry = LogEntry.objects.get(object_id=str(review.pk))
    assert entry.action_flag == ADDITION and entry.user == operator
    event = SystemEvent.objects.get(event_type="operator_action")
    assert event.message.startswith(
        f"olivia: reviewed decision {decision.pk}: bad, reasoning 2, risk 1, timing 3"
    )


def test_revising_a_review_does_not_move_importance_twice(operator, decision_with_experiences):
    decision, experiences = decision_with_experiences
    scores = {"reasoning_score": 4, "risk_score": 4, "timing_score": 4}
    review_record(reviewer=operator, decision=decision, verdict="good", **scores)
    assert importance(experiences) == [Decimal("0.65"), Decimal("1.00")]
    outcome = review_record(reviewer=operator, decision=decision, verdict="good", notes="Clean.", **scores)
    assert not outcome.created and outcome.importance_changes == 0
    assert importance(experiences) == [Decimal("0.65"), Decimal("1.00")]
    assert Review.objects.count() == 1 and Review.objects.get().notes == "Clean."
    assert [e.action_flag for e in LogEntry.objects.order_by("pk")] == [ADDITION, CHANGE]


def test_a_mixed_verdict_moves_nothing(operator, decision_with_experiences):
    decision, experiences = decision_with_experiences
    review_record(reviewer=operator, decision=decision, verdict="mixed", reasoning_score=3, risk_score=3,
                  timing_score=2)  # fmt: skip
    assert importance(experiences) == [Decimal("0.50"), Decimal("0.95")]


def test_an_experience_review_moves_that_experience(operator):
    experience = ExperienceFactory(importance_score=Decimal("0.40"))
    review_record(reviewer=operator, experience=experience, verdict="good", reasoning_score=5, risk_score=4,
                  timing_score=4)  # fmt: skip
    assert importance([experience]) == [Decimal("0.55")]


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"verdict": "great"}, "verdict", "The verdict must be one of: good, mixed, bad."),
        ({"risk_score": 6}, "risk_score", "risk_score must be from 1 to 5, not 6."),
        ({"timing_score": "2.5"}, "timing_score", "timing_score must be a whole number from 1 to 5."),
        ({"reasoning_score": None}, "reasoning_score", "reasoning_score must be a whole number from 1 to 5."),
    ],
)
def test_bad_input_names_the_field_and_records_nothing(operator, decision_with_experiences, arguments, field,
                                                       message):  # fmt: skip
    decision, experiences = decision_with_experiences
    fields = {"verdict": "bad", "reasoning_score": 2, "risk_score": 2, "timing_score": 2, **arguments}
    with pytest.raises(ValidationError) as caught:
        review_record(reviewer=operator, decision=decision, **fields)
    assert caught.value.message_dict[field] == [message]
    assert Review.objects.count() == 0 and LogEntry.objects.count() == 0
    assert importance(experiences) == [Decimal("0.50"), Decimal("0.95")]


# --- the admin ---------------------------------------------------------------------------------------


def test_the_queue_lists_unreviewed_decisions_by_size_of_pnl(client, operator, decision_with_experiences):
    decision, _ = decision_with_experiences
    small = DecisionFactory(datetime=timezone.now() - timedelta(days=1))
    ExperienceFactory(decision_ref=small, pnl=Decimal("3.00"))
    reviewed = DecisionFactory(datetime=timezone.now() - timedelta(days=1))
    review_record(reviewer=operator, decision=reviewed, verdict="good", reasoning_score=4, risk_score=4,
                  timing_score=4)  # fmt: skip
    client.force_login(operator)
    response = client.get(QUEUE)
    assert [row.pk for row in response.context["rows"]] == [decision.pk, small.pk]
    html = response.content.decode()
    assert f'href="{ADD}?decision={decision.pk}"' in html
    assert "-50.10" in html  # the two experiences' PnL together


def test_the_queue_by_age_puts_the_oldest_first(client, operator):
    old = DecisionFactory(datetime=timezone.now() - timedelta(days=30))
    new = DecisionFactory(datetime=timezone.now() - timedelta(days=1))
    client.force_login(operator)
    rows = client.get(QUEUE + "?subject=decisions&order=age").context["rows"]
    assert [r.pk for r in rows] == [old.pk, new.pk]


def test_an_operator_reviews_through_the_form(client, operator, decision_with_experiences):
    decision, experiences = decision_with_experiences
    client.force_login(operator)
    page = client.get(f"{ADD}?decision={decision.pk}")
    assert page.status_code == 200 and f'value="{decision.pk}"' in page.content.decode()
    form = {
        "decision": decision.pk, "verdict": "bad", "reasoning_score": "2", "risk_score": "1",
        "timing_score": "3", "corrected_decision": "Wait for the retest.", "notes": "Entered on the wick.",
    }  # fmt: skip
    response = client.post(ADD, form, follow=True)
    assert "the importance of 2 experience(s) moved" in response.content.decode()
    review = Review.objects.get()
    assert (review.decision_id, review.verdict, review.risk_score, review.reviewer) == (
        decision.pk, "bad", 1, "olivia",
    )  # fmt: skip
    assert (
        LogEntry.objects.filter(object_id=str(review.pk)).count() == 1
    )  # once, not by the form and the service
    assert SystemEvent.objects.filter(event_type="operator_action").count() == 1
    assert importance(experiences) == [Decimal("0.35"), Decimal("0.80")]


def test_the_form_refuses_a_review_of_nothing_or_of_both(client, operator, decision_with_experiences):
    decision, experiences = decision_with_experiences
    client.force_login(operator)
    base = {"verdict": "good", "reasoning_score": "4", "risk_score": "4", "timing_score": "4"}
    for subject in ({}, {"decision": decision.pk, "experience": experiences[0].pk}):
        response = client.post(ADD, {**base, **subject})
        assert response.status_code == 200
        assert "Choose one decision or one experience to review (not both)." in response.content.decode()
    response = client.post(ADD, {**base, "decision": decision.pk, "risk_score": "9"})
    assert "Select a valid choice. 9 is not one of the available choices." in response.content.decode()
    assert Review.objects.count() == 0


def test_an_auditor_reads_the_queue_and_reviews_but_cannot_review(client, auditor, operator,
                                                                   decision_with_experiences):  # fmt: skip
    decision, _ = decision_with_experiences
    review = review_record(reviewer=operator, experience=ExperienceFactory(), verdict="good",
                           reasoning_score=4, risk_score=4, timing_score=4).review  # fmt: skip
    client.login(username="aaron", password=PASSWORD)
    queue = client.get(QUEUE)
    assert queue.status_code == 200 and decision.pk in queue.content.decode()
    assert "?decision=" not in queue.content.decode()  # no Review button
    assert client.get(f"{ADD}?decision={decision.pk}").status_code == 403
    form = {"decision": decision.pk, "verdict": "good", "reasoning_score": "4", "risk_score": "4",
            "timing_score": "4"}  # fmt: skip
    assert client.post(ADD, form).status_code == 403
    change = client.get(reverse("admin:journal_review_change", args=[review.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert Review.objects.count() == 1


def test_the_decision_page_shows_its_review_or_offers_one(client, operator, decision_with_experiences):
    decision, _ = decision_with_experiences
    client.force_login(operator)
    url = reverse("admin:decisions_decision_change", args=[decision.pk])
    assert f"{ADD}?decision={decision.pk}" in client.get(url).content.decode()
    review_record(reviewer=operator, decision=decision, verdict="bad", reasoning_score=2, risk_score=1,
                  timing_score=3, notes="Entered on the wick.")  # fmt: skip
    html = client.get(url).content.decode()
    assert "Entered on the wick." in html and "Bad: should not have been done" in html
    assert f"{ADD}?decision={decision.pk}" not in html


# --- the API -------------------------------------------------------------------------------------------


def test_agents_read_reviews_through_the_api(operator, decision_with_experiences):
    decision, experiences = decision_with_experiences
    review_record(reviewer=operator, decision=decision, verdict="bad", reasoning_score=2, risk_score=1,
                  timing_score=3, corrected_decision="Stay flat.")  # fmt: skip
    review_record(reviewer=operator, experience=experiences[1], verdict="good", reasoning_score=4,
                  risk_score=4, timing_score=5)  # fmt: skip
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentFactory(name='btc-swing').token}")
    body = api.get("/api/v1/reviews/", {"decision": decision.pk}).json()
    [review] = body["results"]
    assert {k: review[k] for k in ("decision_id", "experience_id", "verdict", "risk_score",
                                   "corrected_decision", "reviewer")} == {
        "decision_id": decision.pk, "experience_id": None, "verdict": "bad", "risk_score": 1,
        "corrected_decision": "Stay flat.", "reviewer": "olivia",
    }  # fmt: skip
    assert len(api.get("/api/v1/reviews/").json()["results"]) == 2
    assert [r["verdict"] for r in api.get("/api/v1/reviews/", {"verdict": "good"}).json()["results"]] == [
        "good"
    ]
    bad = api.get("/api/v1/reviews/", {"verdict": "great"})
    assert bad.status_code == 400 and "verdict" in bad.json()["details"]
    assert APIClient().get("/api/v1/reviews/").status_code == 401
    assert api.post("/api/v1/reviews/", {"verdict": "good"}).status_code == 405
