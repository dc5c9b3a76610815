"""GET /api/v1/strategies/ (and the active version by name), GET /api/v1/performance-metrics/."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.strategies.models import PerformanceMetrics, Strategy

from .serializers import PerformanceMetricsSerializer, StrategySerializer


class StrategyFilter(django_filters.FilterSet):
    class Meta:
        model = Strategy
        fields = ["name", "version", "is_active"]


class StrategyViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Strategy.objects.order_by("name", "-created_at", "-pk")
    serializer_class = StrategySerializer
    filterset_class = StrategyFilter

    @extend_schema(
        summary="The active version of the strategy named `name`", responses={200: StrategySerializer}
    )
    @action(detail=False, methods=["get"], url_path=r"active/(?P<name>[^/]+)", filterset_class=None)
    def active(self, request, name: str):
        # Should two versions be active at once, the one activated last is the one in force.
        strategy = get_object_or_404(
            Strategy.objects.filter(name=name, is_active=True).order_by(
                "-activated_at", "-created_at", "-pk"
            )[:1]
        )
        return Response(StrategySerializer(strategy).data)


class PerformanceMetricsFilter(django_filters.FilterSet):
    strategy_name = django_filters.CharFilter(field_name="strategy__name")
    start_date_from = django_filters.DateFilter(field_name="start_date", lookup_expr="gte")
    end_date_until = django_filters.DateFilter(field_name="end_date", lookup_expr="lte")

    class Meta:
        model = PerformanceMetrics
        fields = ["strategy", "strategy_name", "start_date_from", "end_date_until"]


class PerformanceMetricsViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PerformanceMetrics.objects.select_related("strategy").order_by("-end_date", "-pk")
    serializer_class = PerformanceMetricsSerializer
    filterset_class = PerformanceMetricsFilter
