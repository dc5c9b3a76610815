"""Reviews out, for agents: what an operator judged of a decision or an experience."""

from rest_framework import serializers

from apps.journal.models import Review


class ReviewSerializer(serializers.ModelSerializer):
    decision_id = serializers.CharField(read_only=True, allow_null=True)
    experience_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "decision_id",
            "experience_id",
            "verdict",
            "reasoning_score",
            "risk_score",
            "timing_score",
            "corrected_decision",
            "notes",
            "reviewer",
            "reviewed_at",
            "updated_at",
        ]
        read_only_fields = fields
