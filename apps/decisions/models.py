"""The agent's decisions: input context, thought process, tools, output, and what it cost."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.common.fields import CurrentTimestamp, choices_check


class DecisionLayer(models.TextChoices):
    STRATEGIC = "strategic", "Strategic"
    TACTICAL = "tactical", "Tactical"


class Decision(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=100,
    )
    decision_layer = models.CharField(
        max_length=20,
        choices=DecisionLayer.choices,
    )
    input_context = models.JSONField()
    thought_process = models.TextField()
    tools_used = ArrayField(
        models.TextField(),
        null=True,
        blank=True,
    )
    decision = models.TextField()
    action_taken = models.TextField(
        null=True,
        blank=True,
    )
    model_used = models.CharField(
        max_length=50,
        null=True,
        blank=True,
    )
    tokens_used = models.IntegerField(
        null=True,
        blank=True,
    )
    latency_ms = models.IntegerField(
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

    class Meta:
        db_table = "decisions"
        ordering = ["-datetime"]
        constraints = [
            choices_check("decision_layer", DecisionLayer, table="decisions"),
        ]
        indexes = [
            models.Index(fields=["decision_layer"], name="idx_decisions_layer"),
            models.Index(fields=["-datetime"], name="idx_decisions_datetime"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.decision_layer})"
