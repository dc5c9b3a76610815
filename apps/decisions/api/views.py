"""GET/POST /api/v1/decisions/."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.agents.api.idempotency import IDEMPOTENCY_PARAM, idempotent
from apps.agents.models import WriteAction
from apps.agents.services import agent_writes_record
from apps.common.api.exceptions import Conflict
from apps.common.api.filters import UtcDateTimeFilter
from apps.common.api.viewsets import RecordViewSet
from apps.decisions.models import Decision, DecisionLayer
from apps.decisions.services import DecisionConflict, decision_record

from .serializers import DecisionCreateSerializer, DecisionSerializer


class DecisionFilter(django_filters.FilterSet):
    decision_layer = django_filters.ChoiceFilter(choices=DecisionLayer.choices)
    since = UtcDateTimeFilter(field_name="datetime", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="datetime", lookup_expr="lt")

    class Meta:
        model = Decision
        fields = ["decision_layer", "model_used", "action_taken", "since", "until"]


class DecisionViewSet(RecordViewSet):
    queryset = Decision.objects.all()
    serializer_class = DecisionSerializer
    filterset_class = DecisionFilter

    @extend_schema(
        summary="Record a decision (honours Idempotency-Key)",
        request=DecisionCreateSerializer,
        responses={201: DecisionSerializer},
        parameters=[IDEMPOTENCY_PARAM],
    )
    def create(self, request, *args, **kwargs):
        def create_once() -> Response:
            serializer = DecisionCreateSerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
            try:
                decision = decision_record(decision_id=data.pop("id", None), **data)
            except DecisionConflict as exc:
                raise Conflict(str(exc), details={"id": [str(exc)]}) from exc
            agent_writes_record(
                agent=request.user, resource="decisions", action=WriteAction.CREATED, object_ids=[decision.pk]
            )
            return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create_once)
