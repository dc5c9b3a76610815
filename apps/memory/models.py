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


# --- what each decision recalled -----------------------------------------------------------------


class MemoryRecall(models.Model):
    """One recall from long-term memory, kept when it was made for a decision (or linked to one after)."""

    id = models.BigAutoField(
        primary_key=True,
    )
    decision = models.ForeignKey(
        "decisions.Decision",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="memory_recalls",
    )
    query_text = models.TextField(
        blank=True,
        default="",
        help_text="The situation recalled by (empty for a recall by vector).",
    )
    filters = models.JSONField(
        default=dict,
        blank=True,
    )
    embedder = models.CharField(
        max_length=100,
    )
    hybrid = models.BooleanField(
        default=True,
    )
    query_features = ArrayField(
        models.TextField(),
        default=list,
        blank=True,
    )
    created_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
        editable=False,
    )

    class Meta:
        db_table = "memory_recalls"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["decision"], name="idx_memory_recalls_decision"),
            models.Index(fields=["-created_at"], name="idx_memory_recalls_created"),
        ]

    def __str__(self) -> str:
        return f"recall {self.pk}" + (f" for {self.decision_id}" if self.decision_id else "")


class MemoryRecallHit(models.Model):
    """One experience a recall returned: its rank (1 = best), score and the score's explanation."""

    id = models.BigAutoField(
        primary_key=True,
    )
    recall = models.ForeignKey(
        MemoryRecall,
        on_delete=models.CASCADE,
        related_name="hits",
    )
    experience = models.ForeignKey(
        Experience,
        on_delete=models.CASCADE,
        related_name="recall_hits",
    )
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    explanation = models.JSONField(
        default=dict,
        blank=True,
    )

    class Meta:
        db_table = "memory_recall_hits"
        ordering = ["recall_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["recall", "rank"], name="memory_recall_hits_rank_key"),
            models.UniqueConstraint(
                fields=["recall", "experience"],
                name="memory_recall_hits_experience_key",
            ),
        ]
        indexes = [
            models.Index(fields=["experience"], name="idx_memory_recall_hits_exp"),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.experience_id}"


# --- outcomes fed back ---------------------------------------------------------------------------


class ImportanceReason(models.TextChoices):
    REALIZED_PNL = "realized_pnl", "Realized PnL of a decision that recalled it"
    OPERATOR_REVIEW = "operator_review", "Operator's review of a decision that recalled it"


class ImportanceChange(models.Model):
    """One move of an experience's importance by the feedback rule: old, new, why, when."""

    id = models.BigAutoField(
        primary_key=True,
    )
    experience = models.ForeignKey(
        Experience,
        on_delete=models.CASCADE,
        related_name="importance_changes",
    )
    decision = models.ForeignKey(
        "decisions.Decision",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="importance_changes",
    )
    reason = models.CharField(
        max_length=30,
        choices=ImportanceReason.choices,
    )
    old_importance = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
    )
    new_importance = models.DecimalField(
        max_digits=3,
        decimal_places=2,
    )
    rank = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="The experience's rank in the decision's recall.",
    )
    result = Money(
        null=True,
        blank=True,
        help_text="The decision's realized PnL, when that is the reason.",
    )
    note = models.TextField(
        blank=True,
        default="",
    )
    created_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
        editable=False,
    )

    class Meta:
        db_table = "experience_importance_changes"
        ordering = ["-id"]
        constraints = [
            choices_check("reason", ImportanceReason, table="experience_importance_changes"),
            # A decision's outcome moves each experience once per reason, however often it is fed back.
            models.UniqueConstraint(
                fields=["experience", "decision", "reason"],
                condition=models.Q(decision__isnull=False),
                name="experience_importance_changes_once",
            ),
        ]
        indexes = [
            models.Index(fields=["experience", "-id"], name="idx_importance_changes_exp"),
        ]

    def __str__(self) -> str:
        return f"{self.experience_id}: {self.old_importance} -> {self.new_importance} ({self.reason})"


# --- lifecycle -----------------------------------------------------------------------------------


class LinkKind(models.TextChoices):
    NEAR_DUPLICATE = "near_duplicate", "Near duplicate of"
    SUPERSEDES = "supersedes", "Supersedes"


class ExperienceLink(models.Model):
    """`source` is a near duplicate of `target`, or supersedes it. Nothing is merged: both stay."""

    id = models.BigAutoField(
        primary_key=True,
    )
    source = models.ForeignKey(
        Experience,
        on_delete=models.CASCADE,
        related_name="links_out",
    )
    target = models.ForeignKey(
        Experience,
        on_delete=models.CASCADE,
        related_name="links_in",
    )
    kind = models.CharField(
        max_length=20,
        choices=LinkKind.choices,
    )
    similarity = models.FloatField(
        null=True,
        blank=True,
    )
    note = models.TextField(
        blank=True,
        default="",
    )
    created_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
        editable=False,
    )

    class Meta:
        db_table = "experience_links"
        ordering = ["-id"]
        constraints = [
            choices_check("kind", LinkKind, table="experience_links"),
            models.UniqueConstraint(fields=["source", "target", "kind"], name="experience_links_key"),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")),
                name="experience_links_not_self",
                violation_error_message="An experience cannot be linked to itself.",
            ),
            # An experience is superseded by one other at most.
            models.UniqueConstraint(
                fields=["target"],
                condition=models.Q(kind="supersedes"),
                name="experience_links_superseded_once",
            ),
        ]
        indexes = [
            models.Index(fields=["target", "kind"], name="idx_experience_links_target"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"
