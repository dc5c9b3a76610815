"""Outcomes fed back: the rule, its history, decisions that ended with a realized PnL, suspects."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.memory.models import Experience, ImportanceChange, ImportanceReason, MemoryOutbox
from apps.memory.services import long_term
from apps.memory.services.feedback import (
    decision_result,
    decisions_outcome_feedback,
    experience_importance_feedback,
    feedback_delta,
    suspect_experiences,
)
from apps.memory.services.recall import memory_recall
from tests.factories import DecisionFactory, ExchangeFactory, ExperienceFactory, OrderFactory, PositionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("rank", "reason", "won", "delta"),
    [
        (1, "realized_pnl", True, "0.10"),
        (2, "realized_pnl", True, "0.05"),
        (3, "realized_pnl", False, "-0.03"),
        (10, "realized_pnl", True, "0.01"),
        (40, "realized_pnl", True, "0.01"),
        (1, "operator_review", False, "-0.15"),
        (2, "operator_review", True, "0.08"),
        (1, "realized_pnl", None, "0"),
    ],
)
def test_the_rule(rank, reason, won, delta):
    assert feedback_delta(won=won, rank=rank, reason=reason) == Decimal(delta)


def test_a_review_moves_importance_and_records_old_new_why_and_when():
    experience = ExperienceFactory(importance_score=Decimal("0.50"))
    decision = DecisionFactory()

    change = experience_importance_feedback(
        experience=experience,
        won=False,
        reason=ImportanceReason.OPERATOR_REVIEW,
        decision=decision,
        rank=1,
        note="Entered against the trend.",
    )

    experience.refresh_from_db()
    assert experience.importance_score == Decimal("0.35")
    assert (change.old_importance, change.new_importance) == (Decimal("0.50"), Decimal("0.35"))
    assert change.reason == "operator_review" and change.note == "Entered against the trend."
    assert change.created_at is not None or ImportanceChange.objects.get(pk=change.pk).created_at
    # Long-term memory follows the new importance through the outbox.
    assert MemoryOutbox.objects.filter(experience_id=experience.pk).exists()
    # The same decision's review moves it once.
    assert (
        experience_importance_feedback(
            experience=experience, won=False, reason="operator_review", decision=decision, rank=1
        )
        is None
    )
    assert ImportanceChange.objects.count() == 1


def test_importance_stays_within_0_and_1():
    experience = ExperienceFactory(importance_score=Decimal("0.95"))

    experience_importance_feedback(experience=experience, won=True, reason="operator_review", rank=1)
    experience.refresh_from_db()
    assert experience.importance_score == Decimal("1.00")
    assert experience_importance_feedback(experience=experience, won=True, reason="operator_review") is None


def test_bad_input_changes_nothing():
    experience = ExperienceFactory(importance_score=Decimal("0.50"))

    with pytest.raises(ValidationError, match="reason"):
        experience_importance_feedback(experience=experience, won=True, reason="gut_feeling")
    with pytest.raises(ValidationError, match="rank"):
        experience_importance_feedback(experience=experience, won=True, reason="operator_review", rank=0)

    experience.refresh_from_db()
    assert experience.importance_score == Decimal("0.50")
    assert not ImportanceChange.objects.exists()


def _decision_with_position(*, realized_pnl, is_open=False):
    decision = DecisionFactory()
    exchange = ExchangeFactory()
    opened = datetime(2026, 3, 1, tzinfo=UTC)
    PositionFactory(
        exchange=exchange,
        symbol="BTC/USDT",
        opened_at=opened,
        is_open=is_open,
        closed_at=None if is_open else opened + timedelta(days=1),
        realized_pnl=realized_pnl,
    )
    OrderFactory(
        exchange=exchange, symbol="BTC/USDT", decision_id=decision.pk, datetime=opened + timedelta(hours=1)
    )
    return decision


@pytest.fixture
def recalled():
    ExperienceFactory(id="exp_a", situation="BTC oversold bounce", importance_score=Decimal("0.50"))
    ExperienceFactory(id="exp_b", situation="BTC oversold after a drop", importance_score=Decimal("0.50"))
    long_term.experiences_upsert(Experience.objects.all())


def test_a_losing_decision_lowers_what_it_recalled_by_rank_once(recalled):
    decision = _decision_with_position(realized_pnl=Decimal("-120.5"))
    hits = memory_recall(text="BTC oversold bounce", limit=2, decision_id=decision.pk)
    first, second = (hit.experience_id for hit in hits)

    report = decisions_outcome_feedback()

    assert (report.decisions, report.ended, report.changes) == (1, 1, 2)
    assert Experience.objects.get(pk=first).importance_score == Decimal("0.40")
    assert Experience.objects.get(pk=second).importance_score == Decimal("0.45")
    change = ImportanceChange.objects.get(experience_id=first)
    assert change.reason == "realized_pnl" and change.result == Decimal("-120.5") and change.rank == 1
    assert [e.pk for e in suspect_experiences()] == sorted([first, second])
    assert suspect_experiences()[0].losing_decisions == 1
    # Fed back once: a second run finds nothing left to do.
    assert decisions_outcome_feedback().changes == 0


def test_a_decision_still_open_has_not_ended(recalled):
    decision = _decision_with_position(realized_pnl=None, is_open=True)
    memory_recall(text="BTC oversold bounce", limit=2, decision_id=decision.pk)

    assert decision_result(decision) == (False, None)
    assert decisions_outcome_feedback().changes == 0
    assert set(Experience.objects.values_list("importance_score", flat=True)) == {Decimal("0.50")}


def test_a_winning_decision_raises_what_it_recalled(recalled):
    decision = _decision_with_position(realized_pnl=Decimal("80"))
    memory_recall(text="BTC oversold bounce", limit=1, decision_id=decision.pk)

    decisions_outcome_feedback()

    assert sorted(Experience.objects.values_list("importance_score", flat=True)) == [
        Decimal("0.50"),
        Decimal("0.60"),
    ]
    assert not suspect_experiences()
