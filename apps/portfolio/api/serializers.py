"""Portfolio snapshots in and out."""

from rest_framework import serializers

from apps.agents.api.ingest import IngestSerializer
from apps.common.api.fields import JsonBlobField, MoneyField, RatioField
from apps.exchanges.api.fields import ExchangeNameField, prefetch_exchanges
from apps.portfolio.models import CashFlow, PortfolioSnapshot


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
    rates = serializers.DictField(
        child=MoneyField(), required=False, allow_null=True,
        help_text="Conversion rates into the reporting currency ({\"BTC\": \"65000\"}) for the cash flows "
        "since "
        "the previous snapshot; without them the rates are found as docs/metrics.md says.",
    )  # fmt: skip
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
            "net_flow",
            "reporting_currency",
            "rates",
            "timestamp",
            "datetime",
            "created_at",
        ]
        read_only_fields = fields


class CashFlowIngestSerializer(IngestSerializer):
    exchange = ExchangeNameField(help_text="The account the money entered or left (for a transfer: left).")
    kind = serializers.ChoiceField(
        choices=["deposit", "withdrawal", "transfer"],
        help_text="transfer: from `exchange` to `to_exchange`, recorded as two legs.",
    )
    to_exchange = ExchangeNameField(
        required=False, allow_null=True, help_text="A transfer's receiving account."
    )
    currency = serializers.CharField(max_length=20)
    amount = MoneyField(help_text="Positive; the kind says which way it went.")
    fee = MoneyField(
        required=False, allow_null=True, help_text="A withdrawal's or transfer's fee, in currency."
    )
    value = MoneyField(
        required=False, allow_null=True,
        help_text="The amount in the reporting currency, when known; else the next snapshot values it.",
    )  # fmt: skip
    external_id = serializers.CharField(
        max_length=100, required=False, allow_null=True,
        help_text="The exchange's transaction id (or yours): a flow is recorded once per id.",
    )  # fmt: skip
    txid = serializers.CharField(max_length=200, required=False, allow_null=True)
    note = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    datetime = serializers.DateTimeField(required=False, allow_null=True, help_text="Defaults to now.")

    def validate(self, attrs):
        if attrs["kind"] == "transfer" and not attrs.get("to_exchange"):
            raise serializers.ValidationError({"to_exchange": "A transfer names the account it went to."})
        if attrs["kind"] != "transfer" and attrs.get("to_exchange"):
            raise serializers.ValidationError({"to_exchange": "Only a transfer has a receiving account."})
        return attrs

    @classmethod
    def prepare_context(cls, items: list[dict], context: dict) -> None:
        names = [i.get("exchange") for i in items] + [
            i.get("to_exchange") for i in items if i.get("to_exchange")
        ]
        prefetch_exchanges(names, context)


class CashFlowSerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = CashFlow
        fields = [
            "id", "exchange", "kind", "currency", "amount", "fee", "value", "reporting_currency",
            "external_id",
            "txid", "transfer_group", "source", "recorded_by", "note", "timestamp", "datetime", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
