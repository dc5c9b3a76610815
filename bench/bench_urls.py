"""The API as deployed, and beside it the plain DRF way to do the same writes (the benchmarks' baseline).

/bench/plain/orders/: one order, upserted on its id by a ModelSerializer (the instance looked up, then
validated and saved). /bench/plain/trades/: a list of trades, created by a ModelSerializer(many=True)
in one transaction. Same authentication, permission and rate limit as the API; snake_case bodies.
"""

from django.db import transaction
from django.urls import include, path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.execution.models import Order, Trade

ORDER_FIELDS = [
    "id", "client_order_id", "exchange", "symbol", "side", "type", "status", "price", "amount", "filled",
    "remaining", "cost", "average", "fee", "fee_currency", "timestamp", "datetime", "raw_data",
]  # fmt: skip
TRADE_FIELDS = [
    "id", "order", "exchange", "symbol", "side", "price", "amount", "cost", "fee", "fee_currency",
    "timestamp", "datetime", "raw_data",
]  # fmt: skip


class PlainOrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ORDER_FIELDS


class PlainTradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trade
        fields = TRADE_FIELDS


class PlainOrders(APIView):
    def post(self, request):
        instance = Order.objects.filter(pk=request.data.get("id")).first()
        serializer = PlainOrderSerializer(instance, data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_200_OK if instance else status.HTTP_201_CREATED)


class PlainTrades(APIView):
    def post(self, request):
        serializer = PlainTradeSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("bench/plain/orders/", PlainOrders.as_view()),
    path("bench/plain/trades/", PlainTrades.as_view()),
    path("", include("tradeoffice.urls")),
]
