"""GET/POST /api/v1/portfolio-snapshots/ and /api/v1/cash-flows/."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets

from apps.agents.api.ingest import Written, ingest, ingest_result_schema
from apps.portfolio.models import CashFlow, CashFlowSource, PortfolioSnapshot
from apps.portfolio.services.flows import cash_flow_record, cash_flow_transfer
from apps.portfolio.services.snapshots import portfolio_snapshot_upsert

from .serializers import (
    CashFlowIngestSerializer,
    CashFlowSerializer,
    PortfolioSnapshotIngestSerializer,
    PortfolioSnapshotSerializer,
)


class PortfolioSnapshotFilter(django_filters.FilterSet):
    exchange = django_filters.CharFilter(field_name="exchange__name")
    since = django_filters.DateFilter(
        field_name="snapshot_date", lookup_expr="gte", help_text="snapshot_date >="
    )
    until = django_filters.DateFilter(
        field_name="snapshot_date", lookup_expr="lte", help_text="snapshot_date <="
    )

    class Meta:
        model = PortfolioSnapshot
        fields = ["exchange", "snapshot_date", "since", "until"]


_RESULT = ingest_result_schema("PortfolioSnapshot", PortfolioSnapshotSerializer)


class PortfolioSnapshotViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PortfolioSnapshot.objects.select_related("exchange").order_by("-snapshot_date", "-pk")
    serializer_class = PortfolioSnapshotSerializer
    filterset_class = PortfolioSnapshotFilter
    batch_actions = ("create",)

    @extend_schema(
        summary="Record the day's snapshot per exchange; a second one the same day replaces it",
        request=PortfolioSnapshotIngestSerializer,
        responses={200: _RESULT, 201: _RESULT},
    )
    def create(self, request, *args, **kwargs):
        def write(data: dict) -> Written:
            data = dict(data)
            outcome = portfolio_snapshot_upsert(moment=data.pop("datetime", None), **data)
            return Written(outcome.snapshot, "created" if outcome.created else "updated")

        return ingest(
            request=request,
            input_serializer=PortfolioSnapshotIngestSerializer,
            output_serializer=PortfolioSnapshotSerializer,
            write=write,
            resource="portfolio_snapshots",
            label="snapshot",
        )


class CashFlowFilter(django_filters.FilterSet):
    exchange = django_filters.CharFilter(field_name="exchange__name")
    since = django_filters.IsoDateTimeFilter(
        field_name="datetime", lookup_expr="gte", help_text="datetime >="
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="datetime", lookup_expr="lte", help_text="datetime <="
    )

    class Meta:
        model = CashFlow
        fields = ["exchange", "kind", "currency", "source", "since", "until"]


_FLOW_RESULT = ingest_result_schema("CashFlow", CashFlowSerializer)


class CashFlowViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CashFlow.objects.select_related("exchange").order_by("-datetime", "-pk")
    serializer_class = CashFlowSerializer
    filterset_class = CashFlowFilter
    batch_actions = ("create",)

    @extend_schema(
        summary="Record deposits, withdrawals and transfers between accounts (each external_id once)",
        request=CashFlowIngestSerializer,
        responses={200: _FLOW_RESULT, 201: _FLOW_RESULT},
    )
    def create(self, request, *args, **kwargs):
        agent = getattr(request.user, "name", "") or ""

        def write(data: dict) -> Written:
            data = dict(data)
            moment, kind, to_exchange = (
                data.pop("datetime", None),
                data.pop("kind"),
                data.pop("to_exchange", None),
            )
            if kind == "transfer":
                out, _ = cash_flow_transfer(
                    from_exchange=data.pop("exchange"), to_exchange=to_exchange, moment=moment,
                    source=CashFlowSource.API, recorded_by=agent, **data,
                )  # fmt: skip
                return Written(out, "created")
            outcome = cash_flow_record(
                kind=kind, moment=moment, source=CashFlowSource.API, recorded_by=agent, **data
            )
            return Written(outcome.flow, "created" if outcome.created else "unchanged")

        return ingest(
            request=request,
            input_serializer=CashFlowIngestSerializer,
            output_serializer=CashFlowSerializer,
            write=write,
            resource="cash_flows",
            label="cash flow",
        )
