"""The review queue: decisions and experiences no operator has reviewed yet, the ones that matter first."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, F, Max, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Abs
from django.utils import timezone

from apps.decisions.models import Decision
from apps.memory.models import Experience

from ..models import Review

# Orders of the queue: the largest result (either sign) first, the most important first, the oldest first.
ORDERS = {
    "pnl": "size of PnL",
    "importance": "importance",
    "age": "age (oldest first)",
}
SUBJECTS = ("decisions", "experiences")
# The queue looks this far back by default, so it stays one index range on a table of millions.
DEFAULT_DAYS = 90


def _ordering(order: str, *, pnl: str, importance: str) -> list:
    if order == "pnl":
        return [F(pnl).desc(nulls_last=True), "-datetime"]
    if order == "importance":
        return [F(importance).desc(nulls_last=True), "-datetime"]
    return ["datetime"]


def review_queue(*, subject: str, order: str = "pnl", days: int = DEFAULT_DAYS, limit: int = 50) -> QuerySet:
    """Unreviewed `subject` ("decisions" or "experiences") of the last `days`, in `order`."""
    if subject not in SUBJECTS:
        raise ValueError(f"subject must be one of {SUBJECTS}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {tuple(ORDERS)}")
    since = timezone.now() - timedelta(days=days)
    if subject == "experiences":
        rows = (
            Experience.objects.filter(datetime__gte=since)
            .filter(~Exists(Review.objects.filter(experience=OuterRef("pk"))))
            .annotate(size=Abs("pnl"))
        )
        return rows.order_by(*_ordering(order, pnl="size", importance="importance_score"))[:limit]
    of_decision = Experience.objects.filter(decision_ref=OuterRef("pk")).order_by().values("decision_ref")
    rows = (
        Decision.objects.filter(datetime__gte=since)
        .filter(~Exists(Review.objects.filter(decision=OuterRef("pk"))))
        .annotate(
            pnl=Subquery(of_decision.annotate(total=Sum("pnl")).values("total")[:1]),
            importance=Subquery(of_decision.annotate(top=Max("importance_score")).values("top")[:1]),
        )
        .annotate(size=Abs("pnl"))
        .only("id", "decision_layer", "decision", "model_used", "datetime")
    )
    return rows.order_by(*_ordering(order, pnl="size", importance="importance"))[:limit]
