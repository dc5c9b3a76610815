"""What the agent's thinking costs: model prices with their history, and each decision priced by them.

The rule (docs/metrics.md, "Inference cost"): a decision costs its tokens at the price of its model in effect
at the decision's time (the latest `model_prices` row with effective_from <= its datetime):

- input and output told apart: input_tokens x input price + output_tokens x output price, per million;
- only tokens_used: priced at a blend, settings.INFERENCE_UNSPLIT_INPUT_SHARE of them at the input price and
  the rest at the output price. The default share, 0, prices every token at the output price, the dearer
  one: an upper bound, so PnL net of inference cost is never flattered by a guess;
- no model, no tokens, or no price in effect: no cost (NULL), and the note says which.

Every figure is rounded once, to 8 places, half away from zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .models import ModelPrice

MILLION = Decimal(1_000_000)
PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class Cost:
    cost: Decimal | None
    note: str


def unsplit_share() -> Decimal:
    share = Decimal(str(settings.INFERENCE_UNSPLIT_INPUT_SHARE))
    if not 0 <= share <= 1:
        raise ValueError(f"INFERENCE_UNSPLIT_INPUT_SHARE must be between 0 and 1 (got {share}).")
    return share


def price_in_effect(*, model: str, at: datetime) -> ModelPrice | None:
    return ModelPrice.objects.filter(model=model, effective_from__lte=at).order_by("-effective_from").first()


def decision_cost(
    *,
    model: str | None,
    at: datetime,
    tokens_used: int | None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    price: ModelPrice | None = None,
) -> Cost:
    if not model:
        return Cost(None, "No model recorded: the tokens cannot be priced.")
    if tokens_used is None and input_tokens is None and output_tokens is None:
        return Cost(None, "No tokens recorded.")
    price = price or price_in_effect(model=model, at=at)
    if price is None:
        return Cost(
            None, f"No price for {model} in effect at {at:%Y-%m-%d %H:%M} UTC: add one (Model prices)."
        )
    if input_tokens is not None and output_tokens is not None:
        cost = (input_tokens * price.input_per_million + output_tokens * price.output_per_million) / MILLION
        note = f"{input_tokens} input and {output_tokens} output tokens at {price}'s prices."
    else:
        tokens = tokens_used if tokens_used is not None else (input_tokens or 0) + (output_tokens or 0)
        share = unsplit_share()
        blended = share * price.input_per_million + (1 - share) * price.output_per_million
        cost = tokens * blended / MILLION
        note = (
            f"{tokens} tokens not told apart: priced {share:.0%} at the input and {1 - share:.0%} at the "
            "output "
            f"price of {price} (INFERENCE_UNSPLIT_INPUT_SHARE)."
        )
    return Cost(cost.quantize(PLACES, rounding=ROUND_HALF_UP), note)


REPRICE_SQL = """
UPDATE decisions d SET
    inference_cost = ROUND(CASE
        WHEN d.input_tokens IS NOT NULL AND d.output_tokens IS NOT NULL
            THEN (d.input_tokens * p.input_per_million + d.output_tokens * p.output_per_million) / 1000000
        ELSE COALESCE(d.tokens_used, COALESCE(d.input_tokens, 0) + COALESCE(d.output_tokens, 0))
             * (%(share)s * p.input_per_million + (1 - %(share)s) * p.output_per_million) / 1000000
    END, 8),
    inference_cost_note = CASE
        WHEN d.input_tokens IS NOT NULL AND d.output_tokens IS NOT NULL
            THEN d.input_tokens || ' input and ' || d.output_tokens || ' output tokens at ' || p.model
                 || ' from ' || to_char(p.effective_from AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                 || ' UTC''s prices.'
        ELSE COALESCE(d.tokens_used, COALESCE(d.input_tokens, 0) + COALESCE(d.output_tokens, 0))
             || ' tokens not told apart: priced ' || %(share_in)s || ' at the input and ' || %(share_out)s
             || ' at the output price of ' || p.model || ' from '
             || to_char(p.effective_from AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
             || ' UTC (INFERENCE_UNSPLIT_INPUT_SHARE).'
    END
FROM (
    SELECT id, model, input_per_million, output_per_million, effective_from,
           lead(effective_from) OVER (PARTITION BY model ORDER BY effective_from) AS until
    FROM model_prices
) p
WHERE d.model_used = p.model
  AND d.datetime >= p.effective_from AND (p.until IS NULL OR d.datetime < p.until)
  AND (d.tokens_used IS NOT NULL OR d.input_tokens IS NOT NULL OR d.output_tokens IS NOT NULL)
  AND (%(model)s::text IS NULL OR d.model_used = %(model)s::text)
  AND d.datetime >= %(since)s
"""

UNPRICED_SQL = """
UPDATE decisions d SET inference_cost = NULL,
    inference_cost_note = 'No price for ' || d.model_used || ' in effect at '
        || to_char(d.datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC: add one (Model prices).'
WHERE d.model_used IS NOT NULL
  AND (d.tokens_used IS NOT NULL OR d.input_tokens IS NOT NULL OR d.output_tokens IS NOT NULL)
  AND NOT EXISTS (
      SELECT 1 FROM model_prices p WHERE p.model = d.model_used AND p.effective_from <= d.datetime
  )
  AND (%(model)s::text IS NULL OR d.model_used = %(model)s::text)
  AND d.datetime >= %(since)s
"""


def decisions_reprice(*, model: str | None = None, since: datetime | None = None) -> int:
    """Price again every decision (of one model, from a moment on) by the prices in effect: after a price is
    added, or INFERENCE_UNSPLIT_INPUT_SHARE changed. One statement; returns how many decisions it priced."""
    share = unsplit_share()
    parameters = {
        "share": share,
        "share_in": f"{share:.0%}",
        "share_out": f"{1 - share:.0%}",
        "model": model,
        "since": since or datetime(1970, 1, 1, tzinfo=UTC),
    }
    with connection.cursor() as cursor:
        cursor.execute(REPRICE_SQL, parameters)
        priced = cursor.rowcount
        cursor.execute(UNPRICED_SQL, parameters)
    return priced


@transaction.atomic
def model_price_add(
    *,
    model: str,
    input_per_million: Decimal,
    output_per_million: Decimal,
    effective_from: datetime | None = None,
    recorded_by: str = "",
    note: str = "",
) -> tuple[ModelPrice, int]:
    """Add a price for `model` from `effective_from` (default now) and price again the decisions it covers.
    Returns the row and how many decisions were priced."""
    model = (model or "").strip()
    effective_from = effective_from or timezone.now()
    errors = {}
    if not model:
        errors["model"] = "Name the model, as decisions record it in model_used."
    for name, value in (("input_per_million", input_per_million), ("output_per_million", output_per_million)):
        if value is None or Decimal(value) < 0:
            errors[name] = f"A price must be zero or more (got {value})."
    if not errors and ModelPrice.objects.filter(model=model, effective_from=effective_from).exists():
        errors["effective_from"] = f"{model} already has a price from {effective_from:%Y-%m-%d %H:%M:%S} UTC."
    if errors:
        raise ValidationError(errors)
    price = ModelPrice.objects.create(
        model=model,
        input_per_million=Decimal(input_per_million).quantize(PLACES),
        output_per_million=Decimal(output_per_million).quantize(PLACES),
        currency=settings.REPORTING_CURRENCY,
        effective_from=effective_from,
        recorded_by=recorded_by,
        note=note,
    )
    return price, decisions_reprice(model=model, since=effective_from)
