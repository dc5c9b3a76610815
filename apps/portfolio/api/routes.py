"""The portfolio app's routes on the API router."""

from .views import PortfolioSnapshotViewSet


def register(router) -> None:
    router.register("portfolio-snapshots", PortfolioSnapshotViewSet, basename="portfolio-snapshot")
