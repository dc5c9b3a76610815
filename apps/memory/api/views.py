"""Experiences, recall and short-term memory for agents, all through apps.memory.services.

The API never talks to Redis or Qdrant itself. A miss is a 404 (or an empty result); Redis or
Qdrant being unreachable is a 503 that says which and what still works.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import django_filters
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.agents.api.idempotency import IDEMPOTENCY_PARAM, idempotent
from apps.agents.models import WriteAction
from apps.agents.services import agent_writes_record
from apps.common.api.exceptions import ServiceUnavailable, errors_as_sent
from apps.common.api.filters import UtcDateTimeFilter
from apps.common.api.viewsets import RecordViewSet
from apps.memory.models import Experience, Outcome
from apps.memory.services import (
    UNSET,
    LongTermMemoryError,
    experience_annotate,
    experience_create,
    memory_recall,
    short_term,
)
from apps.memory.services.lifecycle import playbook
from apps.memory.services.recall import recall_link

from . import serializers as s

REDIS_DOWN = (
    "Redis is unreachable: short-term memory is unavailable for now. Recording orders, trades and "
    "decisions still works."
)
SHORT_TERM_STATUSES = {"503": "Redis (short-term memory) is unreachable."}
LONG_TERM_STATUSES = {"503": "Qdrant (long-term memory) or the embedder is unavailable."}


# --- experiences ----------------------------------------------------------------------------------


class TagsFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """`?tags=btc,oversold`: experiences carrying every one of these tags (the GIN index)."""

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(situation_tags__contains=[v.strip() for v in value if v.strip()])


class ExperienceFilter(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    tags = TagsFilter(help_text="Comma-separated; all must be present.")
    min_importance = django_filters.NumberFilter(field_name="importance_score", lookup_expr="gte")
    decision_id = django_filters.CharFilter(field_name="decision_ref_id")
    since = UtcDateTimeFilter(field_name="datetime", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="datetime", lookup_expr="lt")

    class Meta:
        model = Experience
        fields = ["outcome", "symbol", "tags", "min_importance", "decision_id", "since", "until"]


class ExperienceViewSet(RecordViewSet):
    queryset = Experience.objects.all()
    serializer_class = s.ExperienceSerializer
    filterset_class = ExperienceFilter

    @extend_schema(
        summary="Record an experience (PostgreSQL first; long-term memory follows). Honours Idempotency-Key",
        request=s.ExperienceCreateSerializer,
        responses={201: s.ExperienceSerializer},
        parameters=[IDEMPOTENCY_PARAM],
    )
    def create(self, request, *args, **kwargs):
        def create_once() -> Response:
            if not isinstance(request.data, dict):
                raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
            data, used = s.ExperienceCreateSerializer.normalise(request.data)
            serializer = s.ExperienceCreateSerializer(data=data, context={"request": request})
            with errors_as_sent(used):
                serializer.is_valid(raise_exception=True)
                fields = dict(serializer.validated_data)
                fields.setdefault("id", f"exp_{uuid.uuid4().hex}")
                with transaction.atomic():
                    experience = experience_create(**fields)
                    agent_writes_record(
                        agent=request.user,
                        resource="experiences",
                        action=WriteAction.CREATED,
                        object_ids=[experience.pk],
                    )
            experience.refresh_from_db()
            return Response(s.ExperienceSerializer(experience).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create_once)

    @extend_schema(
        summary="Review an experience: reflection, lessons, tags, importance (only those sent change)",
        request=s.ExperiencePatchSerializer,
        responses={200: s.ExperienceSerializer},
    )
    def partial_update(self, request, *args, **kwargs):
        experience = self.get_object()
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        data, used = s.ExperiencePatchSerializer.normalise(request.data)
        serializer = s.ExperiencePatchSerializer(data=data, context={"request": request})
        with errors_as_sent(used):
            serializer.is_valid(raise_exception=True)
            given = serializer.validated_data
            with transaction.atomic():
                updated = experience_annotate(
                    experience=experience,
                    reflection=given.get("reflection", UNSET),
                    lessons_learned=given.get("lessons_learned", UNSET),
                    situation_tags=given.get("situation_tags", UNSET),
                    importance_score=given.get("importance_score", UNSET),
                )
                agent_writes_record(
                    agent=request.user,
                    resource="experiences",
                    action=WriteAction.UPDATED,
                    object_ids=[updated.pk],
                )
        updated.refresh_from_db()
        return Response(s.ExperienceSerializer(updated).data)


# --- recall ---------------------------------------------------------------------------------------


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


class RecallView(APIView):
    extra_error_statuses = LONG_TERM_STATUSES

    @extend_schema(
        summary="Recall similar experiences, ranked, with their score components",
        request=s.RecallSerializer,
        responses={200: s.RecallResultSerializer},
    )
    def post(self, request):
        serializer = s.RecallSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        query = dict(serializer.validated_data)
        with errors_as_sent({}):
            try:
                hits = memory_recall(**query)
            except LongTermMemoryError as exc:
                raise ServiceUnavailable(
                    f"Long-term memory is unavailable: {exc}", code="long_term_memory_unavailable"
                ) from exc
        # PostgreSQL is the record: the hits are shown as it holds them now.
        experiences = Experience.objects.in_bulk([hit.experience_id for hit in hits])
        shown = [hit for hit in hits if hit.experience_id in experiences]
        results = [
            {
                "rank": rank,
                "score": _finite(hit.score),
                "components": {
                    "similarity": _finite(hit.similarity),
                    "importance": _finite(hit.importance),
                    "recency": _finite(hit.recency),
                },
                "explanation": {
                    key: (_finite(value) if isinstance(value, float) else value)
                    for key, value in hit.explanation.items()
                },
                "experience": s.ExperienceSerializer(experiences[hit.experience_id]).data,
            }
            for rank, hit in enumerate(shown, start=1)
        ]
        return Response(
            {"recall_id": hits.recall_id, "query_features": hits.query_features, "results": results}
        )


class RecallLinkView(APIView):
    @extend_schema(
        summary="Link a kept recall to the decision it was made for",
        request=s.RecallLinkSerializer,
        responses={200: s.RecallLinkResultSerializer},
    )
    def post(self, request, recall_id: int):
        data = _valid(s.RecallLinkSerializer, request.data)
        with errors_as_sent({}):
            recall = recall_link(recall_id=int(recall_id), decision_id=data["decision_id"])
        return Response({"recall_id": recall.pk, "decision_id": recall.decision_id})


class PlaybookView(APIView):
    @extend_schema(
        summary="The playbook: lessons that recur across experiences, per tag",
        parameters=[s.PlaybookQuery],
        responses={200: s.PlaybookSerializer},
    )
    def get(self, request):
        query = _query(s.PlaybookQuery, request)
        with errors_as_sent({}):
            book = playbook(tag=query.get("tag"), min_experiences=query.get("min_experiences"))
        return Response(
            {
                "tags": [
                    {"tag": tag, "lessons": [lesson.__dict__ for lesson in lessons]}
                    for tag, lessons in book.items()
                ]
            }
        )


# --- short-term memory ------------------------------------------------------------------------------


def _valid(serializer_class, data) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _query(serializer_class, request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _written(ok: bool, key: str, ttl: int) -> Response:
    if not ok:
        raise ServiceUnavailable(REDIS_DOWN, code="short_term_memory_unavailable")
    return Response({"stored": True, "key": key, "ttl_seconds": ttl})


def _found(value: Any, what: str) -> Any:
    """A read's value; on a miss, a 503 if Redis is down, else a 404 saying what was not there."""
    if value is None:
        if not short_term.short_term_health().ok:
            raise ServiceUnavailable(REDIS_DOWN, code="short_term_memory_unavailable")
        raise NotFound(f"No {what} in short-term memory (expired, or never written).")
    return value


def _empty_or_down(value):
    if not value and not short_term.short_term_health().ok:
        raise ServiceUnavailable(REDIS_DOWN, code="short_term_memory_unavailable")
    return value


class ShortTermView(APIView):
    extra_error_statuses = SHORT_TERM_STATUSES


class MarketContextView(ShortTermView):
    @extend_schema(
        summary="Market context of a symbol",
        parameters=[OpenApiParameter("symbol", str, required=True)],
        responses={200: s.MarketContextSerializer},
    )
    def get(self, request):
        symbol = _query(s.SymbolQuery, request)["symbol"]
        context = _found(short_term.market_context_get(symbol=symbol), f"market context for {symbol}")
        return Response({"symbol": symbol, "context": context})

    @extend_schema(
        summary="Keep the market context of a symbol (5 minutes)",
        request=s.MarketContextSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.MarketContextSerializer, request.data)
        ok = short_term.market_context_set(symbol=data["symbol"], context=data["context"])
        return _written(ok, short_term.market_context_key(data["symbol"]), short_term.MARKET_CONTEXT_TTL)


class TradingContextView(ShortTermView):
    @extend_schema(summary="The trading context", responses={200: s.TradingContextSerializer})
    def get(self, request):
        return Response({"context": _found(short_term.trading_context_get(), "trading context")})

    @extend_schema(
        summary="Keep the trading context (1 hour)",
        request=s.TradingContextSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.TradingContextSerializer, request.data)
        ok = short_term.trading_context_set(context=data["context"])
        return _written(ok, short_term.trading_context_key(), short_term.TRADING_CONTEXT_TTL)


class TickerView(ShortTermView):
    @extend_schema(
        summary="One symbol's ticker",
        parameters=[OpenApiParameter("symbol", str, required=True)],
        responses={200: s.TickerSerializer},
    )
    def get(self, request):
        symbol = _query(s.SymbolQuery, request)["symbol"]
        return Response(
            {"symbol": symbol, "ticker": _found(short_term.ticker_get(symbol=symbol), f"ticker for {symbol}")}
        )

    @extend_schema(
        summary="Keep one ticker (10 seconds)",
        request=s.TickerSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.TickerSerializer, request.data)
        ok = short_term.ticker_set(symbol=data["symbol"], ticker=data["ticker"])
        return _written(ok, short_term.ticker_key(data["symbol"]), short_term.TICKER_TTL)


class TickersView(ShortTermView):
    @extend_schema(
        summary="The last tickers snapshot (the market:tickers hash): all, or the symbols asked for",
        parameters=[OpenApiParameter("symbols", str, description="Comma-separated.")],
        responses={200: s.TickersSerializer},
    )
    def get(self, request):
        query = _query(s.TickersQuery, request)
        symbols = (
            [x.strip() for x in query["symbols"].split(",") if x.strip()] if query.get("symbols") else None
        )
        return Response({"tickers": _empty_or_down(short_term.tickers_get_many(symbols=symbols))})

    @extend_schema(
        summary="Keep many tickers at once in one pipeline (10 seconds)",
        request=s.TickersSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.TickersSerializer, request.data)
        ok = short_term.tickers_set_many(tickers=data["tickers"])
        return _written(ok, short_term.tickers_hash_key(), short_term.TICKER_TTL)


class OrderbookView(ShortTermView):
    @extend_schema(
        summary="A symbol's order book",
        parameters=[OpenApiParameter("symbol", str, required=True)],
        responses={200: s.OrderbookSerializer},
    )
    def get(self, request):
        symbol = _query(s.SymbolQuery, request)["symbol"]
        book = _found(short_term.orderbook_get(symbol=symbol), f"order book for {symbol}")
        return Response({"symbol": symbol, "orderbook": book})

    @extend_schema(
        summary="Keep a symbol's order book (30 seconds)",
        request=s.OrderbookSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.OrderbookSerializer, request.data)
        ok = short_term.orderbook_set(symbol=data["symbol"], orderbook=data["orderbook"])
        return _written(ok, short_term.orderbook_key(data["symbol"]), short_term.ORDERBOOK_TTL)


class PricesView(ShortTermView):
    @extend_schema(
        summary="The last N prices of a symbol and timeframe, newest first",
        parameters=[
            OpenApiParameter("symbol", str, required=True),
            OpenApiParameter("timeframe", str, required=True),
            OpenApiParameter("limit", int),
        ],
        responses={200: s.PricesSerializer},
    )
    def get(self, request):
        query = _query(s.PricesQuery, request)
        prices = short_term.market_prices_get(
            symbol=query["symbol"], timeframe=query["timeframe"], limit=query["limit"]
        )
        _empty_or_down(prices)
        return Response(
            {"symbol": query["symbol"], "timeframe": query["timeframe"], "prices": [str(p) for p in prices]}
        )

    @extend_schema(
        summary="Push one price, or many in one pipeline (the list keeps the last 100 for 1 hour)",
        request=s.PricesPushSerializer,
        responses={200: s.StoredSerializer},
    )
    def post(self, request):
        data = _valid(s.PricesPushSerializer, request.data)
        prices = data.get("prices") or [data["price"]]
        with short_term.short_term_batch() as batch:
            for price in prices:
                batch.market_price_push(symbol=data["symbol"], timeframe=data["timeframe"], price=price)
        key = short_term.market_prices_key(data["symbol"], data["timeframe"])
        return _written(bool(batch.written), key, short_term.MARKET_PRICES_TTL)


class IndicatorView(ShortTermView):
    @extend_schema(
        summary="An indicator's value by symbol, name and params",
        parameters=[
            OpenApiParameter("symbol", str, required=True),
            OpenApiParameter("name", str, required=True),
            OpenApiParameter("params", str, required=True),
        ],
        responses={200: s.IndicatorSerializer},
    )
    def get(self, request):
        query = _query(s.IndicatorQuery, request)
        value = _found(
            short_term.indicator_get(
                symbol=query["symbol"], indicator_name=query["name"], params=query["params"]
            ),
            f"{query['name']}({query['params']}) for {query['symbol']}",
        )
        return Response({**query, "value": value})

    @extend_schema(
        summary="Keep an indicator's value (5 minutes)",
        request=s.IndicatorSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.IndicatorSerializer, request.data)
        ok = short_term.indicator_set(
            symbol=data["symbol"], indicator_name=data["name"], params=data["params"], value=data["value"]
        )
        key = short_term.indicator_key(data["symbol"], data["name"], data["params"])
        return _written(ok, key, short_term.INDICATOR_TTL)


class DecisionCacheView(ShortTermView):
    @extend_schema(
        summary="Store the decision taken for a context (5 minutes)",
        request=s.DecisionCacheSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.DecisionCacheSerializer, request.data)
        ok = short_term.decision_cache_set(context=data["context"], decision=data["decision"])
        return _written(ok, short_term.decision_cache_key(data["context"]), short_term.DECISION_CACHE_TTL)


class DecisionCacheLookupView(ShortTermView):
    @extend_schema(
        summary="The decision cached for this context, if any (404 on a miss)",
        request=s.DecisionCacheLookupSerializer,
        responses={200: s.DecisionCacheSerializer},
    )
    def post(self, request):
        data = _valid(s.DecisionCacheLookupSerializer, request.data)
        decision = _found(
            short_term.decision_cache_get(context=data["context"]), "decision cached for this context"
        )
        return Response({"context": data["context"], "decision": decision})


class PortfolioPositionsView(ShortTermView):
    @extend_schema(summary="The cached portfolio positions", responses={200: s.PortfolioPositionsSerializer})
    def get(self, request):
        return Response(
            {"positions": _found(short_term.portfolio_positions_get(), "cached portfolio positions")}
        )

    @extend_schema(
        summary="Cache the portfolio positions (1 minute)",
        request=s.PortfolioPositionsSerializer,
        responses={200: s.StoredSerializer},
    )
    def put(self, request):
        data = _valid(s.PortfolioPositionsSerializer, request.data)
        ok = short_term.portfolio_positions_set(positions=data["positions"])
        return _written(ok, short_term.portfolio_positions_key(), short_term.PORTFOLIO_POSITIONS_TTL)


class RateLimitCheckView(ShortTermView):
    @extend_schema(
        summary="Count one call to an exchange endpoint: allowed, or retry_after seconds (ask before it)",
        request=s.RateLimitCheckSerializer,
        responses={200: s.RateLimitResultSerializer},
    )
    def post(self, request):
        data = _valid(s.RateLimitCheckSerializer, request.data)
        decision = short_term.ratelimit_hit(
            exchange=data["exchange"], endpoint=data["endpoint"], limit=data["limit"], window=data["window"]
        )
        if decision.count is None:
            # The limiter fails closed: it cannot count, so the call must wait.
            error = ServiceUnavailable(decision.reason, code="short_term_memory_unavailable")
            error.wait = decision.retry_after
            raise error
        body = {
            "allowed": decision.allowed,
            "retry_after": decision.retry_after,
            "count": decision.count,
            "limit": decision.limit,
            "reason": decision.reason,
        }
        headers = {} if decision.allowed else {"Retry-After": str(decision.retry_after)}
        return Response(body, headers=headers)
