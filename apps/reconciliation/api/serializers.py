"""Reconciliation runs and discrepancies as the API shows them; the body that starts a run."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.exchanges.api.fields import ExchangeNameField
from apps.reconciliation.models import Discrepancy, ReconciliationRun


class RunStartSerializer(serializers.Serializer):
    exchange = ExchangeNameField()
    since = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Read fills and orders from here instead of the last watermark (ISO 8601); not in the "
        "future.",
    )

    def validate_since(self, value):
        # A run from a moment still to come reads no fill and compares no balance, yet would answer "ok".
        if value is not None and value > timezone.now():
            raise serializers.ValidationError("Must not be in the future: fills are read from here to now.")
        return value


class DiscrepancySerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "exchange",
            "kind",
            "subject",
            "symbol",
            "state",
            "differences",
            "exchange_version",
            "record_version",
            "note",
            "acted_by",
            "acted_at",
            "run",
            "last_seen_run",
            "created_at",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "exchange",
            "status",
            "reason",
            "trigger",
            "triggered_by",
            "since",
            "started_at",
            "finished_at",
            "counts",
            "watermarks",
        ]
        read_only_fields = fields


class RunWithDriftSerializer(RunSerializer):
    """A run, and every discrepancy still open on its account once it finished (what an agent checks)."""

    open_discrepancies = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "open_discrepancies"]
        read_only_fields = fields

    @extend_schema_field(DiscrepancySerializer(many=True))
    def get_open_discrepancies(self, run: ReconciliationRun) -> list[dict]:
        rows = run.exchange.discrepancies.filter(state="open").select_related("exchange").order_by("id")
        return DiscrepancySerializer(rows, many=True).data
