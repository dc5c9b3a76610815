"""The portfolio app's routes on the API router."""

from .views import CashFlowViewSet, PortfolioSnapshotViewSet


def register(router) -> None:
    router.register("portfolio-snapshots", PortfolioSnapshotViewSet, basename="portfolio-snapshot")
    router.register("cash-flows", CashFlowViewSet, basename="cash-flow")
