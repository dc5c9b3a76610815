"""The 503 for a lost PostgreSQL, wherever the error is raised: in a view, outside one (handler500), in the
API; and the 500 that is left for real bugs keeps its shape."""

from __future__ import annotations

import json

import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory

from apps.common.middleware import DatabaseUnavailableMiddleware, server_error


def _raised_in(exc: Exception, path: str):
    request = RequestFactory().get(path)
    try:
        raise exc
    except Exception:  # noqa: BLE001 - handler500 runs inside Django's own except block, like this
        return server_error(request)


@pytest.mark.parametrize("error", [OperationalError("connection refused"), InterfaceError("closed")])
def test_outside_a_view_a_lost_database_is_a_503_page_or_body(error):
    page = _raised_in(error, "/admin/")
    body = _raised_in(error, "/api/v1/orders/")

    assert page.status_code == 503 and page["Retry-After"] == "2"
    assert b"The database is unavailable" in page.content and b"connection refused" not in page.content
    assert body.status_code == 503 and json.loads(body.content)["code"] == "database_unavailable"


def test_in_a_view_the_middleware_answers_503_and_leaves_other_errors_alone():
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    request = RequestFactory().get("/admin/memory/experience/")

    answered = middleware.process_exception(request, OperationalError("the database system is shutting down"))
    untouched = middleware.process_exception(request, ValueError("a bug"))

    assert answered.status_code == 503 and b"Traceback" not in answered.content
    assert untouched is None  # a bug is still a 500, logged with its traceback


@pytest.mark.django_db
def test_other_errors_stay_500s_in_their_own_shape():
    api = _raised_in(ValueError("a bug"), "/api/v1/orders/")
    page = _raised_in(ValueError("a bug"), "/admin/")

    assert api.status_code == 500 and json.loads(api.content)["code"] == "server_error"
    assert page.status_code == 500 and b"a bug" not in page.content
