"""The API's refusals as exceptions: status, code, message and the field errors (`details`) it sent."""

from __future__ import annotations

from typing import Any


class TradeOfficeError(Exception):
    """Anything this package raises about TradeOffice."""


class Unreachable(TradeOfficeError):
    """TradeOffice could not be reached (connection refused, a timeout) after the retries."""


class ApiError(TradeOfficeError):
    """TradeOffice answered with an error body: `{"code", "message", "details"}`."""

    status: int
    code: str
    message: str
    details: Any
    retry_after: float | None

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(str(self))

    @property
    def field_errors(self) -> Any:
        """The API's `details`: {field: [messages]}, or {index: {field: [messages]}} for a list body."""
        return self.details

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method else ""
        return f"{self.status} {self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class ValidationError(ApiError):
    """400: a field at fault; `field_errors` names each one as you sent it."""


class AuthenticationError(ApiError):
    """401: no token, a wrong one or a revoked one."""


class PermissionDenied(ApiError):
    """403."""


class NotFound(ApiError):
    """404: no such object, or a miss in short-term memory."""


class Conflict(ApiError):
    """409: an illegal order transition, an id recorded differently."""


class IdempotencyKeyReused(Conflict):
    """409: the Idempotency-Key was used before with another body."""


class PayloadTooLarge(ApiError):
    """413: the body, or the number of items in a list, is over the server's limit."""


class Throttled(ApiError):
    """429: over the agent's rate limit (the retries waited as Retry-After said, and ran out)."""


class ServiceUnavailable(ApiError):
    """503: PostgreSQL, Redis or Qdrant is down (the retries ran out); `code` says which."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: Throttled,
    503: ServiceUnavailable,
}


def error_for(status: int, body: Any, *, method: str, path: str, retry_after: float | None) -> ApiError:
    """The exception for an error answer; a body that is not the API's (a proxy's page) still says so."""
    if isinstance(body, dict) and "code" in body:
        code = str(body.get("code"))
        message = str(body.get("message") or body.get("detail") or code)
        details = body.get("details") or {}
    else:
        code = "http_error"
        message = f"HTTP {status} without the API's error body"
        details = {}
    cls = _BY_STATUS.get(status, ApiError)
    if status == 409 and code == "idempotency_key_reused":
        cls = IdempotencyKeyReused
    return cls(status, code, message, details, method=method, path=path, retry_after=retry_after)


def is_transient(exc: BaseException) -> bool:
    """Worth trying again later: TradeOffice unreachable, busy, or one of its stores down."""
    if isinstance(exc, Unreachable):
        return True
    return isinstance(exc, ApiError) and (exc.status in (408, 425, 429) or exc.status >= 500)
