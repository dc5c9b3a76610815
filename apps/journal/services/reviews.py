"""Reviews: an operator's verdict on a decision or an experience, fed back to memory's importance.

A good verdict counts as a win and a bad one as a loss for memory's feedback rule
(apps/memory/services/feedback.py, reason "operator_review"): the experiences that came from the
reviewed decision (or the reviewed experience itself) move up or down; a mixed verdict moves nothing.
Feedback is once per decision and reason, so a review edited later does not move importance twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.decisions.models import Decision
from apps.memory.models import Experience
from apps.memory.services.feedback import experience_importance_feedback
from apps.system_events.audit import operator_action_record

from ..models import SCORE_RANGE, Review, Verdict

SCORES = ("reasoning_score", "risk_score", "timing_score")
WON = {Verdict.GOOD: True, Verdict.BAD: False, Verdict.MIXED: None}


@dataclass(frozen=True)
class ReviewOutcome:
    review: Review
    created: bool
    importance_changes: int  # how many experiences' importance moved


def _clean(*, verdict: Any, scores: dict[str, Any], corrected_decision: Any, notes: Any) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if verdict not in Verdict.values:
        errors["verdict"] = f"The verdict must be one of: {', '.join(Verdict.values)}."
    clean: dict[str, Any] = {"verdict": verdict}
    for name in SCORES:
        value = scores.get(name)
        try:
            number = int(value)
            if isinstance(value, bool) or str(number) != str(value).strip():
                raise ValueError
        except (TypeError, ValueError):
            errors[name] = f"{name} must be a whole number from 1 to 5."
            continue
        if not SCORE_RANGE[0] <= number <= SCORE_RANGE[1]:
            errors[name] = f"{name} must be from 1 to 5, not {number}."
        clean[name] = number
    for name, value in (("corrected_decision", corrected_decision), ("notes", notes)):
        if value is not None and not isinstance(value, str):
            errors[name] = f"{name} must be text."
        clean[name] = (value or "").strip()
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def review_record(
    *,
    reviewer,
    verdict: str,
    reasoning_score: Any,
    risk_score: Any,
    timing_score: Any,
    decision: Decision | None = None,
    experience: Experience | None = None,
    corrected_decision: str = "",
    notes: str = "",
) -> ReviewOutcome:
    """Record (or revise) the review of `decision` or of `experience`, put it on the operator's record and
    feed it to memory. `reviewer` is the operator (a user)."""
    if (decision is None) == (experience is None):
        raise ValidationError({"decision": "Review one decision or one experience."})
    fields = _clean(
        verdict=verdict,
        scores={"reasoning_score": reasoning_score, "risk_score": risk_score, "timing_score": timing_score},
        corrected_decision=corrected_decision,
        notes=notes,
    )
    subject = {"decision": decision} if decision is not None else {"experience": experience}
    review = Review.objects.select_for_update().filter(**subject).first()
    created = review is None
    if created:
        review = Review(**subject, reviewer=reviewer.get_username(), **fields)
        review.save(force_insert=True)
        review.refresh_from_db()
    else:
        for name, value in fields.items():
            setattr(review, name, value)
        review.reviewer = reviewer.get_username()
        review.updated_at = timezone.now()
        review.save()
    changes = _feed_back(review=review, decision=decision, experience=experience)
    what = f"decision {decision.pk}" if decision is not None else f"experience {experience.pk}"
    operator_action_record(
        user=reviewer,
        action="review_record" if created else "review_revise",
        message=f"{'reviewed' if created else 'revised the review of'} {what}: {review.verdict}, "
        f"reasoning {review.reasoning_score}, risk {review.risk_score}, timing {review.timing_score}",
        objects=[review],
        kind="add" if created else "change",
        data={"verdict": review.verdict, "importance_changes": changes},
    )
    return ReviewOutcome(review=review, created=created, importance_changes=changes)


def _feed_back(*, review: Review, decision: Decision | None, experience: Experience | None) -> int:
    won = WON[Verdict(review.verdict)]
    if won is None:
        return 0
    if decision is not None:
        experiences = list(decision.experiences.order_by("datetime", "pk"))
    else:
        experiences, decision = [experience], experience.decision_ref
    note = review.notes or f"Operator review by {review.reviewer}: {review.verdict}."
    changed = 0
    for item in experiences:
        change = experience_importance_feedback(
            experience=item, won=won, reason="operator_review", decision=decision, note=note
        )
        changed += change is not None
    return changed
