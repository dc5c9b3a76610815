"""Reconciliation's routes on the API router."""

from .views import DiscrepancyViewSet, RunViewSet


def register(router) -> None:
    router.register("reconciliation/runs", RunViewSet, basename="reconciliation-run")
    router.register("reconciliation/discrepancies", DiscrepancyViewSet, basename="reconciliation-discrepancy")
