"""The agent API under /api/v1/: every app's routes, the OpenAPI schema and docs, health."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from apps.decisions.api import routes as decision_routes
from apps.exchanges.api import routes as exchange_routes
from apps.execution.api import routes as execution_routes
from apps.journal.api import routes as journal_routes
from apps.memory.api import routes as memory_routes
from apps.operations.api.health import HealthView
from apps.portfolio.api import routes as portfolio_routes
from apps.reconciliation.api import routes as reconciliation_routes
from apps.strategies.api import routes as strategy_routes
from apps.system_events.api import routes as system_event_routes


class Router(DefaultRouter):
    # With or without the trailing slash: a POST to /orders must not be redirected (and lose its body).
    include_root_view = True

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = Router()
for routes in (
    exchange_routes,
    execution_routes,
    portfolio_routes,
    decision_routes,
    memory_routes,
    strategy_routes,
    system_event_routes,
    reconciliation_routes,
    journal_routes,
):
    routes.register(router)


@csrf_exempt  # token-authenticated like the API; a POST to a wrong path must get this 404, not a CSRF 403
def not_found(request, unmatched: str = ""):
    """An unknown path under /api/v1/ answers in the API's error body, not the site's HTML page."""
    return JsonResponse(
        {
            "code": "not_found",
            "message": f"No API endpoint at {request.path}; the list is at /api/v1/ and /api/v1/docs/.",
            "details": {},
        },
        status=404,
    )


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: the Content-Security-Policy
    # refuses inline scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("health/", HealthView.as_view(), name="api-health"),
    path("memory/", include("apps.memory.api.urls")),
    path("", include(router.urls)),
    re_path(r"^(?P<unmatched>.*)$", not_found),
]
