"""Outcomes fed back to memory: a decision's result moves the importance of what it recalled.

The rule (docs/memory.md, "Feedback"): when a decision that recalled experiences ends, each
experience it recalled at rank r moves by

    delta = sign * step / r, rounded to 0.01 (at least 0.01), the result kept within 0..1

sign is +1 for a gain and -1 for a loss (0 for a result of exactly 0: nothing moves); step is
MEMORY_FEEDBACK_STEP (0.10) for a realized PnL and MEMORY_FEEDBACK_REVIEW_STEP (0.15) for an
operator's review, which knows more than a number. The best hit moves most and the tenth a
tenth of it: a memory that ranked low was barely used. Each move is one row of
experience_importance_changes (old, new, why, when, the decision, the rank, the result), written
in the transaction of the change; a decision's outcome moves each experience once per reason,
however often it is fed back. Nothing moves silently: importance changes here, or by an
operator's own edit, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum

from apps.decisions.models import Decision
from apps.execution.models import Order, Position

from ..models import Experience, ImportanceChange, ImportanceReason, MemoryRecallHit
from .experiences import experience_update

CENT = Decimal("0.01")
MAX_RANK_WEIGHED = 10


def feedback_delta(*, won: bool | None, rank: int | None, reason: str) -> Decimal:
    """The rule: +-step / rank to two decimals (at least 0.01); 0 for a break-even result."""
    if won is None:
        return Decimal(0)
    step = Decimal(
        str(
            settings.MEMORY_FEEDBACK_REVIEW_STEP
            if reason == ImportanceReason.OPERATOR_REVIEW
            else settings.MEMORY_FEEDBACK_STEP
        )
    )
    rank = max(1, min(int(rank or 1), MAX_RANK_WEIGHED))
    size = max(CENT, (step / rank).quantize(CENT, rounding=ROUND_HALF_UP))
    return size if won else -size


@transaction.atomic
def experience_importance_feedback(
    *,
    experience: Experience,
    won: bool | None,
    reason: ImportanceReason | str,
    decision: Decision | None = None,
    rank: int | None = None,
    result: Decimal | None = None,
    note: str = "",
) -> ImportanceChange | None:
    """Move one experience's importance by the feedback rule and record why.

    `won`: True for a good outcome, False for a bad one, None for neither (nothing moves).
    `reason`: "realized_pnl" (the decision's positions closed) or "operator_review" (an operator
    judged the decision; the review screen calls this with won=True/False and its note).
    `rank`: the experience's rank in the decision's recall (1 when not known). Returns the change
    recorded, or None when nothing moved (break-even, already at the bound, or this decision's
    outcome was already fed back for this reason).
    """
    if reason not in ImportanceReason.values:
        raise ValidationError({"reason": f"The reason must be one of: {', '.join(ImportanceReason.values)}."})
    if won not in (True, False, None):
        raise ValidationError({"won": "won must be true, false or null."})
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
        raise ValidationError({"rank": "The rank must be a whole number from 1."})
    current = Experience.objects.select_for_update().filter(pk=experience.pk).first()
    if current is None:
        raise ValidationError({"experience": f"No experience with id {experience.pk!r}."})
    if (
        decision is not None
        and ImportanceChange.objects.filter(experience=current, decision=decision, reason=reason).exists()
    ):
        return None
    delta = feedback_delta(won=won, rank=rank, reason=reason)
    old = current.importance_score
    base = Decimal("0.50") if old is None else old
    new = min(Decimal(1), max(Decimal(0), base + delta)).quantize(CENT)
    if delta == 0 or new == old:
        return None
    experience_update(experience=current, importance_score=new)
    return ImportanceChange.objects.create(
        experience=current,
        decision=decision,
        reason=reason,
        old_importance=old,
        new_importance=new,
        rank=rank,
        result=result,
        note=note,
    )


# --- decisions that ended --------------------------------------------------------------------------


def _positions_of(decision_id: str):
    """The positions holding the decision's orders: same exchange and symbol, the order placed
    within the position's life."""
    orders = Order.objects.filter(
        decision_id=decision_id,
        exchange_id=OuterRef("exchange_id"),
        symbol=OuterRef("symbol"),
        datetime__gte=OuterRef("opened_at"),
    )
    return Position.objects.filter(Exists(orders)).filter(
        Q(closed_at__isnull=True) | Exists(orders.filter(datetime__lte=OuterRef("closed_at")))
    )


def decision_result(decision: Decision) -> tuple[bool, Decimal | None]:
    """(ended, realized PnL): a decision has ended when it placed orders and every position holding
    them is closed with its realized PnL computed; its result is their sum. A position shared with
    other decisions counts whole for each (the record does not split a position's PnL by order)."""
    if not Order.objects.filter(decision_id=decision.pk).exists():
        return False, None
    positions = list(_positions_of(decision.pk).values("is_open", "realized_pnl"))
    if not positions or any(p["is_open"] or p["realized_pnl"] is None for p in positions):
        return False, None
    return True, sum((p["realized_pnl"] for p in positions), Decimal(0))


@dataclass
class FeedbackReport:
    decisions: int = 0  # decisions examined
    ended: int = 0
    changes: int = 0


def decision_outcome_feedback(*, decision: Decision) -> list[ImportanceChange]:
    """Feed an ended decision's realized PnL back to every experience it recalled (best rank of each)."""
    ended, result = decision_result(decision)
    if not ended:
        return []
    won = None if result == 0 else result > 0
    best: dict[str, int] = {}
    for experience_id, rank in MemoryRecallHit.objects.filter(recall__decision=decision).values_list(
        "experience_id", "rank"
    ):
        best[experience_id] = min(rank, best.get(experience_id, rank))
    changes = []
    for experience in Experience.objects.filter(pk__in=best).order_by("pk"):
        change = experience_importance_feedback(
            experience=experience,
            won=won,
            reason=ImportanceReason.REALIZED_PNL,
            decision=decision,
            rank=best[experience.pk],
            result=result,
            note=f"Decision {decision.pk} ended with a realized PnL of {result}.",
        )
        if change is not None:
            changes.append(change)
    return changes


def decisions_outcome_feedback(*, progress=None) -> FeedbackReport:
    """Every decision with kept recalls whose outcome has not been fed back yet (the cron's)."""
    fed = ImportanceChange.objects.filter(decision=OuterRef("pk"), reason=ImportanceReason.REALIZED_PNL)
    decisions: Iterable = (
        Decision.objects.filter(memory_recalls__hits__isnull=False)
        .filter(~Exists(fed))
        .distinct()
        .order_by("pk")
    )
    report = FeedbackReport()
    if progress is not None:
        decisions = progress(list(decisions))
    for decision in decisions:
        report.decisions += 1
        changes = decision_outcome_feedback(decision=decision)
        if changes or decision_result(decision)[0]:
            report.ended += 1
        report.changes += len(changes)
    return report


# --- suspects --------------------------------------------------------------------------------------


def suspect_experiences(*, limit: int = 50):
    """Experiences recalled into losing decisions, the most losses first: each carries
    `losing_decisions` and `lost` (the sum of those decisions' realized PnL, negative)."""
    losses = ImportanceChange.objects.filter(reason=ImportanceReason.REALIZED_PNL, result__lt=0)
    return (
        Experience.objects.filter(importance_changes__in=losses)
        .annotate(
            losing_decisions=Count("importance_changes", filter=Q(importance_changes__in=losses)),
            lost=Sum("importance_changes__result", filter=Q(importance_changes__in=losses)),
        )
        .order_by("-losing_decisions", "lost", "pk")[:limit]
    )
