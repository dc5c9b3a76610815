"""Exchanges as agents see them: no credential column, not even its ciphertext."""

from rest_framework import serializers

from apps.exchanges.models import Exchange


class ExchangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Exchange
        fields = ["id", "name", "testnet", "is_active", "created_at", "updated_at"]
        read_only_fields = fields
