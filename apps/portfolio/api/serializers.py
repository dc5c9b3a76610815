"""Portfolio snapshots in and out."""

from rest_framework import serializers

from apps.agents.api.ingest import IngestSerializer
from apps.common.api.fields import JsonBlobField, MoneyField, RatioField
from apps.exchanges.api.fields import ExchangeNameField, prefetch_exchanges
from apps.portfolio.models import PortfolioSnapshot


class PortfolioSnapshotIngestSerializer(IngestSerializer):
    exchange = ExchangeNameField()
    snapshot_date = serializers.DateField(
        required=False, allow_null=True, help_text="Defaults to today (UTC)."
    )
    total_value = MoneyField()
    cash = MoneyField()
    positions_value = MoneyField(required=False, allow_null=True)
    total_pnl = MoneyField(signed=True, required=False, allow_null=True)
    daily_pnl = MoneyField(signed=True, required=False, allow_null=True)
    total_return = RatioField(required=False, allow_null=True, help_text="Percent.")
    positions = JsonBlobField(
        required=False, allow_null=True, help_text="The open positions at snapshot time."
    )
    datetime = serializers.DateTimeField(required=False, allow_null=True, help_text="Defaults to now.")

    @classmethod
    def prepare_context(cls, items: list[dict], context: dict) -> None:
        prefetch_exchanges((item.get("exchange") for item in items), context)


class PortfolioSnapshotSerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = PortfolioSnapshot
        fields = [
            "id",
            "exchange",
            "snapshot_date",
            "total_value",
            "cash",
            "positions_value",
            "total_pnl",
            "daily_pnl",
            "total_return",
            "positions",
            "timestamp",
            "datetime",
            "created_at",
        ]
        read_only_fields = fields
