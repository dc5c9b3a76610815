"""Experience list filters for the stats pages' links: each selects exactly the rows its stats row counts
(apps/journal/selectors/stats.py: entry = the decision's time, holding = decision to result)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from apps.decisions.models import DecisionLayer, ModelPrice
from apps.strategies.models import Strategy

from .selectors.stats import HOLDING_BUCKETS, WEEKDAYS


def _with_entry(queryset):
    return queryset.annotate(journal_entry=Coalesce("decision_ref__datetime", "datetime"))


class ModelFilter(admin.SimpleListFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = sorted(set(ModelPrice.objects.values_list("model", flat=True)) | {self.value()} - {None})
        return [(m, m) for m in models]

    def queryset(self, request, queryset):
        return queryset.filter(decision_ref__model_used=self.value()) if self.value() else queryset


class LayerFilter(admin.SimpleListFilter):
    title = "decision layer"
    parameter_name = "layer"

    def lookups(self, request, model_admin):
        return DecisionLayer.choices

    def queryset(self, request, queryset):
        return queryset.filter(decision_ref__decision_layer=self.value()) if self.value() else queryset


class WeekdayFilter(admin.SimpleListFilter):
    title = "weekday of entry"
    parameter_name = "weekday"

    def lookups(self, request, model_admin):
        return [(str(n), name) for n, name in enumerate(WEEKDAYS, start=1)]

    def queryset(self, request, queryset):
        if self.value() not in {str(n) for n in range(1, 8)}:
            return queryset
        return _with_entry(queryset).filter(journal_entry__iso_week_day=int(self.value()))


class HourFilter(admin.SimpleListFilter):
    title = "hour of entry (UTC)"
    parameter_name = "hour"

    def lookups(self, request, model_admin):
        return [(str(h), f"{h:02d}:00") for h in range(24)]

    def queryset(self, request, queryset):
        if self.value() not in {str(h) for h in range(24)}:
            return queryset
        return _with_entry(queryset).filter(journal_entry__hour=int(self.value()))


class HoldingFilter(admin.SimpleListFilter):
    title = "holding time"
    parameter_name = "holding"

    def lookups(self, request, model_admin):
        return [(key, label) for key, label, _, _ in HOLDING_BUCKETS]

    def queryset(self, request, queryset):
        bucket = next((b for b in HOLDING_BUCKETS if b[0] == self.value()), None)
        if bucket is None:
            return queryset
        _, _, low, high = bucket
        held = queryset.filter(
            decision_ref__isnull=False, datetime__gte=F("decision_ref__datetime")
        ).annotate(journal_held=F("datetime") - F("decision_ref__datetime"))
        held = held.filter(journal_held__gte=timedelta(hours=low))
        return held.filter(journal_held__lt=timedelta(hours=high)) if high is not None else held


class StrategyVersionFilter(admin.SimpleListFilter):
    title = "strategy version at entry"
    parameter_name = "strategy"

    def lookups(self, request, model_admin):
        versions = Strategy.objects.filter(activated_at__isnull=False).order_by("name", "-activated_at")
        return [(str(s.pk), str(s)) for s in versions]

    def queryset(self, request, queryset):
        if not (self.value() or "").isdigit():
            return queryset
        strategy = Strategy.objects.filter(pk=int(self.value()), activated_at__isnull=False).first()
        if strategy is None:
            return queryset.none()
        window = Q(journal_entry__gte=strategy.activated_at)
        if strategy.deactivated_at is not None:
            window &= Q(journal_entry__lt=strategy.deactivated_at)
        return _with_entry(queryset).filter(window)


STATS_FILTERS = [StrategyVersionFilter, ModelFilter, LayerFilter, WeekdayFilter, HourFilter, HoldingFilter]
# The stats page's dimension -> the experiences changelist's parameter for its link.
LINK_PARAMETERS = {
    "tag": "tag", "symbol": "symbol", "strategy": "strategy", "model": "model", "layer": "layer",
    "weekday": "weekday", "hour": "hour", "holding": "holding",
}  # fmt: skip
