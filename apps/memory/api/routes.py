"""The memory app's routes on the API router (the short-term memory and recall are in urls.py)."""

from .views import ExperienceViewSet


def register(router) -> None:
    router.register("experiences", ExperienceViewSet, basename="experience")
