"""GET/POST /api/v1/reconciliation/runs/ and GET /api/v1/reconciliation/discrepancies/."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from apps.common.api.exceptions import Conflict
from apps.common.api.pagination import NumberedPagination
from apps.reconciliation.models import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyState,
    ReconciliationRun,
    RunStatus,
    RunTrigger,
)
from apps.reconciliation.services.runs import ReconciliationBusy, reconciliation_run

from .serializers import DiscrepancySerializer, RunSerializer, RunStartSerializer, RunWithDriftSerializer


class RunFilter(django_filters.FilterSet):
    exchange = django_filters.CharFilter(field_name="exchange__name")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = ReconciliationRun
        fields = ["exchange", "status"]


class DiscrepancyFilter(django_filters.FilterSet):
    exchange = django_filters.CharFilter(field_name="exchange__name")
    kind = django_filters.MultipleChoiceFilter(
        choices=DiscrepancyKind.choices, help_text="Repeat for several."
    )
    state = django_filters.ChoiceFilter(choices=DiscrepancyState.choices)

    class Meta:
        model = Discrepancy
        fields = ["exchange", "kind", "state", "symbol", "run"]


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ReconciliationRun.objects.select_related("exchange").order_by("-started_at", "-id")
    serializer_class = RunSerializer
    filterset_class = RunFilter
    pagination_class = NumberedPagination

    @extend_schema(
        summary="Reconcile an exchange account now (at start-up, before trading); answers when it is done",
        request=RunStartSerializer,
        responses={201: RunWithDriftSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = RunStartSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            run = reconciliation_run(
                exchange=serializer.validated_data["exchange"],
                since=serializer.validated_data.get("since"),
                trigger=RunTrigger.API,
                triggered_by=getattr(request.user, "name", ""),
            )
        except ReconciliationBusy as busy:
            raise Conflict(str(busy), code="reconciliation_running") from busy
        return Response(RunWithDriftSerializer(run).data, status=status.HTTP_201_CREATED)


class DiscrepancyViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Discrepancy.objects.select_related("exchange").order_by("-created_at", "-id")
    serializer_class = DiscrepancySerializer
    filterset_class = DiscrepancyFilter
    pagination_class = NumberedPagination
