"""System events: outages, state changes and alerts, by type and severity."""

from django.db import models

from apps.common.fields import CurrentTimestamp, choices_check


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"


class SystemEvent(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=100,
    )
    event_type = models.CharField(
        max_length=50,
    )
    severity = models.CharField(
        max_length=20,
        choices=Severity.choices,
    )
    data = models.JSONField(
        null=True,
        blank=True,
    )
    related_order_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
    )
    related_symbol = models.CharField(
        max_length=20,
        null=True,
        blank=True,
    )
    message = models.TextField()
    details = models.TextField(
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
        db_table = "system_events"
        ordering = ["-datetime"]
        constraints = [
            choices_check("severity", Severity, table="system_events"),
        ]
        indexes = [
            models.Index(fields=["event_type"], name="idx_system_events_type"),
            models.Index(fields=["severity"], name="idx_system_events_severity"),
            models.Index(fields=["-datetime"], name="idx_system_events_datetime"),
            models.Index(fields=["related_order_id"], name="idx_system_events_order"),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.event_type}: {self.message[:60]}"
