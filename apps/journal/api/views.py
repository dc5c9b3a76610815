"""GET /api/v1/reviews/: the operators' reviews, newest first, for agents to learn from."""

import django_filters
from rest_framework import viewsets

from apps.common.api.filters import UtcDateTimeFilter
from apps.common.api.pagination import DatetimeCursorPagination
from apps.journal.models import Review, Verdict

from .serializers import ReviewSerializer


class ReviewFilter(django_filters.FilterSet):
    decision = django_filters.CharFilter(field_name="decision_id")
    experience = django_filters.CharFilter(field_name="experience_id")
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices)
    since = UtcDateTimeFilter(field_name="reviewed_at", lookup_expr="gte")

    class Meta:
        model = Review
        fields = ["decision", "experience", "verdict", "since"]


class ReviewPagination(DatetimeCursorPagination):
    ordering = ("-reviewed_at", "-id")


class ReviewViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Review.objects.all()
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    pagination_class = ReviewPagination
