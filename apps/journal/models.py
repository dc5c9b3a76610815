"""The operator's journal: reviews of decisions and experiences, the price path kept for each closed
position (OHLCV candles), and the position's R-multiple and excursions computed from it."""

from functools import partial

from django.db import models

from apps.common.fields import CurrentTimestamp, Money, Ratio, choices_check

from . import rollups
from .rollups import DECISIONS, EXPERIENCE_TAGS, EXPERIENCES, POSITIONS, TRADES


class Verdict(models.TextChoices):
    GOOD = "good", "Good: do it again"
    MIXED = "mixed", "Mixed: right idea, wrong execution (or the reverse)"
    BAD = "bad", "Bad: should not have been done"


SCORE_RANGE = (1, 5)


class Review(models.Model):
    """An operator's judgement of one decision or one experience (never both), once per subject."""

    id = models.BigAutoField(
        primary_key=True,
    )
    decision = models.ForeignKey(
        "decisions.Decision",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reviews",
    )
    experience = models.ForeignKey(
        "memory.Experience",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reviews",
    )
    verdict = models.CharField(
        max_length=10,
        choices=Verdict.choices,
    )
    reasoning_score = models.PositiveSmallIntegerField(
        help_text="1 (unsound) to 5 (sound): was the thinking right for what it saw?",
    )
    risk_score = models.PositiveSmallIntegerField(
        help_text="1 to 5: size, stop and exposure against the plan.",
    )
    timing_score = models.PositiveSmallIntegerField(
        help_text="1 to 5: entry and exit against the move.",
    )
    corrected_decision = models.TextField(
        blank=True,
        default="",
        help_text="What it should have done.",
    )
    notes = models.TextField(
        blank=True,
        default="",
    )
    reviewer = models.CharField(
        max_length=150,
        help_text="The operator's username.",
    )
    reviewed_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
        editable=False,
    )
    updated_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
    )

    class Meta:
        db_table = "reviews"
        ordering = ["-reviewed_at", "-id"]
        constraints = [
            choices_check("verdict", Verdict, table="reviews"),
            models.CheckConstraint(
                condition=models.Q(decision__isnull=False, experience__isnull=True)
                | models.Q(decision__isnull=True, experience__isnull=False),
                name="reviews_one_subject",
                violation_error_message="A review is of one decision or of one experience.",
            ),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{score}__gte": SCORE_RANGE[0], f"{score}__lte": SCORE_RANGE[1]}),
                    name=f"reviews_{score}_range",
                    violation_error_message=f"{score} must be from 1 to 5.",
                )
                for score in ("reasoning_score", "risk_score", "timing_score")
            ),
            models.UniqueConstraint(
                fields=["decision"], condition=models.Q(decision__isnull=False), name="reviews_decision_once"
            ),
            models.UniqueConstraint(
                fields=["experience"],
                condition=models.Q(experience__isnull=False),
                name="reviews_experience_once",
            ),
        ]
        indexes = [
            models.Index(fields=["-reviewed_at"], name="idx_reviews_reviewed_at"),
        ]

    def __str__(self) -> str:
        subject = f"decision {self.decision_id}" if self.decision_id else f"experience {self.experience_id}"
        return f"{self.verdict} review of {subject}"


class Candle(models.Model):
    """One OHLCV bar as the exchange reported it (ccxt's fetch_ohlcv), kept to recompute excursions."""

    id = models.BigAutoField(
        primary_key=True,
    )
    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.CASCADE,
        db_index=False,
        related_name="+",
    )
    symbol = models.CharField(
        max_length=20,
    )
    timeframe = models.CharField(
        max_length=5,
    )
    open_time = models.DateTimeField()
    open = Money()
    high = Money()
    low = Money()
    close = Money()
    volume = Money()

    class Meta:
        db_table = "ohlcv_candles"
        ordering = ["exchange", "symbol", "timeframe", "open_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "symbol", "timeframe", "open_time"], name="ohlcv_candles_bar_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe} {self.open_time:%Y-%m-%d %H:%M} UTC"


class PositionExcursion(models.Model):
    """A closed position's planned risk and its path: R-multiple, MAE and MFE (docs/operators.md).

    R: the realized PnL over the planned risk, |entry - stop| x amount, the stop being the opening order's
    stop_loss_price. MAE/MFE: the worst and best price against the entry while it was open, per unit and
    in R; NULL with `note` saying why when the path or the stop is unknown.
    """

    position = models.OneToOneField(
        "execution.Position",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="excursion",
    )
    entry_order_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
    )
    stop_loss_price = Money(
        null=True,
        blank=True,
    )
    risk_amount = Money(
        null=True,
        blank=True,
        help_text="|entry - stop| x amount, in the quote currency: 1 R.",
    )
    r_multiple = Ratio(
        null=True,
        blank=True,
    )
    mae = Money(
        null=True,
        blank=True,
        help_text="Maximum adverse excursion per unit, in the quote currency (>= 0).",
    )
    mfe = Money(
        null=True,
        blank=True,
        help_text="Maximum favourable excursion per unit, in the quote currency (>= 0).",
    )
    mae_r = Ratio(
        null=True,
        blank=True,
    )
    mfe_r = Ratio(
        null=True,
        blank=True,
    )
    timeframe = models.CharField(
        max_length=5,
        blank=True,
        default="",
    )
    candles = models.IntegerField(
        default=0,
    )
    note = models.TextField(
        blank=True,
        default="",
    )
    computed_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
    )

    class Meta:
        db_table = "position_excursions"
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"excursion of position {self.position_id}"


# --- daily roll-ups behind the changelists' figures (apps/journal/rollups.py keeps them) -------------------

RollupSum = partial(models.DecimalField, max_digits=38, decimal_places=8, default=0)


def _count() -> models.BigIntegerField:
    return models.BigIntegerField(default=0)


def rollup_key(spec: rollups.RollupSpec) -> models.UniqueConstraint:
    """The roll-up's key, which its triggers' upserts name: its dimensions, NULLs equal."""
    return models.UniqueConstraint(
        fields=[name for name, _ in spec.dimensions], nulls_distinct=False, name=f"{spec.table}_key"
    )


class Rollup(models.Model):
    """Sums per UTC day and the columns a changelist filters on; written by the database's triggers only."""

    day = models.DateField(null=True)
    rows = _count()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.db_table} {self.day}: {self.rows} rows"


class _PnlSums(models.Model):
    with_pnl = _count()
    wins = _count()
    losses = _count()
    pnl = RollupSum()
    gross_profit = RollupSum()
    gross_loss = RollupSum()

    class Meta:
        abstract = True


class ExperienceDayRollup(Rollup, _PnlSums):
    symbol = models.TextField(null=True)
    outcome = models.TextField(null=True)

    class Meta:
        db_table = EXPERIENCES.table
        constraints = [rollup_key(EXPERIENCES)]


class ExperienceTagDayRollup(Rollup, _PnlSums):
    tag = models.TextField(null=True)
    symbol = models.TextField(null=True)
    outcome = models.TextField(null=True)

    class Meta:
        db_table = EXPERIENCE_TAGS.table
        constraints = [rollup_key(EXPERIENCE_TAGS)]


class PositionDayRollup(Rollup, _PnlSums):
    exchange_id = models.BigIntegerField(null=True)
    symbol = models.TextField(null=True)
    side = models.TextField(null=True)
    is_open = models.BooleanField(null=True)
    fees = RollupSum()
    with_fees = _count()

    class Meta:
        db_table = POSITIONS.table
        constraints = [rollup_key(POSITIONS)]


class TradeDayRollup(Rollup):
    exchange_id = models.BigIntegerField(null=True)
    symbol = models.TextField(null=True)
    side = models.TextField(null=True)
    fee_currency = models.TextField(null=True)
    volume = RollupSum()
    with_volume = _count()
    fees = RollupSum()
    with_fees = _count()

    class Meta:
        db_table = TRADES.table
        constraints = [rollup_key(TRADES)]


class DecisionDayRollup(Rollup):
    decision_layer = models.TextField(null=True)
    model_used = models.TextField(null=True)
    tokens = _count()
    with_tokens = _count()
    input_tokens = _count()
    with_input_tokens = _count()
    output_tokens = _count()
    with_output_tokens = _count()
    cost = RollupSum()
    with_cost = _count()
    latency = _count()
    with_latency = _count()

    class Meta:
        db_table = DECISIONS.table
        constraints = [rollup_key(DECISIONS)]
