"""Reconciliation runs and the discrepancies they find between the record and the exchange.

Neither table is in the seed (docs/schema.md, "Tables beyond the seed"). A run is one check of one
exchange account; a discrepancy is one difference it found, kept with both versions side by side until
an operator (or a setting) adopts the exchange's version, an operator dismisses it with a reason, or a
later run finds the difference gone.
"""

from django.db import models

from apps.common.fields import CurrentTimestamp, choices_check
from apps.exchanges.models import Exchange


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"  # every fetch answered; the comparison is complete
    PARTIAL = "partial", "Partial"  # some fetches failed; what they would have shown was not compared
    FAILED = "failed", "Failed"  # nothing could be compared (e.g. authentication refused)


class RunTrigger(models.TextChoices):
    COMMAND = "command", "manage.py reconcile_exchanges"
    API = "api", "An agent, through the API"
    ADMIN = "admin", "An operator, in the admin"


class ReconciliationRun(models.Model):
    id = models.BigAutoField(
        primary_key=True,
    )
    exchange = models.ForeignKey(
        Exchange,
        on_delete=models.CASCADE,
        related_name="reconciliation_runs",
    )
    status = models.CharField(
        max_length=10,
        choices=RunStatus.choices,
        default=RunStatus.RUNNING,
        db_default=RunStatus.RUNNING,
    )
    reason = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="Why the run is partial or failed: each fetch that failed, with the exchange's answer.",
    )
    trigger = models.CharField(
        max_length=10,
        choices=RunTrigger.choices,
    )
    triggered_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        help_text="The operator or agent that started it; empty for cron.",
    )
    dry_run = models.BooleanField(
        default=False,
        db_default=False,
    )
    since = models.DateTimeField(
        help_text="Fills and orders were fetched from here (the last watermark less the overlap).",
    )
    started_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
        editable=False,
    )
    finished_at = models.DateTimeField(
        null=True,
        blank=True,
    )
    counts = models.JSONField(
        default=dict,
        blank=True,
        help_text="What was fetched, found, adopted and resolved.",
    )
    watermarks = models.JSONField(
        default=dict,
        blank=True,
        help_text="Up to where each endpoint was read completely (epoch ms); the next run starts there.",
    )
    balances = models.JSONField(
        default=dict,
        blank=True,
        help_text="The exchange's balances by asset: where the next run's expected balances start.",
    )

    class Meta:
        db_table = "reconciliation_runs"
        ordering = ["-started_at", "-id"]
        constraints = [
            choices_check("status", RunStatus, table="reconciliation_runs"),
            choices_check("trigger", RunTrigger, table="reconciliation_runs"),
        ]
        indexes = [
            models.Index(fields=["exchange", "-started_at"], name="idx_reconciliation_runs_exch"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.exchange_id} ({self.status})"


class DiscrepancyKind(models.TextChoices):
    MISSING_TRADE = "missing_trade", "Fill on the exchange, not recorded"
    MISSING_ORDER = "missing_order", "Order on the exchange, not recorded"
    EXTERNAL_ORDER = "external_order", "Order no agent placed (manual or another system)"
    ORDER_DIFFERS = "order_differs", "Order recorded with other status, filled, average or fee"
    STALE_OPEN_ORDER = "stale_open_order", "Open in the record, closed, canceled or unknown on the exchange"
    BALANCE_DIFFERS = "balance_differs", "Balance beyond the tolerance from recorded fills and cash flows"
    POSITION_DIFFERS = "position_differs", "Position differing from the exchange's"


class DiscrepancyState(models.TextChoices):
    OPEN = "open", "Open"
    ADOPTED = "adopted", "Adopted (the exchange's version recorded)"
    DISMISSED = "dismissed", "Dismissed (with a reason)"
    RESOLVED = "resolved", "Resolved (a later run found no difference)"


class Discrepancy(models.Model):
    id = models.BigAutoField(
        primary_key=True,
    )
    exchange = models.ForeignKey(
        Exchange,
        on_delete=models.CASCADE,
        related_name="discrepancies",
    )
    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="discrepancies_found",
        help_text="The run that found it first.",
    )
    last_seen_run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The last run that still found it.",
    )
    kind = models.CharField(
        max_length=20,
        choices=DiscrepancyKind.choices,
    )
    subject = models.CharField(
        max_length=120,
        help_text="What differs: an order id, a trade id, an asset, a symbol.",
    )
    symbol = models.CharField(
        max_length=20,
        blank=True,
        default="",
        db_default="",
    )
    exchange_version = models.JSONField(
        null=True,
        blank=True,
        help_text="What the exchange reports (ccxt's unified structure); null when it has nothing.",
    )
    record_version = models.JSONField(
        null=True,
        blank=True,
        help_text="What the record holds; null when it has nothing.",
    )
    differences = models.JSONField(
        default=dict,
        blank=True,
        help_text="Field by field: [the record's, the exchange's].",
    )
    state = models.CharField(
        max_length=10,
        choices=DiscrepancyState.choices,
        default=DiscrepancyState.OPEN,
        db_default=DiscrepancyState.OPEN,
    )
    note = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="A dismissal's reason, what adopting did, or why it could not.",
    )
    acted_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        help_text="Who adopted or dismissed it (an operator, or `reconciliation` for a setting).",
    )
    acted_at = models.DateTimeField(
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(
        db_default=CurrentTimestamp(),
        editable=False,
    )

    class Meta:
        db_table = "reconciliation_discrepancies"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "discrepancies"
        constraints = [
            choices_check("kind", DiscrepancyKind, table="reconciliation_discrepancies"),
            choices_check("state", DiscrepancyState, table="reconciliation_discrepancies"),
            # A difference is one open discrepancy, however many runs find it again.
            models.UniqueConstraint(
                fields=["exchange", "kind", "subject"],
                condition=models.Q(state="open"),
                name="uq_reconciliation_discrepancy_open",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "exchange", "kind"], name="idx_discrepancies_queue"),
            models.Index(fields=["-created_at"], name="idx_discrepancies_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject} ({self.state})"
