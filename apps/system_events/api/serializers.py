"""System events in and out."""

from rest_framework import serializers

from apps.common.api.fields import JsonBlobField, TimestampField
from apps.system_events.models import Severity, SystemEvent


class SystemEventCreateSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100, required=False, help_text="Yours to choose; made if absent.")
    event_type = serializers.CharField(max_length=50, help_text="e.g. exchange_error, risk_limit_hit.")
    severity = serializers.ChoiceField(choices=Severity.choices)
    message = serializers.CharField(max_length=100_000)
    details = serializers.CharField(max_length=200_000, required=False, allow_null=True, allow_blank=True)
    data = JsonBlobField(required=False, allow_null=True)
    related_order_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    related_symbol = serializers.CharField(max_length=20, required=False, allow_null=True)
    timestamp = TimestampField(required=False, allow_null=True, help_text="Epoch ms; defaults to now.")


class SystemEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemEvent
        fields = [
            "id",
            "event_type",
            "severity",
            "message",
            "details",
            "data",
            "related_order_id",
            "related_symbol",
            "timestamp",
            "datetime",
            "created_at",
        ]
        read_only_fields = fields
