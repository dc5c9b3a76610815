"""The decisions app's routes on the API router."""

from .views import DecisionViewSet


def register(router) -> None:
    router.register("decisions", DecisionViewSet, basename="decision")
