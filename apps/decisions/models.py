"""The agent's decisions: input context, thought process, tools, output, and what it cost."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.common.fields import CurrentTimestamp, Money, choices_check


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
    input_tokens = models.IntegerField(
        null=True,
        blank=True,
        help_text="Prompt tokens, when the agent tells them apart from the output.",
    )
    output_tokens = models.IntegerField(
        null=True,
        blank=True,
        help_text="Completion tokens, when the agent tells them apart from the input.",
    )
    inference_cost = Money(
        null=True,
        blank=True,
        help_text="What the tokens cost at the model's price in effect, in the price's currency.",
    )
    inference_cost_note = models.TextField(
        null=True,
        blank=True,
        help_text="How the cost was priced, or why there is none.",
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


class ModelPrice(models.Model):
    """A model's token prices from a moment on. A price is never overwritten: a change is a new row from its
    own moment, so the history stays, and each decision is priced by the row in effect at its time."""

    model = models.CharField(
        max_length=50,
        help_text="As decisions name it in model_used.",
    )
    input_per_million = Money(
        help_text="The price of 1,000,000 input (prompt) tokens.",
    )
    output_per_million = Money(
        help_text="The price of 1,000,000 output (completion) tokens.",
    )
    currency = models.CharField(
        max_length=20,
        help_text="The reporting currency when the price was entered.",
    )
    effective_from = models.DateTimeField(
        help_text="Decisions from this moment on (until the next price) cost this (UTC).",
    )
    recorded_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
    )
    note = models.TextField(
        blank=True,
        default="",
    )
    created_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
    )

    class Meta:
        db_table = "model_prices"
        ordering = ["model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "effective_from"], name="model_prices_model_effective_key"
            ),
            models.CheckConstraint(
                condition=models.Q(input_per_million__gte=0) & models.Q(output_per_million__gte=0),
                name="model_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from:%Y-%m-%d %H:%M} UTC"
