"""Reads of the decisions: what their inference cost, per UTC day and model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection

COSTS_SQL = """
SELECT (datetime AT TIME ZONE 'UTC')::date AS day, COALESCE(model_used, ''), count(*),
       COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0), COALESCE(sum(tokens_used), 0),
       COALESCE(sum(inference_cost), 0), count(*) FILTER (WHERE inference_cost IS NULL)
FROM decisions
WHERE datetime >= %(since)s AND datetime < %(until)s
GROUP BY 1, 2
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class DayModelCost:
    day: date
    model: str  # "" when the decision names none
    decisions: int
    input_tokens: int
    output_tokens: int
    tokens: int
    cost: Decimal
    unpriced: int  # decisions without a cost (no model, no tokens or no price in effect)


def inference_cost_by_day_and_model(*, since: datetime, until: datetime) -> list[DayModelCost]:
    """One aggregate over decisions with since <= datetime < until (idx_decisions_datetime)."""
    with connection.cursor() as cursor:
        cursor.execute(COSTS_SQL, {"since": since, "until": until})
        return [DayModelCost(*row) for row in cursor.fetchall()]


COUNTS = ("decisions", "input_tokens", "output_tokens", "tokens", "unpriced")


def by_model(rows: list[DayModelCost]) -> list[dict]:
    """The rows summed per model, the dearest first."""
    models: dict[str, dict] = {}
    for row in rows:
        name = row.model or "(none)"
        entry = models.setdefault(name, {"model": name, "cost": Decimal(0), **dict.fromkeys(COUNTS, 0)})
        for field in (*COUNTS, "cost"):
            entry[field] += getattr(row, field)
    return sorted(models.values(), key=lambda e: -e["cost"])


def by_day(rows: list[DayModelCost]) -> dict[date, Decimal]:
    days: dict[date, Decimal] = {}
    for row in rows:
        days[row.day] = days.get(row.day, Decimal(0)) + row.cost
    return days
