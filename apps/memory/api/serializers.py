"""Experiences, recall and short-term memory: request and response shapes."""

from __future__ import annotations

import math
from decimal import Decimal

from rest_framework import serializers

from apps.agents.api.ingest import IngestSerializer
from apps.common.api.fields import JsonBlobField, MoneyField, RatioField, TextListField, TimestampField
from apps.memory.models import Experience, Outcome

SYMBOL = {"max_length": 50, "help_text": "e.g. BTC/USDT (no spaces)."}


def _importance(**kwargs) -> MoneyField:
    return MoneyField(
        max_digits=3,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal(1),
        help_text="0 to 1.",
        **kwargs,
    )


class ExperienceCreateSerializer(IngestSerializer):
    aliases = {"situation_tags": "tags", "decision_id": "decisionId"}

    id = serializers.CharField(max_length=100, required=False, help_text="Yours to choose; made if absent.")
    situation = serializers.CharField(max_length=100_000)
    situation_tags = TextListField(required=False, allow_null=True, help_text="Also accepted as `tags`.")
    decision = serializers.CharField(max_length=100_000)
    decision_reasoning = serializers.CharField(max_length=200_000)
    decision_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    pnl = MoneyField(signed=True, required=False, allow_null=True)
    pnl_percentage = RatioField(required=False, allow_null=True)
    reflection = serializers.CharField(max_length=200_000, required=False, allow_null=True, allow_blank=True)
    lessons_learned = TextListField(required=False, allow_null=True)
    importance_score = _importance(required=False)
    related_orders = TextListField(required=False, allow_null=True)
    symbol = serializers.CharField(max_length=20, required=False, allow_null=True)
    timestamp = TimestampField(required=False, allow_null=True)
    datetime = serializers.DateTimeField(required=False, allow_null=True)


class ExperiencePatchSerializer(IngestSerializer):
    """The review of an experience: only the fields sent change. Any other field is refused by name
    rather than ignored, so an agent never believes it changed an outcome or a PnL."""

    aliases = {"situation_tags": "tags"}

    reflection = serializers.CharField(max_length=200_000, required=False, allow_null=True, allow_blank=True)
    lessons_learned = TextListField(required=False, allow_null=True)
    situation_tags = TextListField(required=False, allow_null=True, help_text="Also accepted as `tags`.")
    importance_score = _importance(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            fixed = sorted(set(data) - set(self.fields))
            if fixed:
                message = (
                    "Cannot be changed: a review changes only reflection, lessons_learned, situation_tags "
                    "(or tags) and importance_score."
                )
                raise serializers.ValidationError({key: [message] for key in fixed})
        return super().to_internal_value(data)


class ExperienceSerializer(serializers.ModelSerializer):
    decision_id = serializers.CharField(source="decision_ref_id", read_only=True, allow_null=True)

    class Meta:
        model = Experience
        fields = [
            "id",
            "situation",
            "situation_tags",
            "decision",
            "decision_reasoning",
            "decision_id",
            "outcome",
            "pnl",
            "pnl_percentage",
            "reflection",
            "lessons_learned",
            "importance_score",
            "related_orders",
            "symbol",
            "timestamp",
            "datetime",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FiniteFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError("Must be a finite number.")
        return value


class RecallSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=20_000, required=False, allow_null=True, help_text="The situation to recall by."
    )
    vector = serializers.ListField(
        child=FiniteFloatField(),
        required=False,
        allow_null=True,
        max_length=8192,
        help_text="Or a ready embedding of the embedder's dimension.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_null=True)
    symbol = serializers.CharField(max_length=20, required=False, allow_null=True)
    tags = TextListField(required=False, allow_null=True, max_length=50, help_text="Any of these tags.")
    min_importance = _importance(required=False, allow_null=True)
    since = serializers.DateTimeField(required=False, allow_null=True)
    until = serializers.DateTimeField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
    hybrid = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Fuse the lexical match with the dense one (default: the server's MEMORY_HYBRID, on).",
    )
    include_superseded = serializers.BooleanField(
        default=False, help_text="Also recall experiences superseded by newer ones."
    )
    context = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="The decision's input context (rsi, trend, funding_rate, breakout...): direction features "
        "beside those read from the text. Default: the decision's, when decision_id is given.",
    )
    decision_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        help_text="The decision this recall is made for: the recall and its hits are kept for it.",
    )
    keep = serializers.BooleanField(
        default=False,
        help_text="Keep the recall (without a decision yet) so it can be linked to one later.",
    )

    def validate(self, attrs):
        text, vector = attrs.get("text"), attrs.get("vector")
        if (text is None) == (vector is None):
            raise serializers.ValidationError({"text": ["Give either `text` or `vector` (one of them)."]})
        if vector is not None and not any(vector):
            raise serializers.ValidationError({"vector": ["An all-zero vector has no direction to compare."]})
        return attrs


class ScoreComponentsSerializer(serializers.Serializer):
    similarity = serializers.FloatField()
    importance = serializers.FloatField()
    recency = serializers.FloatField()


class ExplanationSerializer(serializers.Serializer):
    relevance = serializers.FloatField(help_text="What the score weighs: the fused score scaled to 0..1.")
    similarity = serializers.FloatField(help_text="Cosine similarity of the dense vectors.")
    fused = serializers.FloatField(allow_null=True, help_text="Qdrant's fused score (null without hybrid).")
    importance = serializers.FloatField()
    recency = serializers.FloatField()
    direction = serializers.DictField(
        child=serializers.CharField(), help_text="Per dimension shared with the query: match or opposite."
    )
    direction_adjustment = serializers.FloatField()
    features = serializers.ListField(child=serializers.CharField())


class RecallHitSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    components = ScoreComponentsSerializer()
    explanation = ExplanationSerializer()
    experience = ExperienceSerializer()


class RecallResultSerializer(serializers.Serializer):
    recall_id = serializers.IntegerField(allow_null=True, help_text="The kept recall (null when not kept).")
    query_features = serializers.ListField(child=serializers.CharField())
    results = RecallHitSerializer(many=True)


class RecallLinkSerializer(serializers.Serializer):
    decision_id = serializers.CharField(max_length=100)


class RecallLinkResultSerializer(serializers.Serializer):
    recall_id = serializers.IntegerField()
    decision_id = serializers.CharField()


class PlaybookQuery(serializers.Serializer):
    tag = serializers.CharField(max_length=200, required=False)
    min_experiences = serializers.IntegerField(min_value=1, max_value=1000, required=False)


class PlaybookLessonSerializer(serializers.Serializer):
    lesson = serializers.CharField()
    experiences = serializers.IntegerField()
    successes = serializers.IntegerField()
    failures = serializers.IntegerField()
    experience_ids = serializers.ListField(child=serializers.CharField())


class PlaybookTagSerializer(serializers.Serializer):
    tag = serializers.CharField()
    lessons = PlaybookLessonSerializer(many=True)


class PlaybookSerializer(serializers.Serializer):
    tags = PlaybookTagSerializer(many=True)


# --- short-term memory ----------------------------------------------------------------------------


class SymbolQuery(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)


class MarketContextSerializer(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)
    context = JsonBlobField(help_text="Any JSON; kept 5 minutes (market:context:{symbol}).")


class TradingContextSerializer(serializers.Serializer):
    context = JsonBlobField(help_text="Any JSON; kept 1 hour (trading:context).")


class TickerSerializer(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)
    ticker = JsonBlobField(help_text="ccxt's ticker as is; kept 10 seconds (market:ticker:{symbol}).")


class TickersQuery(serializers.Serializer):
    symbols = serializers.CharField(
        required=False,
        max_length=5000,
        help_text="Comma-separated; all symbols of the last snapshot if absent.",
    )


class TickersSerializer(serializers.Serializer):
    tickers = serializers.DictField(
        child=JsonBlobField(),
        help_text="{symbol: ticker}: one snapshot into the market:tickers hash (and each market:ticker key).",
    )

    def validate_tickers(self, value):
        if not value:
            raise serializers.ValidationError("Send at least one ticker.")
        if len(value) > 5000:
            raise serializers.ValidationError("At most 5000 tickers at once.")
        return value


class OrderbookSerializer(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)
    orderbook = JsonBlobField(
        help_text="ccxt's order book as is; kept 30 seconds (market:orderbook:{symbol})."
    )


class PricesQuery(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)
    timeframe = serializers.CharField(max_length=10, help_text="e.g. 1m, 1h.")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=100)


class PricesPushSerializer(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)
    timeframe = serializers.CharField(max_length=10)
    price = MoneyField(required=False, help_text="One price; or `prices`.")
    prices = serializers.ListField(
        child=MoneyField(),
        required=False,
        max_length=100,
        help_text="Oldest first; the last becomes the newest.",
    )

    def validate(self, attrs):
        if ("price" in attrs) == ("prices" in attrs):
            raise serializers.ValidationError({"price": ["Send `price` or `prices` (one of them)."]})
        if "prices" in attrs and not attrs["prices"]:
            raise serializers.ValidationError({"prices": ["Send at least one price."]})
        return attrs


class PricesSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    prices = serializers.ListField(child=serializers.CharField(), help_text="Newest first, decimal strings.")


class IndicatorQuery(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)
    name = serializers.CharField(max_length=50, help_text="e.g. rsi.")
    params = serializers.CharField(
        max_length=200, help_text="As written: 14, or 12,26,9, or period=14,source=close (sorted by name)."
    )


class IndicatorSerializer(serializers.Serializer):
    symbol = serializers.CharField(**SYMBOL)
    name = serializers.CharField(max_length=50)
    params = JsonBlobField(help_text="A string, a list (joined by commas) or an object (sorted name=value).")
    value = JsonBlobField(help_text="Kept 5 minutes (indicators:{symbol}:{name}:{params}).")


class DecisionCacheLookupSerializer(serializers.Serializer):
    context = JsonBlobField(help_text="The decision's input context; equal JSON in any key order matches.")


class DecisionCacheSerializer(serializers.Serializer):
    context = JsonBlobField()
    decision = JsonBlobField(help_text="Kept 5 minutes (decision:cache:{sha256 of the context}).")


class PortfolioPositionsSerializer(serializers.Serializer):
    positions = JsonBlobField(help_text="Kept 1 minute (portfolio:positions).")


class RateLimitCheckSerializer(serializers.Serializer):
    exchange = serializers.CharField(max_length=50)
    endpoint = serializers.CharField(max_length=100, help_text="e.g. ticker, order.")
    limit = serializers.IntegerField(
        min_value=1, max_value=1_000_000, default=1000, help_text="Calls per window."
    )
    window = serializers.IntegerField(min_value=1, max_value=86_400, default=60, help_text="Seconds.")


class RateLimitResultSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    retry_after = serializers.IntegerField(help_text="Seconds to wait when not allowed; 0 when allowed.")
    count = serializers.IntegerField(allow_null=True)
    limit = serializers.IntegerField()
    reason = serializers.CharField()


class StoredSerializer(serializers.Serializer):
    stored = serializers.BooleanField()
    key = serializers.CharField()
    ttl_seconds = serializers.IntegerField()
