"""Site-wide HTTP behaviour: a clean 503 while PostgreSQL is unreachable, and the Content-Security-Policy.

The agent API maps database outages in its own exception handler (apps.common.api.exceptions); this
covers everything else (the admin, and errors raised outside a view) with the same 503: the API's
JSON error body under /api/, a plain page elsewhere. Never a 500 with a traceback for an outage.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views import defaults

from apps.common.api.exceptions import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_CODE,
    DATABASE_UNAVAILABLE_MESSAGE,
)

logger = logging.getLogger("tradeoffice.http")

DATABASE_ERRORS = (OperationalError, InterfaceError)

UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TradeOffice: database unavailable</title></head>
<body><h1>The database is unavailable</h1>
<p>TradeOffice cannot reach PostgreSQL right now (it may be restarting). Nothing was changed by this
request. Try again in a few seconds.</p></body></html>
"""


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def database_unavailable_response(request) -> HttpResponse:
    """503 with Retry-After: the API's error body for /api/, a plain page for the admin."""
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            {"code": DATABASE_UNAVAILABLE_CODE, "message": DATABASE_UNAVAILABLE_MESSAGE, "details": {}},
            status=503,
        )
    else:
        # A constant page: rendering a template with the request's context could touch the database.
        response = HttpResponse(UNAVAILABLE_PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _log_outage(exc: BaseException) -> None:
    first_line = (str(exc).splitlines() or [""])[0][:300]
    logger.warning("PostgreSQL unavailable: %s: %s", type(exc).__name__, first_line)


class DatabaseUnavailableMiddleware:
    """A view that lost PostgreSQL answers 503, not 500 (one log line, no traceback)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            _log_outage(exception)
            return database_unavailable_response(request)
        return None


def server_error(request, *args, **kwargs):
    """handler500: the database outage raised outside a view (e.g. saving the session) is still a 503;
    any other error is Django's plain 500 page, or the API's error body under /api/."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable_response(request)
    if _is_api(request):
        return JsonResponse(
            {
                "code": "server_error",
                "message": "An unexpected error occurred; it has been logged.",
                "details": {},
            },
            status=500,
        )
    return defaults.server_error(request, *args, **kwargs)


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY to every response that has none of its own.

    Scripts only from this origin (no inline script, no CDN), so a string that escaped escaping
    still could not run; frames refused (the admin is never embedded).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
