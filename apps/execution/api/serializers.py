"""Orders, trades and positions: ingestion (ccxt's camelCase or the seed's snake_case) and output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers

from apps.agents.api.ingest import IngestSerializer
from apps.common.api.fields import JsonBlobField, MoneyField, RatioField, TimestampField
from apps.common.clock import to_ms
from apps.decisions.models import Decision
from apps.exchanges.api.fields import ExchangeNameField, prefetch_exchanges
from apps.execution import ccxt
from apps.execution.models import CurrentPosition, Order, OrderStatus, OrderType, Position, Side, Trade

DECISIONS_KEY = "known_decision_ids"


class VocabularyChoiceField(serializers.ChoiceField):
    """A choice read through ccxt's vocabulary (apps.execution.ccxt), with its refusal as the error."""

    def __init__(self, *, term: Callable[[Any], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.term = term

    def to_internal_value(self, data: Any) -> str:
        try:
            return self.term(data)
        except ccxt.VocabularyError as exc:
            raise serializers.ValidationError(str(exc)) from None


class _Refused:
    """A value the vocabulary refused while the item was normalised; its field reports the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class FeeField(MoneyField):
    """The fee `ccxt.fee` read from `fee`/`fees`: signed, because ccxt reports a maker rebate as a
    negative fee, and the vocabulary keeps it (no fee is refused for its sign)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(signed=True, **kwargs)

    def to_internal_value(self, data: Any):
        if isinstance(data, _Refused):
            raise serializers.ValidationError(data.reason)
        return super().to_internal_value(data)


def _normalise_fee(item: dict) -> None:
    """ccxt's `fee: {cost, currency}` (or its `fees` list) onto the seed's `fee` and `fee_currency`."""
    try:
        cost, currency = ccxt.fee(
            fee=item.get("fee"), fees=item.pop("fees", None), fee_currency=item.get("fee_currency")
        )
    except ccxt.VocabularyError as exc:
        item["fee"] = _Refused(str(exc))
        return
    item["fee"] = cost
    if currency is not None:
        item["fee_currency"] = currency


def _timestamp(attrs: dict) -> None:
    """Fill `timestamp` (epoch ms) from `datetime` when only that is given; one of them is required."""
    if attrs.get("timestamp") is None:
        if attrs.get("datetime") is None:
            raise serializers.ValidationError(
                {"timestamp": "Give `timestamp` (epoch ms) or `datetime` (ISO 8601)."}
            )
        attrs["timestamp"] = to_ms(attrs["datetime"])
    attrs.pop("datetime", None)


class OrderIngestSerializer(IngestSerializer):
    """One order as ccxt returns it (fetchOrder, createOrder, watchOrders), or in the seed's names.

    Plus `exchange` (the ccxt id; or `?exchange=` on the URL for the whole body) and optionally
    `decision_id`. Statuses, types, sides, fees and client order ids are read through ccxt's
    vocabulary (apps.execution.ccxt), as the import reads them; an open order with a filled amount is
    partially_filled (the order service). `remaining` is derived (amount - filled).
    """

    aliases = {
        "client_order_id": "clientOrderId",
        "stop_price": "stopPrice",
        "take_profit_price": "takeProfitPrice",
        "stop_loss_price": "stopLossPrice",
        "fee_currency": "feeCurrency",
        "decision_id": "decisionId",
        "raw_data": "info",
    }

    exchange = ExchangeNameField()
    id = serializers.CharField(max_length=100, help_text="The exchange's order id.")
    client_order_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        help_text=(
            "ccxt's clientOrderId; the key an order is upserted on. When absent, empty or 0 (ccxt's "
            "placeholder for Kraken orders placed without one), the exchange's id stands in."
        ),
    )
    symbol = serializers.CharField(max_length=20)
    side = VocabularyChoiceField(choices=Side.choices, term=ccxt.side)
    type = VocabularyChoiceField(
        choices=OrderType.choices,
        term=ccxt.order_type,
        help_text="The seed's six, or an exchange's word for one (limit_maker, post_only, stop_market...).",
    )
    status = VocabularyChoiceField(
        choices=OrderStatus.choices,
        term=ccxt.order_status,
        help_text="ccxt's (open, closed, canceled, expired, rejected) or the seed's.",
    )
    amount = MoneyField(positive=True)
    filled = MoneyField(required=False, allow_null=True)
    remaining = MoneyField(required=False, allow_null=True, help_text="Ignored: always amount - filled.")
    price = MoneyField(required=False, allow_null=True)
    average = MoneyField(required=False, allow_null=True)
    cost = MoneyField(required=False, allow_null=True)
    fee = FeeField(
        required=False,
        allow_null=True,
        help_text="A number, or ccxt's {cost, currency} (or `fees`); negative for a maker rebate.",
    )
    fee_currency = serializers.CharField(max_length=10, required=False, allow_null=True, allow_blank=True)
    stop_price = MoneyField(required=False, allow_null=True, help_text="ccxt's stopPrice or triggerPrice.")
    take_profit_price = MoneyField(required=False, allow_null=True)
    stop_loss_price = MoneyField(required=False, allow_null=True)
    decision_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    timestamp = TimestampField(required=False, allow_null=True)
    datetime = serializers.DateTimeField(required=False, allow_null=True)
    raw_data = JsonBlobField(
        required=False, allow_null=True, help_text="ccxt's `info`: the exchange's own reply."
    )

    @classmethod
    def normalise(cls, item: dict) -> tuple[dict, dict[str, str]]:
        item, used = super().normalise(item)
        if "triggerPrice" in item:
            trigger = item.pop("triggerPrice")
            if item.get("stop_price") is None:
                item["stop_price"] = trigger
                used["stop_price"] = "triggerPrice"
        if "client_order_id" in item:
            item["client_order_id"] = ccxt.client_order_id(item["client_order_id"])
        _normalise_fee(item)
        return item, used

    @classmethod
    def prepare_context(cls, items: list[dict], context: dict) -> None:
        default = context.get("default_exchange")
        if default:
            for item in items:
                item.setdefault("exchange", default)
        prefetch_exchanges((item.get("exchange") for item in items), context)
        wanted = {
            i["decision_id"] for i in items if isinstance(i.get("decision_id"), str) and i["decision_id"]
        }
        known = set(Decision.objects.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
        context[DECISIONS_KEY] = known

    def validate_decision_id(self, value: str | None) -> str | None:
        if not value:
            return None
        known = self.context.get(DECISIONS_KEY)
        exists = value in known if known is not None else Decision.objects.filter(pk=value).exists()
        if not exists:
            raise serializers.ValidationError(
                f"No decision {value!r} is recorded; POST it to /api/v1/decisions/ first."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        _timestamp(attrs)
        attrs.pop("remaining", None)
        filled = attrs.get("filled") or 0
        if filled > attrs["amount"]:
            raise serializers.ValidationError(
                {"filled": f"The filled amount {filled} exceeds the amount {attrs['amount']}."}
            )
        return attrs


class OrderSerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "client_order_id",
            "exchange",
            "symbol",
            "side",
            "type",
            "status",
            "price",
            "amount",
            "filled",
            "remaining",
            "cost",
            "average",
            "fee",
            "fee_currency",
            "stop_price",
            "take_profit_price",
            "stop_loss_price",
            "decision_id",
            "timestamp",
            "datetime",
            "created_at",
            "updated_at",
            "raw_data",
        ]
        read_only_fields = fields


class TradeIngestSerializer(IngestSerializer):
    """One trade as ccxt returns it (fetchMyTrades, an order's `trades`), or in the seed's names."""

    aliases = {
        "order_id": "order",
        "fee_currency": "feeCurrency",
        "raw_data": "info",
    }

    exchange = ExchangeNameField()
    id = serializers.CharField(max_length=100, help_text="The exchange's trade id.")
    order_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        help_text="ccxt's `order`: the exchange's id of the order filled (recorded first).",
    )
    symbol = serializers.CharField(max_length=20)
    side = VocabularyChoiceField(choices=Side.choices, term=ccxt.side)
    price = MoneyField()
    amount = MoneyField(positive=True)
    cost = MoneyField(required=False, allow_null=True, help_text="Defaults to price x amount.")
    fee = FeeField(
        required=False,
        allow_null=True,
        help_text="A number, or ccxt's {cost, currency} (or `fees`); negative for a maker rebate.",
    )
    fee_currency = serializers.CharField(max_length=10, required=False, allow_null=True, allow_blank=True)
    timestamp = TimestampField(required=False, allow_null=True)
    datetime = serializers.DateTimeField(required=False, allow_null=True)
    raw_data = JsonBlobField(required=False, allow_null=True, help_text="ccxt's `info`.")

    @classmethod
    def normalise(cls, item: dict) -> tuple[dict, dict[str, str]]:
        item, used = super().normalise(item)
        _normalise_fee(item)
        return item, used

    @classmethod
    def prepare_context(cls, items: list[dict], context: dict) -> None:
        default = context.get("default_exchange")
        if default:
            for item in items:
                item.setdefault("exchange", default)
        prefetch_exchanges((item.get("exchange") for item in items), context)

    def validate(self, attrs: dict) -> dict:
        _timestamp(attrs)
        return attrs


class TradeSerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)
    order_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Trade
        fields = [
            "id",
            "order_id",
            "exchange",
            "symbol",
            "side",
            "price",
            "amount",
            "cost",
            "fee",
            "fee_currency",
            "timestamp",
            "datetime",
            "created_at",
            "raw_data",
        ]
        read_only_fields = fields


class PositionIngestSerializer(IngestSerializer):
    """A position to open or update, keyed on (exchange, symbol): the seed's names or ccxt's."""

    aliases = {
        "amount": "contracts",
        "entry_price": "entryPrice",
        "current_price": "markPrice",
        "unrealized_pnl": "unrealizedPnl",
        "unrealized_pnl_percentage": "percentage",
        "value": "notional",
        "stop_loss": "stopLossPrice",
        "take_profit": "takeProfitPrice",
    }

    exchange = ExchangeNameField()
    symbol = serializers.CharField(max_length=20)
    side = VocabularyChoiceField(
        choices=Side.choices, term=ccxt.position_side, help_text="buy/sell, or ccxt's long/short."
    )
    amount = MoneyField(positive=True)
    entry_price = MoneyField()
    current_price = MoneyField()
    unrealized_pnl = MoneyField(signed=True, required=False, allow_null=True)
    unrealized_pnl_percentage = RatioField(required=False, allow_null=True)
    value = MoneyField(required=False, allow_null=True)
    stop_loss = MoneyField(required=False, allow_null=True)
    take_profit = MoneyField(required=False, allow_null=True)
    opened_at = serializers.DateTimeField(required=False, allow_null=True)

    @classmethod
    def prepare_context(cls, items: list[dict], context: dict) -> None:
        prefetch_exchanges((item.get("exchange") for item in items), context)


class PositionCloseSerializer(serializers.Serializer):
    closed_at = serializers.DateTimeField(required=False, allow_null=True)
    current_price = MoneyField(required=False, allow_null=True, help_text="The final price; updates the PnL.")


class PositionCloseBySymbolSerializer(PositionCloseSerializer):
    exchange = ExchangeNameField()
    symbol = serializers.CharField(max_length=20)


_POSITION_FIELDS = [
    "id",
    "exchange",
    "symbol",
    "side",
    "amount",
    "entry_price",
    "current_price",
    "unrealized_pnl",
    "unrealized_pnl_percentage",
    "value",
    "stop_loss",
    "take_profit",
    "is_open",
    "opened_at",
    "closed_at",
    "updated_at",
    "realized_pnl",
    "realized_fees",
    "realized_other_fees",
    "realized_at",
    "realized_note",
]


class PositionSerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Position
        fields = _POSITION_FIELDS
        read_only_fields = fields


class CurrentPositionSerializer(serializers.ModelSerializer):
    exchange = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = CurrentPosition
        fields = _POSITION_FIELDS
        read_only_fields = fields
