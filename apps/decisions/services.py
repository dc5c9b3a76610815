"""Recording the agent's decisions: what it saw, how it reasoned, what it chose, what it cost."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.common.clock import from_ms, now_ms

from .models import Decision, DecisionLayer


class DecisionConflict(Exception):
    """A decision with this id is already recorded."""

    def __init__(self, message: str, *, field: str | None = "id") -> None:
        super().__init__(message)
        self.field = field


@transaction.atomic
def decision_record(
    *,
    decision_layer: DecisionLayer | str,
    input_context: Any,
    thought_process: str,
    decision: str,
    decision_id: str | None = None,
    tools_used: list[str] | None = None,
    action_taken: str | None = None,
    model_used: str | None = None,
    tokens_used: int | None = None,
    latency_ms: int | None = None,
    timestamp: int | None = None,
) -> Decision:
    """Record one decision. Without an id one is made (`dec_<uuid>`); an id already used is a conflict."""
    if tokens_used is not None and tokens_used < 0:
        raise ValidationError({"tokens_used": "Must not be negative."})
    if latency_ms is not None and latency_ms < 0:
        raise ValidationError({"latency_ms": "Must not be negative."})
    timestamp = timestamp if timestamp is not None else now_ms()
    record = Decision(
        id=decision_id or f"dec_{uuid.uuid4().hex}",
        decision_layer=DecisionLayer(decision_layer),
        input_context=input_context,
        thought_process=thought_process,
        tools_used=tools_used,
        decision=decision,
        action_taken=action_taken,
        model_used=model_used,
        tokens_used=tokens_used,
        latency_ms=latency_ms,
        timestamp=timestamp,
        datetime=from_ms(timestamp),
    )
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        raise DecisionConflict(f"A decision with id {record.id!r} is already recorded.") from None
    return record
