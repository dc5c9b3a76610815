"""GET /api/v1/exchanges/ and /api/v1/exchanges/{name}/."""

import django_filters
from rest_framework import viewsets

from apps.exchanges.models import Exchange

from .serializers import ExchangeSerializer


class ExchangeFilter(django_filters.FilterSet):
    class Meta:
        model = Exchange
        fields = ["is_active", "testnet"]


class ExchangeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Exchange.objects.order_by("name")
    serializer_class = ExchangeSerializer
    filterset_class = ExchangeFilter
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
