"""The system events' routes on the API router."""

from .views import SystemEventViewSet


def register(router) -> None:
    router.register("system-events", SystemEventViewSet, basename="system-event")
