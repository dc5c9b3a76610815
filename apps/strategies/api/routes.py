"""The strategies app's routes on the API router."""

from .views import PerformanceMetricsViewSet, StrategyViewSet


def register(router) -> None:
    router.register("strategies", StrategyViewSet, basename="strategy")
    router.register("performance-metrics", PerformanceMetricsViewSet, basename="performance-metrics")
