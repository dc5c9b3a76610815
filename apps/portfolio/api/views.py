"""GET/POST /api/v1/portfolio-snapshots/."""

import django_filters
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import viewsets

from apps.agents.api.ingest import BatchResultSerializer, Written, ingest
from apps.portfolio.models import PortfolioSnapshot
from apps.portfolio.services import portfolio_snapshot_upsert

from .serializers import PortfolioSnapshotIngestSerializer, PortfolioSnapshotSerializer


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


_RESULT = PolymorphicProxySerializer(
    component_name="PortfolioSnapshotIngestResult",
    serializers=[
        PortfolioSnapshotSerializer,
        type(
            "PortfolioSnapshotBatchResult",
            (BatchResultSerializer,),
            {"results": PortfolioSnapshotSerializer(many=True, read_only=True)},
        ),
    ],
    resource_type_field_name=None,
)


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
