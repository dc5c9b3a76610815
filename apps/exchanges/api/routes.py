"""The exchanges' routes on the API router."""

from .views import ExchangeViewSet


def register(router) -> None:
    router.register("exchanges", ExchangeViewSet, basename="exchange")
