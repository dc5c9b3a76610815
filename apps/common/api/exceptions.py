"""One error body for every failure: `{"code", "message", "details"}`, whatever raised it.

DRF's own exceptions, Django's ValidationError/Http404/PermissionDenied and database errors caused
by input all end here, so an agent never has to parse two shapes, and bad input is never a 500.
PostgreSQL unreachable (or restarting) is a 503 the agent can retry, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

logger = logging.getLogger("tradeoffice.api")


class ApiError(exceptions.APIException):
    """An error with a code, a message and details chosen by the raiser."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"
    default_detail = "The request was refused."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: Any = None):
        super().__init__(detail=message or self.default_detail, code=code or self.default_code)
        self.message = str(self.detail)
        self.error_code = code or self.default_code
        self.details = details or {}


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with what is recorded."


class PayloadTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class ServiceUnavailable(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "A service the request needs is unavailable; retry later."


DATABASE_UNAVAILABLE_CODE = "database_unavailable"
DATABASE_UNAVAILABLE_MESSAGE = (
    "PostgreSQL, the record, is unreachable or restarting; retry in a few seconds. The request may not "
    "have been recorded: retrying is safe (orders and trades are idempotent by id; decisions, "
    "experiences and system events by their Idempotency-Key)."
)
DATABASE_RETRY_AFTER_SECONDS = 2


def database_unavailable() -> ServiceUnavailable:
    """The 503 for a lost or refused PostgreSQL connection (the server stopped, restarting, a failover)."""
    error = ServiceUnavailable(DATABASE_UNAVAILABLE_MESSAGE, code=DATABASE_UNAVAILABLE_CODE)
    error.wait = DATABASE_RETRY_AFTER_SECONDS  # DRF turns `wait` into a Retry-After header
    return error


def first_message(details: Any, prefix: str = "") -> str | None:
    """The first message in a nested DRF error structure, with the path to it."""
    if isinstance(details, dict):
        for key, value in details.items():
            label = key if key != "non_field_errors" else ""
            path = f"{prefix}.{label}" if prefix and label else (label or prefix)
            found = first_message(value, path)
            if found:
                return found
    elif isinstance(details, list):
        for value in details:
            found = first_message(value, prefix)
            if found:
                return found
    elif details:
        return f"{prefix}: {details}" if prefix else str(details)
    return None


def plain_details(details: Any) -> Any:
    """ErrorDetail strings and ReturnDicts as plain JSON values."""
    if isinstance(details, dict):
        return {str(k): plain_details(v) for k, v in details.items()}
    if isinstance(details, list):
        return [plain_details(v) for v in details]
    return str(details)


def under_sent_keys(errors: Any, sent: Mapping[str, str]) -> Any:
    """Errors keyed by the seed's field names, under the key the client sent instead (clientOrderId, not
    client_order_id; tags, not situation_tags). `sent` maps a field to the alias the client used."""
    if not isinstance(errors, dict) or not sent:
        return errors
    return {sent.get(key, key): value for key, value in errors.items()}


@contextmanager
def errors_as_sent(sent: Mapping[str, str]) -> Iterator[None]:
    """Validation errors raised in the block, by a serializer or by a service, reported under the keys the
    client sent: a service names the seed's fields, which the client may never have written."""
    try:
        yield
    except DjangoValidationError as exc:
        detail = under_sent_keys(plain_details(as_serializer_error(exc)), sent)
        raise exceptions.ValidationError(detail=detail) from exc
    except exceptions.ValidationError as exc:
        raise exceptions.ValidationError(detail=under_sent_keys(exc.detail, sent)) from exc


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE before the parser sees it.
        return PayloadTooLarge(f"The body is over the limit of {settings.API_MAX_BODY_BYTES} bytes.")
    if isinstance(exc, DataError):
        # Input that passed validation but not the column (a length or a range): still the input's fault.
        logger.warning("Input refused by the database: %s", exc)
        return ApiError("A value does not fit its column (too long or out of range).", code="invalid")
    if isinstance(exc, OperationalError | InterfaceError):
        # A connection refused or lost mid-request: the transaction rolled back on the server.
        # One line, no traceback: during an outage every request ends here.
        logger.warning("PostgreSQL unavailable: %s: %s", type(exc).__name__, str(exc).splitlines()[0][:300])
        return database_unavailable()
    return exc


def exception_handler(exc: Exception, context: dict) -> Response:
    # Imported here: rest_framework.views reads the API settings at import, which import this module's
    # parser (and so this module) back; at module level, importing this module first would be a cycle.
    from rest_framework.views import exception_handler as drf_exception_handler

    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            {
                "code": "server_error",
                "message": "An unexpected error occurred; it has been logged.",
                "details": {},
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, ApiError):
        body = {"code": exc.error_code, "message": exc.message, "details": plain_details(exc.details)}
    elif isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first = first_message(details) or "Invalid input."
        body = {"code": "invalid", "message": f"Invalid input: {first}", "details": plain_details(details)}
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        body = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "message": str(exc.detail) if not isinstance(exc.detail, dict | list) else exc.default_detail,
            "details": {},
        }
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            body["details"] = {"retry_after": max(1, int(exc.wait + 0.999))}
    else:  # pragma: no cover - DRF only builds responses for APIException and Http404/PermissionDenied
        body = {"code": "error", "message": str(exc), "details": {}}
    response.data = body
    return response
