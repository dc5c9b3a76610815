"""Recording the agent's decisions: what it saw, how it reasoned, what it chose, what it cost."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.common.clock import from_ms, now_ms

from .costs import decision_cost
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
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    latency_ms: int | None = None,
    timestamp: int | None = None,
) -> Decision:
    """Record one decision, priced by its model's price in effect (apps/decisions/costs.py). Without an id one
    is made (`dec_<uuid>`); an id already used is a conflict. With input and output tokens told apart,
    tokens_used is their sum (and must be, when given too)."""
    for name, value in (("tokens_used", tokens_used), ("input_tokens", input_tokens),
                        ("output_tokens", output_tokens)):  # fmt: skip
        if value is not None and value < 0:
            raise ValidationError({name: "Must not be negative."})
    if input_tokens is not None and output_tokens is not None:
        if tokens_used is not None and tokens_used != input_tokens + output_tokens:
            raise ValidationError(
                {"tokens_used": f"{tokens_used} is not input_tokens + output_tokens "
                 f"({input_tokens} + {output_tokens}); send the two, or all three agreeing."}
            )  # fmt: skip
        tokens_used = input_tokens + output_tokens
    if latency_ms is not None and latency_ms < 0:
        raise ValidationError({"latency_ms": "Must not be negative."})
    timestamp = timestamp if timestamp is not None else now_ms()
    moment = from_ms(timestamp)
    cost = decision_cost(
        model=model_used, at=moment, tokens_used=tokens_used, input_tokens=input_tokens,
        output_tokens=output_tokens,
    )  # fmt: skip
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
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        inference_cost=cost.cost,
        inference_cost_note=cost.note,
        latency_ms=latency_ms,
        timestamp=timestamp,
        datetime=moment,
    )
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        raise DecisionConflict(f"A decision with id {record.id!r} is already recorded.") from None
    return record
