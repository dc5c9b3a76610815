"""Decisions in and out."""

from rest_framework import serializers

from apps.common.api.fields import JsonBlobField, TextListField, TimestampField
from apps.decisions.models import Decision, DecisionLayer

INT_MAX = 2_147_483_647


class DecisionCreateSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100, required=False, help_text="Yours to choose; made if absent.")
    decision_layer = serializers.ChoiceField(choices=DecisionLayer.choices)
    input_context = JsonBlobField(help_text="What the agent saw: prices, indicators, positions, memories.")
    thought_process = serializers.CharField(max_length=200_000)
    tools_used = TextListField(required=False, allow_null=True)
    decision = serializers.CharField(max_length=200_000)
    action_taken = serializers.CharField(
        max_length=200_000, required=False, allow_null=True, allow_blank=True
    )
    model_used = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True)
    tokens_used = serializers.IntegerField(min_value=0, max_value=INT_MAX, required=False, allow_null=True)
    input_tokens = serializers.IntegerField(
        min_value=0, max_value=INT_MAX, required=False, allow_null=True,
        help_text="Prompt tokens; with output_tokens the cost is priced apart (tokens_used is their sum).",
    )  # fmt: skip
    output_tokens = serializers.IntegerField(
        min_value=0, max_value=INT_MAX, required=False, allow_null=True, help_text="Completion tokens."
    )
    latency_ms = serializers.IntegerField(min_value=0, max_value=INT_MAX, required=False, allow_null=True)
    timestamp = TimestampField(required=False, allow_null=True, help_text="Epoch ms; defaults to now.")


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = [
            "id",
            "decision_layer",
            "input_context",
            "thought_process",
            "tools_used",
            "decision",
            "action_taken",
            "model_used",
            "tokens_used",
            "input_tokens",
            "output_tokens",
            "inference_cost",
            "inference_cost_note",
            "latency_ms",
            "timestamp",
            "datetime",
            "created_at",
        ]
        read_only_fields = fields
