"""Redis access for the whole project: one client per configuration, outage handling, a shared limiter.

Every part that reaches Redis (short-term memory, the API's per-agent limit, sign-in limits, backups)
takes its client from `get_client()`, so a Sentinel set-up, a TLS URL or a key prefix is configured once.
Socket timeouts are short and nothing retries: when Redis is unreachable a guarded call returns its
default, one warning is logged per outage window, and `redis_unreachable` is sent (system_events records
it). The fixed-window counter is the one exception to "carry on": it fails closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.signals import setting_changed
from django.dispatch import Signal, receiver
from redis.backoff import NoBackoff
from redis.retry import Retry

from .health import HealthStatus

logger = logging.getLogger("tradeoffice.redis")

T = TypeVar("T")

MAX_CONNECT_TIMEOUT = 5.0

# Errors that mean "Redis cannot be reached", as opposed to a bad command.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)

# Sent once per outage window per process: operation (str), error (str), suppressed (int, the calls
# that failed since the last one was sent).
redis_unreachable = Signal()


# --- key names ----------------------------------------------------------------------------------


def full_key(key: str) -> str:
    """`key` behind settings.REDIS_KEY_PREFIX (a namespace on a shared Redis); as written without one."""
    prefix = settings.REDIS_KEY_PREFIX
    if prefix and not prefix.endswith(":"):
        prefix += ":"
    return f"{prefix}{key}"


# --- the client ---------------------------------------------------------------------------------

_client_lock = threading.Lock()
_clients: dict[tuple, redis.Redis] = {}


def _sentinel_client(url: str, sentinels: list[tuple[str, int]], options: dict) -> redis.Redis:
    """The primary behind Redis Sentinel: `url`'s host is the service name the sentinels know it by
    (redis://[:password@]mymaster/0, rediss:// for TLS); each new connection asks them where it is."""
    from redis.sentinel import Sentinel

    parts = urlsplit(url)
    if not parts.hostname:
        raise ImproperlyConfigured("With REDIS_SENTINELS, REDIS_URL names the service: redis://mymaster/0")
    db = parts.path.strip("/") or "0"
    sentinel = Sentinel(
        sentinels,
        sentinel_kwargs={
            "socket_timeout": options["socket_timeout"],
            "socket_connect_timeout": options["socket_connect_timeout"],
            "password": settings.REDIS_SENTINEL_PASSWORD or None,
        },
    )
    return sentinel.master_for(
        unquote(parts.hostname),
        db=int(db),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme == "rediss",
        **options,
    )


def get_client(*, decode_responses: bool = True, socket_timeout: float | None = None) -> redis.Redis:
    """A client for settings.REDIS_URL (through settings.REDIS_SENTINELS when set), one per URL,
    sentinels, timeout and decoding, so changed settings take effect.

    The defaults are the agent's: replies decoded as UTF-8 text and settings.REDIS_SOCKET_TIMEOUT.
    Maintenance (backups) asks for raw bytes (`decode_responses=False`, DUMP payloads are binary) and
    a longer `socket_timeout`, through the same URL and Sentinel set-up.
    """
    url = settings.REDIS_URL
    sentinels = [tuple(s) for s in settings.REDIS_SENTINELS]
    timeout = float(settings.REDIS_SOCKET_TIMEOUT if socket_timeout is None else socket_timeout)
    key = (url, tuple(sentinels), timeout, decode_responses)
    with _client_lock:
        client = _clients.get(key)
        if client is None:
            options = {
                "socket_timeout": timeout,
                # A server that has not accepted within a few seconds is down, whatever the read timeout.
                "socket_connect_timeout": min(timeout, MAX_CONNECT_TIMEOUT),
                # No retries: a second wait would only double the stall an agent sees.
                "retry": Retry(NoBackoff(), 0),
                "decode_responses": decode_responses,
                "health_check_interval": 30,
            }
            if sentinels:
                client = _sentinel_client(url, sentinels, options)
            else:
                client = redis.Redis.from_url(url, **options)
            _clients[key] = client
        return client


def reset_client() -> None:
    with _client_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs) -> None:
    if setting in ("REDIS_URL", "REDIS_SOCKET_TIMEOUT", "REDIS_SENTINELS", "REDIS_SENTINEL_PASSWORD"):
        reset_client()


# --- outages ------------------------------------------------------------------------------------


class OutageReporter:
    """One warning (and one `redis_unreachable` signal) per window while Redis is down, per process.

    Counted in process memory, not in Redis (which is what is down); calls in between are counted
    and the count goes with the next report.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_event_at: float | None = None
        self._suppressed = 0

    def reset(self) -> None:
        with self._lock:
            self._last_event_at = None
            self._suppressed = 0

    def report(self, operation: str, exc: BaseException) -> bool:
        """Report the outage unless one was reported within the window; True when reported."""
        interval = settings.MEMORY_REDIS_OUTAGE_EVENT_INTERVAL
        with self._lock:
            now = time.monotonic()
            if self._last_event_at is not None and now - self._last_event_at < interval:
                self._suppressed += 1
                return False
            suppressed, self._suppressed = self._suppressed, 0
            self._last_event_at = now
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("Redis is unreachable (%s during %s); carrying on without it.", error, operation)
        for _, response in redis_unreachable.send_robust(
            sender=OutageReporter, operation=operation, error=error, suppressed=suppressed
        ):
            if isinstance(response, Exception):  # a receiver's failure must never reach the caller
                logger.error("A redis_unreachable receiver failed: %s", response)
        return True


outage_reporter = OutageReporter()


def guarded(operation: str, call: Callable[[redis.Redis], T], default: T) -> T:
    """`call(client)`, or `default` (the outage reported) when Redis cannot be reached."""
    try:
        return call(get_client())
    except UNREACHABLE as exc:
        outage_reporter.report(operation, exc)
        return default


def pipeline_write(operation: str, ops: list[Callable[[redis.client.Pipeline], None]]) -> bool:
    """Run write commands in one MULTI/EXEC pipeline: all of them or none, one round trip.
    False when Redis cannot be reached."""

    def run(client: redis.Redis) -> bool:
        pipe = client.pipeline(transaction=True)
        for op in ops:
            op(pipe)
        pipe.execute()
        return True

    return guarded(operation, run, False)


# --- a fixed-window counter ---------------------------------------------------------------------

# INCR, and EXPIRE only when this hit opened the window (or the key somehow has no expiry),
# so later hits never push the window's end back. One script: atomic on the server.
_WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if count == 1 or ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    count: int | None  # hits in this window, this one included; None when Redis could not count
    limit: int
    retry_after: int  # seconds until the window ends when denied; 0 when allowed
    reason: str


def _whole_positive(value: object, field: str, message: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError({field: message})


def window_hit(*, key: str, limit: int, window: int, operation: str = "window_hit") -> RateLimitDecision:
    """Count one hit on `key` (a full key name) in the current fixed window of `window` seconds;
    allowed while the count is at most `limit`. Fails closed: when Redis cannot count, the hit is
    denied with `count=None`, and the caller decides whether to fall back (see apps.common.attempts)."""
    _whole_positive(limit, "limit", "The limit must be a positive whole number.")
    _whole_positive(window, "window", "The window must be a positive whole number of seconds.")
    try:
        count, ttl = get_client().eval(_WINDOW_SCRIPT, 1, key, window)
    except UNREACHABLE as exc:
        outage_reporter.report(operation, exc)
        return RateLimitDecision(
            allowed=False,
            count=None,
            limit=limit,
            retry_after=1,
            reason="Redis is unreachable, so the rate limiter cannot count; it denies (fails closed).",
        )
    count, ttl = int(count), max(int(ttl), 1)
    if count <= limit:
        return RateLimitDecision(
            allowed=True, count=count, limit=limit, retry_after=0, reason="within the limit"
        )
    return RateLimitDecision(
        allowed=False,
        count=count,
        limit=limit,
        retry_after=ttl,
        reason=f"{limit} calls per {window} s reached; retry after {ttl} s.",
    )


# --- health -------------------------------------------------------------------------------------


def redis_health() -> HealthStatus:
    """PING Redis; never raises and never reports an outage (it is a probe)."""
    started = time.monotonic()
    try:
        get_client().ping()
    except (redis.RedisError, OSError) as exc:
        return HealthStatus(
            store="redis", ok=False, detail=f"Redis is unreachable: {type(exc).__name__}: {exc}"
        )
    latency = (time.monotonic() - started) * 1000
    return HealthStatus(store="redis", ok=True, detail="Redis answers PING.", latency_ms=round(latency, 2))
