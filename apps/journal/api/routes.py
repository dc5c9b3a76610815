"""The journal's routes on the API router."""

from .views import ReviewViewSet


def register(router) -> None:
    router.register("reviews", ReviewViewSet, basename="review")
