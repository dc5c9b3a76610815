"""Short-term memory in Redis: the seed's key families, exact names and TTLs, JSON values.

A raw redis-py client (the project's one, apps.common.redis; not Django's cache) so key names
stay exactly as the seed writes them, optionally behind settings.REDIS_KEY_PREFIX for a shared
Redis. When Redis is unreachable, reads are misses, writes are skipped (and return False), one
system_events warning is recorded per outage window, and the caller carries on. The rate
limiter is the exception: it fails closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import redis
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from apps.common.health import HealthStatus
from apps.common.jsonenc import json_bytes
from apps.common.redis import (
    RateLimitDecision,
    full_key,
    guarded,
    pipeline_write,
    redis_health,
    window_hit,
)

logger = logging.getLogger("tradeoffice.memory.short_term")

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

__all__ = ["RateLimitDecision"]  # the limiter's answer, re-exported for callers of ratelimit_hit


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


def _dumps(value: Any) -> bytes:
    return json_bytes(value)


def _loads(raw: str | None, key: str) -> Any:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:  # what orjson does not read but the standard library does (integers past 64 bits)
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


def _get_json(operation: str, key: str) -> Any:
    return _loads(guarded(operation, lambda client: client.get(key), None), key)


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


# One snapshot of many tickers as one script: the hash replaced whole (so a symbol missing from this batch
# cannot linger beside fresher ones) and each market:ticker:{symbol} set with its TTL, atomic on the
# server like MULTI/EXEC, but one command on the wire instead of a thousand (redis-py spent most of a
# 1,000-ticker batch packing and parsing the commands one by one).
# KEYS: the hash, then each ticker's key; ARGV: the TTL, then each ticker's field and payload in turn.
_TICKERS_SCRIPT = """
local ttl = tonumber(ARGV[1])
redis.call('DEL', KEYS[1])
local fields, n = {}, 0
for i = 2, #KEYS do
    local payload = ARGV[2 * i - 1]
    redis.call('SET', KEYS[i], payload, 'EX', ttl)
    fields[n + 1], fields[n + 2], n = ARGV[2 * i - 2], payload, n + 2
    if n == 4000 then  -- HSET in chunks: unpack() is bounded by Lua's C stack (8,000 values)
        redis.call('HSET', KEYS[1], unpack(fields, 1, n))
        n = 0
    end
end
if n > 0 then
    redis.call('HSET', KEYS[1], unpack(fields, 1, n))
end
redis.call('EXPIRE', KEYS[1], ttl)
return #KEYS - 1
"""


def _tickers_script_args(tickers: Mapping[str, Any]) -> tuple[list[str], list] | None:
    """The script's KEYS and ARGV for `tickers`; None when there are none."""
    key_prefix = full_key("market:ticker:")
    keys, args = [tickers_hash_key()], [TICKER_TTL]
    for symbol, ticker in tickers.items():
        field = _part(symbol, "symbol")
        keys.append(key_prefix + field)
        args += (field, _dumps(ticker))  # encoded once, for the hash and for the ticker's own key
    return (keys, args) if len(keys) > 1 else None


def _tickers_ops(tickers: Mapping[str, Any]) -> list:
    prepared = _tickers_script_args(tickers)
    if prepared is None:
        return []
    keys, args = prepared

    def write(pipe: redis.client.Pipeline) -> None:
        # In a batch's MULTI/EXEC: the pipeline loads the script before it runs, then calls it by its SHA.
        pipe.register_script(_TICKERS_SCRIPT)(keys=keys, args=args, client=pipe)

    return [write]


def _decision_cache_ops(context: Any, decision: Any) -> list:
    return [_set_json_op(decision_cache_key(context), decision, DECISION_CACHE_TTL)]


def _portfolio_positions_ops(positions: Any) -> list:
    return [_set_json_op(portfolio_positions_key(), positions, PORTFOLIO_POSITIONS_TTL)]


# --- market:context:{symbol} ------------------------------------------------------------------


def market_context_set(*, symbol: str, context: Any) -> bool:
    """Keep `context` (JSON-serialisable) for 5 minutes. False when Redis is unreachable."""
    return pipeline_write("market_context_set", _market_context_ops(symbol, context))


def market_context_get(*, symbol: str) -> Any | None:
    return _get_json("market_context_get", market_context_key(symbol))


# --- trading:context --------------------------------------------------------------------------


def trading_context_set(*, context: Any) -> bool:
    return pipeline_write("trading_context_set", _trading_context_ops(context))


def trading_context_get() -> Any | None:
    return _get_json("trading_context_get", trading_context_key())


# --- market:prices:{symbol}:{timeframe} -------------------------------------------------------


def market_price_push(*, symbol: str, timeframe: str, price: Decimal | str | int) -> bool:
    """Push the newest price: LPUSH + LTRIM 0 99 + EXPIRE 3600 in one MULTI/EXEC."""
    return pipeline_write("market_price_push", _market_price_ops(symbol, timeframe, price))


def market_prices_get(*, symbol: str, timeframe: str, limit: int = MARKET_PRICES_KEEP) -> list[Decimal]:
    """The last prices, newest first; [] when none (or Redis is unreachable)."""
    key = market_prices_key(symbol, timeframe)
    raw = guarded("market_prices_get", lambda client: client.lrange(key, 0, max(limit, 1) - 1), [])
    return [Decimal(item) for item in raw]


# --- indicators:{symbol}:{indicator_name}:{params} --------------------------------------------


def indicator_set(*, symbol: str, indicator_name: str, params: Any, value: Any) -> bool:
    return pipeline_write("indicator_set", _indicator_ops(symbol, indicator_name, params, value))


def indicator_get(*, symbol: str, indicator_name: str, params: Any) -> Any | None:
    return _get_json("indicator_get", indicator_key(symbol, indicator_name, params))


# --- market:orderbook:{symbol} ----------------------------------------------------------------


def orderbook_set(*, symbol: str, orderbook: Any) -> bool:
    return pipeline_write("orderbook_set", _orderbook_ops(symbol, orderbook))


def orderbook_get(*, symbol: str) -> Any | None:
    return _get_json("orderbook_get", orderbook_key(symbol))


# --- market:ticker:{symbol} and the market:tickers hash ---------------------------------------


def ticker_set(*, symbol: str, ticker: Any) -> bool:
    return pipeline_write("ticker_set", _ticker_ops(symbol, ticker))


def ticker_get(*, symbol: str) -> Any | None:
    return _get_json("ticker_get", ticker_key(symbol))


def tickers_set_many(*, tickers: Mapping[str, Any]) -> bool:
    """One snapshot of many tickers in one atomic command: the `market:tickers` hash (replaced whole)
    and each `market:ticker:{symbol}`, all expiring after 10 seconds."""
    prepared = _tickers_script_args(tickers)
    if prepared is None:
        return True
    keys, args = prepared

    def run(client: redis.Redis) -> bool:
        # EVALSHA; the script is loaded once per server, when it answers NOSCRIPT.
        client.register_script(_TICKERS_SCRIPT)(keys=keys, args=args)
        return True

    return guarded("tickers_set_many", run, False)


def tickers_get_many(*, symbols: Iterable[str] | None = None) -> dict[str, Any]:
    """The last snapshot from the `market:tickers` hash: every symbol, or only those asked for."""
    key = tickers_hash_key()
    if symbols is None:
        raw = guarded("tickers_get_many", lambda client: client.hgetall(key), {})
    else:
        wanted = [_part(symbol, "symbol") for symbol in symbols]
        if not wanted:
            return {}
        values = guarded("tickers_get_many", lambda client: client.hmget(key, wanted), [None] * len(wanted))
        raw = dict(zip(wanted, values, strict=True))
    return {symbol: _loads(value, key) for symbol, value in raw.items() if value is not None}


# --- decision:cache:{context_hash} ------------------------------------------------------------


def decision_cache_set(*, context: Any, decision: Any) -> bool:
    """Remember the decision taken for `context` for 5 minutes, keyed on its canonical hash."""
    return pipeline_write("decision_cache_set", _decision_cache_ops(context, decision))


def decision_cache_get(*, context: Any) -> Any | None:
    return _get_json("decision_cache_get", decision_cache_key(context))


# --- portfolio:positions ----------------------------------------------------------------------


def portfolio_positions_set(*, positions: Any) -> bool:
    return pipeline_write("portfolio_positions_set", _portfolio_positions_ops(positions))


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
        self.written = pipeline_write("short_term_batch", self._ops) if self._ops else True
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


def ratelimit_hit(
    *, exchange: str, endpoint: str, limit: int, window: int = RATELIMIT_WINDOW
) -> RateLimitDecision:
    """Count one call to `endpoint` of `exchange` in the current fixed window (the seed's
    `ratelimit:{exchange}:{endpoint}` counter); allowed while the count is at most `limit`.
    Fails closed: when Redis cannot count, the call is denied."""
    return window_hit(
        key=ratelimit_key(exchange, endpoint), limit=limit, window=window, operation="ratelimit_hit"
    )


# --- health -----------------------------------------------------------------------------------


def short_term_health() -> HealthStatus:
    """PING Redis; never raises and never records an outage event (it is a probe)."""
    return redis_health()
