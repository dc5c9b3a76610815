"""Trading experiences: the record behind the agent's long-term memory (Qdrant follows it)."""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.common.fields import CurrentTimestamp, Money, Ratio, choices_check


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
        db_default=CurrentTimestamp(),
        editable=False,
    )
    updated_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
        help_text="Kept current by the database trigger update_experiences_updated_at.",
    )

    class Meta:
        db_table = "experiences"
        ordering = ["-datetime"]
        constraints = [
            choices_check("outcome", Outcome, table="experiences"),
            # NUMERIC(3,2) alone would take up to 9.99; recall treats importance as a weight in 0..1.
            models.CheckConstraint(
                condition=models.Q(importance_score__gte=0, importance_score__lte=1),
                name="experiences_importance_score_range",
                violation_error_message="The importance score must be between 0 and 1.",
            ),
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


class OutboxOperation(models.TextChoices):
    UPSERT = "upsert", "Upsert"
    DELETE = "delete", "Delete"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"


class MemoryOutbox(models.Model):
    """One experience change still to be pushed to Qdrant, written in the change's own transaction.

    Pushing makes Qdrant match PostgreSQL's current row for `experience_id` (or removes the
    point when the row is gone), so rows may be pushed twice or out of order without harm.
    """

    id = models.BigAutoField(
        primary_key=True,
    )
    experience_id = models.CharField(
        max_length=100,
    )
    operation = models.CharField(
        max_length=10,
        choices=OutboxOperation.choices,
    )
    status = models.CharField(
        max_length=10,
        choices=OutboxStatus.choices,
        default=OutboxStatus.PENDING,
        db_default=OutboxStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(
        default=0,
        db_default=0,
    )
    last_error = models.TextField(
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
        editable=False,
    )
    processed_at = models.DateTimeField(
        null=True,
        blank=True,
    )

    class Meta:
        db_table = "memory_outbox"
        ordering = ["id"]
        verbose_name = "memory outbox entry"
        verbose_name_plural = "memory outbox"
        constraints = [
            choices_check("operation", OutboxOperation, table="memory_outbox"),
            choices_check("status", OutboxStatus, table="memory_outbox"),
        ]
        indexes = [
            models.Index(
                fields=["id"],
                name="idx_memory_outbox_pending",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["experience_id"], name="idx_memory_outbox_experience"),
            models.Index(fields=["processed_at"], name="idx_memory_outbox_processed"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.experience_id} ({self.status})"
