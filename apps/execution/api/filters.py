"""Query filters for orders, trades and positions (`?symbol=BTC/USDT&status=open&since=...`)."""

import django_filters

from apps.common.api.filters import UtcDateTimeFilter
from apps.execution.models import CurrentPosition, Order, OrderStatus, OrderType, Position, Side, Trade


class _TimeRange(django_filters.FilterSet):
    exchange = django_filters.CharFilter(field_name="exchange__name", help_text="The exchange's ccxt id.")
    since = UtcDateTimeFilter(field_name="datetime", lookup_expr="gte", help_text="datetime >=")
    until = UtcDateTimeFilter(field_name="datetime", lookup_expr="lt", help_text="datetime <")


class OrderFilter(_TimeRange):
    side = django_filters.ChoiceFilter(choices=Side.choices)
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, help_text="Repeat for several.")
    type = django_filters.ChoiceFilter(choices=OrderType.choices)

    class Meta:
        model = Order
        fields = [
            "exchange",
            "symbol",
            "side",
            "status",
            "type",
            "client_order_id",
            "decision_id",
            "since",
            "until",
        ]


class TradeFilter(_TimeRange):
    side = django_filters.ChoiceFilter(choices=Side.choices)
    order_id = django_filters.CharFilter(field_name="order_id")

    class Meta:
        model = Trade
        fields = ["exchange", "symbol", "side", "order_id", "since", "until"]


class PositionFilter(django_filters.FilterSet):
    exchange = django_filters.CharFilter(field_name="exchange__name")
    side = django_filters.ChoiceFilter(choices=Side.choices)

    class Meta:
        model = Position
        fields = ["exchange", "symbol", "side", "is_open"]


class CurrentPositionFilter(django_filters.FilterSet):
    exchange = django_filters.CharFilter(field_name="exchange__name")
    side = django_filters.ChoiceFilter(choices=Side.choices)

    class Meta:
        model = CurrentPosition
        fields = ["exchange", "symbol", "side"]
