"""The one place a ccxt client is built for an exchange account.

`exchange_client(exchange=...)` gives a ccxt client holding the account's decrypted credentials, in ccxt's
sandbox mode when the account is a testnet one, with the configured timeouts and ccxt's own throttle. Before
every HTTP request ccxt makes (each page of a paginated fetch included) it asks the shared limiter, the seed's
`ratelimit:{exchange}:{endpoint}` counter, so every process that trades or reconciles one account counts in
one place; when Redis cannot count, the request is not made (fails closed: the limit protects the account).

`exchange_call(client, "fetch_my_trades", ...)` runs one ccxt method and turns ccxt's errors into
`ExchangeCallError`s with a `kind` (authentication, rate_limited, unavailable, network, not_found, invalid,
error) and a message from which every secret has been scrubbed: ccxt's errors can echo signed URLs and
request headers. Nothing here logs a credential, a signature or a signed URL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from apps.common.redis import full_key, window_hit

from .crypto import CredentialDecryptionError
from .models import Exchange
from .services import Credentials, exchange_credentials

SCRUBBED = "••••"

# ccxt's exception classes, by the kind a caller acts on; the first match wins (subclasses first).
_KINDS = (
    ("AuthenticationError", "authentication"),
    ("PermissionDenied", "authentication"),
    ("AccountSuspended", "authentication"),
    ("RateLimitExceeded", "rate_limited"),
    ("DDoSProtection", "rate_limited"),
    ("OnMaintenance", "unavailable"),
    ("ExchangeNotAvailable", "unavailable"),
    ("InvalidNonce", "clock"),
    ("RequestTimeout", "network"),
    ("NetworkError", "network"),
    ("OrderNotFound", "not_found"),
    ("BadSymbol", "invalid"),
    ("BadRequest", "invalid"),
    ("NotSupported", "not_supported"),
)

# A URL's query string (where signatures, timestamps and keys travel) and signature-bearing fields, written
# as query parameters, headers, JSON or a Python dict's repr (single quotes), wherever one is formatted in.
_SIGNED_QUERY = re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*")
_SIGNATURE_FIELDS = re.compile(
    r"(?i)(signature|sign|apikey|api_key|secret|passphrase|password|x-mbx-apikey|ok-access-\w+)"
    r"([\"']?\s*[:=]\s*[\"']?)([^\s\"'&,}]+)"
)


class ExchangeCallError(Exception):
    """A ccxt call that failed, classified, with a message safe to log, store and show."""

    def __init__(self, message: str, *, kind: str, method: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.method = method


def scrub(text: str, credentials: Credentials | None = None) -> str:
    """`text` with the account's secrets, URL query strings and signature-like fields masked."""
    if credentials is not None:
        for secret in (credentials.api_key, credentials.api_secret, credentials.password):
            if secret:
                text = text.replace(secret, SCRUBBED)
    text = _SIGNED_QUERY.sub(rf"\1?{SCRUBBED}", text)
    return _SIGNATURE_FIELDS.sub(rf"\1\2{SCRUBBED}", text)


def _limited_class(ccxt_class: type, *, account: str) -> type:
    """`ccxt_class` asking the shared limiter before each of its HTTP requests."""

    class Limited(ccxt_class):
        def fetch2(self, path, api="public", method="GET", params=None, config=None):
            category = "_".join(api) if isinstance(api, list | tuple) else str(api)
            endpoint = re.sub(r"[^\w/.:-]", "_", f"{category}:{path}")
            _wait_for_the_limiter(account=account, endpoint=endpoint)
            return super().fetch2(path, api, method, params or {}, config or {})

    Limited.__name__ = Limited.__qualname__ = f"Limited{ccxt_class.__name__}"
    return Limited


class _LimiterClosed(Exception):
    pass


def _wait_for_the_limiter(*, account: str, endpoint: str) -> None:
    """Block until the shared limiter allows one more call to `endpoint`, up to a bounded wait."""
    max_wait = settings.EXCHANGE_RATE_LIMIT_MAX_WAIT
    deadline = time.monotonic() + max_wait
    while True:
        decision = window_hit(
            key=full_key(f"ratelimit:{account}:{endpoint}"),
            limit=settings.EXCHANGE_RATE_LIMIT_PER_MINUTE,
            window=60,
            operation="exchange_call",
        )
        if decision.allowed:
            return
        if decision.count is None:
            raise _LimiterClosed(
                "The shared rate limiter cannot count (Redis is unreachable), so the exchange is not called."
            )
        if time.monotonic() + decision.retry_after > deadline:
            raise _LimiterClosed(
                f"The shared rate limit for {endpoint} is reached ({decision.reason}); "
                f"it would wait past EXCHANGE_RATE_LIMIT_MAX_WAIT ({max_wait} s)."
            )
        time.sleep(decision.retry_after)


def exchange_client(*, exchange: Exchange, options: dict[str, Any] | None = None):
    """A ccxt client for `exchange` (its ccxt id is the row's name), ready to call through `exchange_call`."""
    # Imported here: ccxt is ~70 MB, and only the processes that call exchanges need it (never an API
    # worker that only records what agents send).
    import ccxt

    ccxt_class = getattr(ccxt, exchange.name, None)
    if not isinstance(ccxt_class, type) or not issubclass(ccxt_class, ccxt.Exchange):
        raise ExchangeCallError(
            f"{exchange.name!r} is not a ccxt exchange id; name the exchange as ccxt does (binance, okx).",
            kind="invalid",
            method="exchange_client",
        )
    try:
        credentials = exchange_credentials(exchange=exchange)
    except CredentialDecryptionError as exc:
        # The account cannot sign anything: a refusal its caller records (a failed run), never a crash.
        raise ExchangeCallError(
            f"{exchange.name}: {exc} Set the credentials again in the admin, or restore the key.",
            kind="authentication",
            method="exchange_client",
        ) from None
    config = {
        **credentials.as_ccxt_config(),
        "enableRateLimit": settings.EXCHANGE_CCXT_THROTTLE,
        "timeout": int(settings.EXCHANGE_TIMEOUT * 1000),
        "options": {
            # The server's clock, not this machine's, signs requests: a skewed clock is not refused.
            "adjustForTimeDifference": True,
            # Open orders of every symbol in one call: costlier on Binance, but reconciliation needs them all.
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            **(options or {}),
        },
    }
    client = _limited_class(ccxt_class, account=exchange.name)(config)
    if exchange.testnet:
        # Without a test URL ccxt's set_sandbox_mode fails with a TypeError (a NotSupported for some).
        if not client.urls.get("test"):
            raise ExchangeCallError(
                f"ccxt has no sandbox (testnet) for {exchange.name}; a testnet account of it cannot be "
                "reached. Register the live account instead (testnet off).",
                kind="not_supported",
                method="exchange_client",
            )
        client.set_sandbox_mode(True)
    override = settings.EXCHANGE_API_URLS.get(exchange.name)
    if override:  # a proxy, a regional endpoint, or an emulator on loopback in the tests
        client.urls["api"] = override
    client.tradeoffice_credentials = credentials  # for scrubbing; masked in repr
    return client


def exchange_call(client, method: str, *args: Any, **kwargs: Any) -> Any:
    """`client.<method>(*args, **kwargs)`, with ccxt's errors as scrubbed ExchangeCallErrors."""
    import ccxt

    credentials = getattr(client, "tradeoffice_credentials", None)
    call: Callable[..., Any] = getattr(client, method)
    try:
        return call(*args, **kwargs)
    except _LimiterClosed as exc:
        raise ExchangeCallError(str(exc), kind="rate_limited", method=method) from None
    except ccxt.BaseError as exc:
        kind = next((k for name, k in _KINDS if isinstance(exc, getattr(ccxt, name))), "error")
        message = scrub(f"{type(exc).__name__}: {exc}", credentials)[:1000]
        # `from None`: the original carries the unscrubbed text, and must not travel on in a traceback.
        raise ExchangeCallError(message, kind=kind, method=method) from None
