"""GET/POST /api/v1/system-events/."""

import django_filters
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.agents.api.idempotency import IDEMPOTENCY_PARAM, idempotent
from apps.agents.models import WriteAction
from apps.agents.services import agent_writes_record
from apps.common.api.exceptions import Conflict
from apps.common.api.filters import UtcDateTimeFilter
from apps.common.api.viewsets import RecordViewSet
from apps.system_events.models import Severity, SystemEvent
from apps.system_events.services import system_event_record

from .serializers import SystemEventCreateSerializer, SystemEventSerializer


class SystemEventFilter(django_filters.FilterSet):
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, help_text="Repeat for several.")
    since = UtcDateTimeFilter(field_name="datetime", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="datetime", lookup_expr="lt")

    class Meta:
        model = SystemEvent
        fields = ["event_type", "severity", "related_order_id", "related_symbol", "since", "until"]


class SystemEventViewSet(RecordViewSet):
    queryset = SystemEvent.objects.all()
    serializer_class = SystemEventSerializer
    filterset_class = SystemEventFilter

    @extend_schema(
        summary="Record a system event (honours Idempotency-Key)",
        request=SystemEventCreateSerializer,
        responses={201: SystemEventSerializer},
        parameters=[IDEMPOTENCY_PARAM],
    )
    def create(self, request, *args, **kwargs):
        def create_once() -> Response:
            serializer = SystemEventCreateSerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
            try:
                with transaction.atomic():
                    event = system_event_record(event_id=data.pop("id", None), **data)
            except IntegrityError as exc:
                message = "A system event with this id is already recorded."
                raise Conflict(message, details={"id": [message]}) from exc
            agent_writes_record(
                agent=request.user,
                resource="system_events",
                action=WriteAction.CREATED,
                object_ids=[event.pk],
            )
            return Response(SystemEventSerializer(event).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create_once)
