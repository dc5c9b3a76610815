"""Short-term memory in Redis: the seed's key families, exact names and TTLs, JSON values.

A raw redis-py client (not Django's cache) so key names stay exactly as the seed writes
them, optionally behind settings.REDIS_KEY_PREFIX for a shared Redis. Socket timeouts are
short and nothing retries: when Redis is unreachable, reads are misses, writes are
skipped (and return False), one system_events warning is recorded per outage window, and
the caller carries on. The rate limiter is the exception: it fails closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.retry import Retry

from .health import HealthStatus

logger = logging.getLogger("tradeoffice.memory.short_term")

T = TypeVar("T")

# The seed's TTLs (section 3.1), in seconds.
MARKET_CONTEXT_TTL = 300
TRADING_CONTEXT_TTL = 3600
MARKET_PRICES_TTL = 3600
MARKET_PRICES_KEEP = 100
INDICATOR_TTL = 300
ORDERBOOK_TTL = 30
TICKER_TTL = 10
RATELIMIT_WINDOW = 60
DECISION_CACHE_TTL = 300
PORTFOLIO_POSITIONS_TTL = 60

OUTAGE_EVENT_TYPE = "redis_unavailable"

# Errors that mean "Redis cannot be reached", as opposed to a bad command.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)


# --- key names --------------------------------------------------------------------------------


_WHITESPACE = re.compile(r"\s")


def _part(value: Any, field: str) -> str:
    text = value if isinstance(value, str) else None
    if text is None or not text.strip() or _WHITESPACE.search(text):
        raise ValidationError({field: f"The {field} must be a non-empty string without spaces."})
    return text


def _params_part(params: Any) -> str:
    """`{params}` of an indicator key: a string as given, a sequence joined by commas,
    a mapping as sorted `name=value` pairs, so the same parameters always name the same key."""
    if isinstance(params, Mapping):
        text = ",".join(f"{name}={params[name]}" for name in sorted(params))
    elif isinstance(params, list | tuple):
        text = ",".join(str(item) for item in params)
    else:
        text = str(params) if params is not None else ""
    return _part(text, "params")


def full_key(key: str) -> str:
    prefix = settings.REDIS_KEY_PREFIX
    if prefix and not prefix.endswith(":"):
        prefix += ":"
    return f"{prefix}{key}"


def market_context_key(symbol: str) -> str:
    return full_key(f"market:context:{_part(symbol, 'symbol')}")


def trading_context_key() -> str:
    return full_key("trading:context")


def market_prices_key(symbol: str, timeframe: str) -> str:
    return full_key(f"market:prices:{_part(symbol, 'symbol')}:{_part(timeframe, 'timeframe')}")


def indicator_key(symbol: str, indicator_name: str, params: Any) -> str:
    name = _part(indicator_name, "indicator_name")
    return full_key(f"indicators:{_part(symbol, 'symbol')}:{name}:{_params_part(params)}")


def orderbook_key(symbol: str) -> str:
    return full_key(f"market:orderbook:{_part(symbol, 'symbol')}")


def ticker_key(symbol: str) -> str:
    return full_key(f"market:ticker:{_part(symbol, 'symbol')}")


def tickers_hash_key() -> str:
    return full_key("market:tickers")


def ratelimit_key(exchange: str, endpoint: str) -> str:
    return full_key(f"ratelimit:{_part(exchange, 'exchange')}:{_part(endpoint, 'endpoint')}")


def decision_cache_key(context: Any) -> str:
    return full_key(f"decision:cache:{context_hash(context)}")


def portfolio_positions_key() -> str:
    return full_key("portfolio:positions")


# --- values -----------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _loads(raw: str | None, key: str) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        logger.warning("Short-term memory key %s does not hold JSON; treated as a miss.", key)
        return None


def context_hash(context: Any) -> str:
    """SHA-256 over the canonical JSON of `context` (sorted keys, no spaces): the same context
    in any key order gives the same hash. Decimals and datetimes hash by their text."""
    canonical = json.dumps(
        context, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _price_text(price: Any) -> str:
    if isinstance(price, float | bool):
        raise ValidationError({"price": "Pass the price as a Decimal or a string, not a float."})
    try:
        value = Decimal(str(price))
    except InvalidOperation as exc:
        raise ValidationError({"price": f"{price!r} is not a number."}) from exc
    if not value.is_finite():
        raise ValidationError({"price": "The price must be a finite number."})
    return str(value)


# --- the client -------------------------------------------------------------------------------

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
    sentinel_password = settings.REDIS_SENTINEL_PASSWORD or None
    sentinel = Sentinel(
        sentinels,
        sentinel_kwargs={
            "socket_timeout": options["socket_timeout"],
            "socket_connect_timeout": options["socket_connect_timeout"],
            "password": sentinel_password,
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


def get_client() -> redis.Redis:
    """A client for settings.REDIS_URL (through settings.REDIS_SENTINELS when set), one per URL,
    sentinels and timeout, so changed settings take effect."""
    url = settings.REDIS_URL
    sentinels = [tuple(s) for s in settings.REDIS_SENTINELS]
    timeout = float(settings.REDIS_SOCKET_TIMEOUT)
    key = (url, tuple(sentinels), timeout)
    with _client_lock:
        client = _clients.get(key)
        if client is None:
            options = {
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                # No retries: a second wait would only double the stall an agent sees.
                "retry": Retry(NoBackoff(), 0),
                "decode_responses": True,
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


# --- outage reporting -------------------------------------------------------------------------


class OutageReporter:
    """One system_events warning per window while Redis is down, per process.

    Counted in process memory, not in Redis (which is what is down); calls in between are
    counted and the count goes into the next event.
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
        """Record the outage unless one was recorded within the window; True when recorded."""
        interval = settings.MEMORY_REDIS_OUTAGE_EVENT_INTERVAL
        with self._lock:
            now = time.monotonic()
            if self._last_event_at is not None and now - self._last_event_at < interval:
                self._suppressed += 1
                return False
            suppressed, self._suppressed = self._suppressed, 0
            self._last_event_at = now
        error = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "Redis is unreachable (%s during %s); short-term memory is degraded.", error, operation
        )
        from apps.system_events.models import Severity
        from apps.system_events.services import system_event_record

        try:
            # A savepoint: a failure here must never break the caller's transaction.
            with transaction.atomic():
                system_event_record(
                    event_type=OUTAGE_EVENT_TYPE,
                    severity=Severity.WARNING,
                    message="Redis is unreachable: short-term memory reads are misses, writes are "
                    "skipped and the rate limiter denies.",
                    data={
                        "operation": operation,
                        "error": error[:500],
                        "suppressed_since_last_event": suppressed,
                    },
                )
        except Exception:  # PostgreSQL may be down too; the log line above remains
            logger.exception("Could not record the Redis outage in system_events.")
        return True


outage_reporter = OutageReporter()


def _guarded(operation: str, call: Callable[[redis.Redis], T], default: T) -> T:
    try:
        return call(get_client())
    except UNREACHABLE as exc:
        outage_reporter.report(operation, exc)
        return default


def _write(operation: str, ops: list[Callable[[redis.client.Pipeline], None]]) -> bool:
    """Run write commands in one MULTI/EXEC pipeline: all of them or none, one round trip."""

    def run(client: redis.Redis) -> bool:
        pipe = client.pipeline(transaction=True)
        for op in ops:
            op(pipe)
        pipe.execute()
        return True

    return _guarded(operation, run, False)


def _get_json(operation: str, key: str) -> Any:
    return _loads(_guarded(operation, lambda client: client.get(key), None), key)


def _set_json_op(key: str, value: Any, ttl: int) -> Callable[[redis.client.Pipeline], None]:
    payload = _dumps(value)
    return lambda pipe: pipe.set(key, payload, ex=ttl)


# --- write operations, shared by the single calls and by batches -------------------------------


def _market_context_ops(symbol: str, context: Any) -> list:
    return [_set_json_op(market_context_key(symbol), context, MARKET_CONTEXT_TTL)]


def _trading_context_ops(context: Any) -> list:
    return [_set_json_op(trading_context_key(), context, TRADING_CONTEXT_TTL)]


def _market_price_ops(symbol: str, timeframe: str, price: Any) -> list:
    key = market_prices_key(symbol, timeframe)
    text = _price_text(price)
    return [
        lambda pipe: pipe.lpush(key, text),
        lambda pipe: pipe.ltrim(key, 0, MARKET_PRICES_KEEP - 1),
        lambda pipe: pipe.expire(key, MARKET_PRICES_TTL),
    ]


def _indicator_ops(symbol: str, indicator_name: str, params: Any, value: Any) -> list:
    return [_set_json_op(indicator_key(symbol, indicator_name, params), value, INDICATOR_TTL)]


def _orderbook_ops(symbol: str, orderbook: Any) -> list:
    return [_set_json_op(orderbook_key(symbol), orderbook, ORDERBOOK_TTL)]


def _ticker_ops(symbol: str, ticker: Any) -> list:
    return [_set_json_op(ticker_key(symbol), ticker, TICKER_TTL)]


def _tickers_ops(tickers: Mapping[str, Any]) -> list:
    hash_key = tickers_hash_key()
    # Each ticker is encoded once, for its field in the hash and for its own key.
    mapping = {_part(symbol, "symbol"): _dumps(ticker) for symbol, ticker in tickers.items()}
    if not mapping:
        return []
    key_prefix = full_key("market:ticker:")

    def write(pipe: redis.client.Pipeline) -> None:
        # The hash holds one snapshot: replaced whole, so a symbol missing from this batch
        # cannot linger beside fresher ones.
        pipe.delete(hash_key)
        pipe.hset(hash_key, mapping=mapping)
        pipe.expire(hash_key, TICKER_TTL)
        for symbol, payload in mapping.items():
            # SET key value EX ttl as it goes on the wire: a thousand of them skip set()'s option parsing.
            pipe.execute_command("SET", key_prefix + symbol, payload, "EX", TICKER_TTL)

    return [write]


def _decision_cache_ops(context: Any, decision: Any) -> list:
    return [_set_json_op(decision_cache_key(context), decision, DECISION_CACHE_TTL)]


def _portfolio_positions_ops(positions: Any) -> list:
    return [_set_json_op(portfolio_positions_key(), positions, PORTFOLIO_POSITIONS_TTL)]


# --- market:context:{symbol} ------------------------------------------------------------------


def market_context_set(*, symbol: str, context: Any) -> bool:
    """Keep `context` (JSON-serialisable) for 5 minutes. False when Redis is unreachable."""
    return _write("market_context_set", _market_context_ops(symbol, context))


def market_context_get(*, symbol: str) -> Any | None:
    return _get_json("market_context_get", market_context_key(symbol))


# --- trading:context --------------------------------------------------------------------------


def trading_context_set(*, context: Any) -> bool:
    return _write("trading_context_set", _trading_context_ops(context))


def trading_context_get() -> Any | None:
    return _get_json("trading_context_get", trading_context_key())


# --- market:prices:{symbol}:{timeframe} -------------------------------------------------------


def market_price_push(*, symbol: str, timeframe: str, price: Decimal | str | int) -> bool:
    """Push the newest price: LPUSH + LTRIM 0 99 + EXPIRE 3600 in one MULTI/EXEC."""
    return _write("market_price_push", _market_price_ops(symbol, timeframe, price))


def market_prices_get(*, symbol: str, timeframe: str, limit: int = MARKET_PRICES_KEEP) -> list[Decimal]:
    """The last prices, newest first; [] when none (or Redis is unreachable)."""
    key = market_prices_key(symbol, timeframe)
    raw = _guarded("market_prices_get", lambda client: client.lrange(key, 0, max(limit, 1) - 1), [])
    return [Decimal(item) for item in raw]


# --- indicators:{symbol}:{indicator_name}:{params} --------------------------------------------


def indicator_set(*, symbol: str, indicator_name: str, params: Any, value: Any) -> bool:
    return _write("indicator_set", _indicator_ops(symbol, indicator_name, params, value))


def indicator_get(*, symbol: str, indicator_name: str, params: Any) -> Any | None:
    return _get_json("indicator_get", indicator_key(symbol, indicator_name, params))


# --- market:orderbook:{symbol} ----------------------------------------------------------------


def orderbook_set(*, symbol: str, orderbook: Any) -> bool:
    return _write("orderbook_set", _orderbook_ops(symbol, orderbook))


def orderbook_get(*, symbol: str) -> Any | None:
    return _get_json("orderbook_get", orderbook_key(symbol))


# --- market:ticker:{symbol} and the market:tickers hash ---------------------------------------


def ticker_set(*, symbol: str, ticker: Any) -> bool:
    return _write("ticker_set", _ticker_ops(symbol, ticker))


def ticker_get(*, symbol: str) -> Any | None:
    return _get_json("ticker_get", ticker_key(symbol))


def tickers_set_many(*, tickers: Mapping[str, Any]) -> bool:
    """One snapshot of many tickers in one pipeline: the `market:tickers` hash (replaced whole)
    and each `market:ticker:{symbol}`, all expiring after 10 seconds."""
    ops = _tickers_ops(tickers)
    return _write("tickers_set_many", ops) if ops else True


def tickers_get_many(*, symbols: Iterable[str] | None = None) -> dict[str, Any]:
    """The last snapshot from the `market:tickers` hash: every symbol, or only those asked for."""
    key = tickers_hash_key()
    if symbols is None:
        raw = _guarded("tickers_get_many", lambda client: client.hgetall(key), {})
    else:
        wanted = [_part(symbol, "symbol") for symbol in symbols]
        if not wanted:
            return {}
        values = _guarded("tickers_get_many", lambda client: client.hmget(key, wanted), [None] * len(wanted))
        raw = dict(zip(wanted, values, strict=True))
    return {symbol: _loads(value, key) for symbol, value in raw.items() if value is not None}


# --- decision:cache:{context_hash} ------------------------------------------------------------


def decision_cache_set(*, context: Any, decision: Any) -> bool:
    """Remember the decision taken for `context` for 5 minutes, keyed on its canonical hash."""
    return _write("decision_cache_set", _decision_cache_ops(context, decision))


def decision_cache_get(*, context: Any) -> Any | None:
    return _get_json("decision_cache_get", decision_cache_key(context))


# --- portfolio:positions ----------------------------------------------------------------------


def portfolio_positions_set(*, positions: Any) -> bool:
    return _write("portfolio_positions_set", _portfolio_positions_ops(positions))


def portfolio_positions_get() -> Any | None:
    return _get_json("portfolio_positions_get", portfolio_positions_key())


# --- batches ----------------------------------------------------------------------------------


class ShortTermBatch:
    """Writes collected in a `with short_term_batch() as batch:` block and sent as one
    MULTI/EXEC pipeline when it ends (one round trip, all or nothing)."""

    def __init__(self) -> None:
        self._ops: list[Callable[[redis.client.Pipeline], None]] = []
        self.written: bool | None = None

    def __len__(self) -> int:
        return len(self._ops)

    def market_context_set(self, *, symbol: str, context: Any) -> None:
        self._ops += _market_context_ops(symbol, context)

    def trading_context_set(self, *, context: Any) -> None:
        self._ops += _trading_context_ops(context)

    def market_price_push(self, *, symbol: str, timeframe: str, price: Decimal | str | int) -> None:
        self._ops += _market_price_ops(symbol, timeframe, price)

    def indicator_set(self, *, symbol: str, indicator_name: str, params: Any, value: Any) -> None:
        self._ops += _indicator_ops(symbol, indicator_name, params, value)

    def orderbook_set(self, *, symbol: str, orderbook: Any) -> None:
        self._ops += _orderbook_ops(symbol, orderbook)

    def ticker_set(self, *, symbol: str, ticker: Any) -> None:
        self._ops += _ticker_ops(symbol, ticker)

    def tickers_set_many(self, *, tickers: Mapping[str, Any]) -> None:
        self._ops += _tickers_ops(tickers)

    def decision_cache_set(self, *, context: Any, decision: Any) -> None:
        self._ops += _decision_cache_ops(context, decision)

    def portfolio_positions_set(self, *, positions: Any) -> None:
        self._ops += _portfolio_positions_ops(positions)

    def execute(self) -> bool:
        self.written = _write("short_term_batch", self._ops) if self._ops else True
        self._ops = []
        return self.written


@contextmanager
def short_term_batch():
    """Collect writes, send them in one pipeline at the end of the block (not on an exception).
    `batch.written` tells afterwards whether Redis took them."""
    batch = ShortTermBatch()
    yield batch
    batch.execute()


# --- ratelimit:{exchange}:{endpoint} ----------------------------------------------------------

# INCR, and EXPIRE only when this hit opened the window (or the key somehow has no expiry),
# so later hits never push the window's end back. One script: atomic on the server.
_RATELIMIT_SCRIPT = """
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


def ratelimit_hit(
    *, exchange: str, endpoint: str, limit: int, window: int = RATELIMIT_WINDOW
) -> RateLimitDecision:
    """Count one call to `endpoint` of `exchange` in the current fixed window; allowed while the
    count is at most `limit`. Fails closed: when Redis cannot count, the call is denied."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError({"limit": "The limit must be a positive whole number."})
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValidationError({"window": "The window must be a positive whole number of seconds."})
    key = ratelimit_key(exchange, endpoint)
    try:
        count, ttl = get_client().eval(_RATELIMIT_SCRIPT, 1, key, window)
    except UNREACHABLE as exc:
        outage_reporter.report("ratelimit_hit", exc)
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


# --- health -----------------------------------------------------------------------------------


def short_term_health() -> HealthStatus:
    """PING Redis; never raises and never records an outage event (it is a probe)."""
    started = time.monotonic()
    try:
        get_client().ping()
    except (redis.RedisError, OSError) as exc:
        return HealthStatus(
            store="redis", ok=False, detail=f"Redis is unreachable: {type(exc).__name__}: {exc}"
        )
    latency = (time.monotonic() - started) * 1000
    return HealthStatus(store="redis", ok=True, detail="Redis answers PING.", latency_ms=round(latency, 2))
