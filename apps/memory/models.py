"""Trading experiences: the record behind the agent's long-term memory (Qdrant follows it)."""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Now

from apps.common.fields import Money, Ratio, choices_check


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class Experience(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=100,
    )
    situation = models.TextField()
    situation_tags = ArrayField(
        models.TextField(),
        null=True,
        blank=True,
    )
    decision = models.TextField()
    decision_reasoning = models.TextField()
    decision_ref = models.ForeignKey(
        "decisions.Decision",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_column="decision_id",
        db_index=False,
        related_name="experiences",
        verbose_name="decision record",
    )
    outcome = models.CharField(
        max_length=20,
        choices=Outcome.choices,
    )
    pnl = Money(
        null=True,
        blank=True,
    )
    pnl_percentage = Ratio(
        null=True,
        blank=True,
    )
    reflection = models.TextField(
        null=True,
        blank=True,
    )
    lessons_learned = ArrayField(
        models.TextField(),
        null=True,
        blank=True,
    )
    importance_score = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
        db_default=Decimal("0.5"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    related_orders = ArrayField(
        models.TextField(),
        null=True,
        blank=True,
    )
    symbol = models.CharField(
        max_length=20,
        null=True,
        blank=True,
    )
    timestamp = models.BigIntegerField(
        help_text="Milliseconds since the epoch.",
    )
    datetime = models.DateTimeField()
    created_at = models.DateTimeField(
        null=True,
        db_default=Now(),
        editable=False,
    )
    updated_at = models.DateTimeField(
        null=True,
        db_default=Now(),
        editable=False,
        help_text="Kept current by the database trigger update_experiences_updated_at.",
    )

    class Meta:
        db_table = "experiences"
        ordering = ["-datetime"]
        constraints = [
            choices_check("outcome", Outcome, table="experiences"),
        ]
        indexes = [
            models.Index(fields=["outcome"], name="idx_experiences_outcome"),
            models.Index(fields=["-importance_score"], name="idx_experiences_importance"),
            models.Index(fields=["-datetime"], name="idx_experiences_datetime"),
            models.Index(fields=["symbol"], name="idx_experiences_symbol"),
            GinIndex(fields=["situation_tags"], name="idx_experiences_tags"),
            models.Index(fields=["decision_ref"], name="idx_experiences_decision"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.outcome})"
