"""What the sync and the async client share: the base URL, headers, the retry policy, answers read."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from . import _json
from .errors import error_for

API_PREFIX = "/api/v1"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USER_AGENT = "tradeoffice-client/0.1.0"


class _Auto:
    """The default Idempotency-Key: a fresh UUID per call, the same across that call's retries."""

    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429 and 503 (waiting as Retry-After says) and of a connection that failed.

    Retrying a write is safe: orders and trades are keyed on their ids, the other writes carry an
    Idempotency-Key that stays the same across the retries of one call.
    """

    retries: int = 4
    backoff: float = 0.5  # seconds before the first retry; doubles each time, with jitter
    max_backoff: float = 20.0
    max_retry_after: float = 60.0  # a longer Retry-After is not waited out: the error is raised
    statuses: frozenset[int] = frozenset({429, 503})

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.max_backoff, self.backoff * (2**attempt))
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


NO_RETRY = RetryPolicy(retries=0)


def api_base(url: str) -> str:
    """`http://host:8000`, `.../api/v1` or `.../api/v1/`: all name the same API."""
    url = url.rstrip("/")
    if not url.endswith(API_PREFIX):
        url += API_PREFIX
    return url + "/"


def headers(token: str) -> dict[str, str]:
    if not token or any(c.isspace() for c in token):
        raise ValueError("an agent token is required (manage.py create_agent NAME prints one)")
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def request_headers(method: str, idempotency_key: Any, has_body: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    if has_body:
        out["Content-Type"] = "application/json"
    if method in WRITES:
        key = str(uuid.uuid4()) if idempotency_key is AUTO else idempotency_key
        if key:
            out["Idempotency-Key"] = str(key)
    return out


def query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the Nones; lists repeat the parameter (status=open&status=filled)."""
    if not params:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = value
    return out or None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def read(response: httpx.Response, method: str, path: str) -> Any:
    """The answer's JSON (amounts as Decimal), or the API's error raised."""
    try:
        body = _json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if response.is_success:
        return body
    raise error_for(response.status_code, body, method=method, path=path, retry_after=retry_after(response))


def clean_path(path: str) -> str:
    """Relative to the API base: "orders/" (a full `next` URL of a page is kept as it is)."""
    if path.startswith(("http://", "https://")):
        return path
    return path.lstrip("/")
