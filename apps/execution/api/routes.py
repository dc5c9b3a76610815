"""The execution app's routes on the API router."""

from .views import CurrentPositionViewSet, OrderViewSet, PositionViewSet, TradeViewSet


def register(router) -> None:
    router.register("orders", OrderViewSet, basename="order")
    router.register("trades", TradeViewSet, basename="trade")
    router.register("positions", PositionViewSet, basename="position")
    router.register("current-positions", CurrentPositionViewSet, basename="current-position")
