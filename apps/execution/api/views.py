"""Orders, trades, positions and the current-positions view for agents."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.agents.api.ingest import Written, ingest, ingest_result_schema
from apps.agents.models import WriteAction
from apps.agents.services import agent_writes_record
from apps.common.api.exceptions import ApiError
from apps.common.api.viewsets import RecordViewSet
from apps.execution.models import CurrentPosition, Order, Position, Trade
from apps.execution.services.orders import OrderConflict, order_upsert
from apps.execution.services.positions import position_close, position_open_or_update
from apps.execution.services.trades import TradeConflict, trade_record, trades_record_many

from .filters import CurrentPositionFilter, OrderFilter, PositionFilter, TradeFilter
from .serializers import (
    CurrentPositionSerializer,
    OrderIngestSerializer,
    OrderSerializer,
    PositionCloseBySymbolSerializer,
    PositionCloseSerializer,
    PositionIngestSerializer,
    PositionSerializer,
    TradeIngestSerializer,
    TradeSerializer,
)

EXCHANGE_PARAM = OpenApiParameter(
    "exchange",
    str,
    description="The exchange for items that do not name one (ccxt's structures carry no exchange).",
)


def _actor(request) -> str | None:
    return getattr(request.user, "name", None)


@extend_schema_view(
    list=extend_schema(summary="Orders, newest first (cursor-paginated)"),
    retrieve=extend_schema(summary="One order by the exchange's id"),
)
class OrderViewSet(RecordViewSet):
    queryset = Order.objects.select_related("exchange")
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    batch_actions = ("create",)

    @extend_schema(
        summary="Record or update orders (one, or a list of up to 1,000): ccxt's unified order as is",
        request=OrderIngestSerializer,
        responses={
            200: ingest_result_schema("Order", OrderSerializer),
            201: ingest_result_schema("Order", OrderSerializer),
        },
        parameters=[EXCHANGE_PARAM],
    )
    def create(self, request, *args, **kwargs):
        actor = _actor(request)

        def write(data: dict) -> Written:
            result = order_upsert(
                exchange=data["exchange"],
                order_id=data["id"],
                client_order_id=data.get("client_order_id"),
                symbol=data["symbol"],
                side=data["side"],
                type=data["type"],
                status=data["status"],
                amount=data["amount"],
                timestamp=data["timestamp"],
                filled=data.get("filled"),
                price=data.get("price"),
                cost=data.get("cost"),
                average=data.get("average"),
                fee=data.get("fee"),
                fee_currency=data.get("fee_currency"),
                stop_price=data.get("stop_price"),
                take_profit_price=data.get("take_profit_price"),
                stop_loss_price=data.get("stop_loss_price"),
                decision_id=data.get("decision_id"),
                raw_data=data.get("raw_data"),
                actor=actor,
            )
            return Written(result.order, result.outcome)

        return ingest(
            request=request,
            input_serializer=OrderIngestSerializer,
            output_serializer=OrderSerializer,
            write=write,
            resource="orders",
            conflicts=(OrderConflict,),
            label="order",
            context={"default_exchange": request.query_params.get("exchange")},
        )


@extend_schema_view(
    list=extend_schema(summary="Trades, newest first (cursor-paginated)"),
    retrieve=extend_schema(summary="One trade by the exchange's id"),
)
class TradeViewSet(RecordViewSet):
    queryset = Trade.objects.select_related("exchange")
    serializer_class = TradeSerializer
    filterset_class = TradeFilter
    batch_actions = ("create",)

    @extend_schema(
        summary="Record trades (one, or a list of up to 1,000): ccxt's unified trade as is; repeat = no-op",
        request=TradeIngestSerializer,
        responses={
            200: ingest_result_schema("Trade", TradeSerializer),
            201: ingest_result_schema("Trade", TradeSerializer),
        },
        parameters=[EXCHANGE_PARAM],
    )
    def create(self, request, *args, **kwargs):
        def arguments(data: dict) -> dict:
            return {
                "exchange": data["exchange"],
                "trade_id": data["id"],
                "symbol": data["symbol"],
                "side": data["side"],
                "price": data["price"],
                "amount": data["amount"],
                "timestamp": data["timestamp"],
                "order_id": data.get("order_id"),
                "cost": data.get("cost"),
                "fee": data.get("fee"),
                "fee_currency": data.get("fee_currency"),
                "raw_data": data.get("raw_data"),
            }

        def write(data: dict) -> Written:
            result = trade_record(**arguments(data))
            return Written(result.trade, result.outcome)

        def write_many(items: list[dict]) -> list[Written | Exception]:
            results = trades_record_many(trades=[arguments(data) for data in items])
            return [r if isinstance(r, Exception) else Written(r.trade, r.outcome) for r in results]

        return ingest(
            request=request,
            input_serializer=TradeIngestSerializer,
            output_serializer=TradeSerializer,
            write=write,
            write_many=write_many,
            resource="trades",
            conflicts=(TradeConflict,),
            label="trade",
            context={"default_exchange": request.query_params.get("exchange")},
        )


class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Position.objects.select_related("exchange").order_by("-opened_at", "-pk")
    serializer_class = PositionSerializer
    filterset_class = PositionFilter
    batch_actions = ("create",)

    @extend_schema(
        summary="Open or update positions, one per exchange and symbol (one, or a list)",
        request=PositionIngestSerializer,
        responses={
            200: ingest_result_schema("Position", PositionSerializer),
            201: ingest_result_schema("Position", PositionSerializer),
        },
    )
    def create(self, request, *args, **kwargs):
        def write(data: dict) -> Written:
            result = position_open_or_update(**data)
            return Written(result.position, result.outcome)

        return ingest(
            request=request,
            input_serializer=PositionIngestSerializer,
            output_serializer=PositionSerializer,
            write=write,
            resource="positions",
            label="position",
        )

    @extend_schema(
        summary="Close this position (is_open false, closed_at set); closing it again changes nothing",
        request=PositionCloseSerializer,
        responses={200: PositionSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        position = self.get_object()
        data = _valid(PositionCloseSerializer, request)
        return self._close(request, position, data)

    @extend_schema(
        summary="Close the open position for an exchange and symbol",
        operation_id="positions_close_by_symbol",
        request=PositionCloseBySymbolSerializer,
        responses={200: PositionSerializer},
    )
    @action(detail=False, methods=["post"], url_path="close")
    def close_by_symbol(self, request):
        data = _valid(PositionCloseBySymbolSerializer, request)
        position = get_object_or_404(
            Position.objects.select_related("exchange"),
            exchange=data.pop("exchange"),
            symbol=data.pop("symbol"),
            is_open=True,
        )
        return self._close(request, position, data)

    def _close(self, request, position: Position, data: dict) -> Response:
        try:
            result = position_close(position=position, **data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        if result.outcome == "closed":
            agent_writes_record(
                agent=request.user, resource="positions", action=WriteAction.CLOSED, object_ids=[position.pk]
            )
        return Response(PositionSerializer(result.position).data)


class CurrentPositionViewSet(viewsets.ReadOnlyModelViewSet):
    """The database view current_positions: every open position."""

    queryset = CurrentPosition.objects.select_related("exchange").order_by("-opened_at", "-pk")
    serializer_class = CurrentPositionSerializer
    filterset_class = CurrentPositionFilter


def _valid(serializer_class, request) -> dict:
    data = request.data if request.data is not None else {}
    if not isinstance(data, dict):
        raise ApiError("Expected a JSON object.", code="invalid")
    serializer = serializer_class(data=data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
