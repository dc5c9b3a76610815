"""Every endpoint family of /api/v1/, written once for both clients.

A method builds one request and hands it to the client: the sync client returns the answer, the async
one a coroutine of it. `R` is that return type (the JSON answer, or an awaitable of it), `I` the type
of an iteration over every page (an iterator, or an async iterator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from ._http import AUTO

if TYPE_CHECKING:
    from .client import _Core

R = TypeVar("R")
I = TypeVar("I")  # noqa: E741 - the iteration type, beside R

Record = Mapping[str, Any]


def _seg(value: Any) -> str:
    return quote(str(value), safe="")


def _fields(base: Record | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A body from a mapping and keyword fields (the keywords win); None keywords are left out."""
    body = dict(base or {})
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


class _Resource(Generic[R, I]):
    path: str = ""

    def __init__(self, core: _Core[R, I]) -> None:
        self._core = core

    def list(self, **filters: Any) -> R:
        """One page: {"results": [...], "next": ...} (filters as in docs/api.md's Reading table)."""
        return self._core.request("GET", self.path, params=filters)

    def iterate(self, **filters: Any) -> I:
        """Every item of every page, following `next`."""
        return self._core.iterate(self.path, filters)

    def get(self, key: Any) -> R:
        return self._core.request("GET", f"{self.path}{_seg(key)}/")


class Exchanges(_Resource[R, I]):
    """Exchange accounts, by name; no credential is ever shown."""

    path = "exchanges/"


class Orders(_Resource[R, I]):
    path = "orders/"

    def record(
        self,
        orders: Record | Sequence[Record],
        *,
        exchange: str | None = None,
        decision_id: str | None = None,
        idempotency_key: Any = AUTO,
    ) -> R:
        """Record orders as ccxt returned them (one, or a list: chunks of `batch_size`, each all or
        nothing). `exchange` is named once on the URL; `decision_id` links each order without one."""
        if decision_id is not None:
            if isinstance(orders, Mapping):
                orders = {"decisionId": decision_id, **orders}
            else:
                orders = [{"decisionId": decision_id, **o} for o in orders]
        return self._core.ingest(self.path, orders, {"exchange": exchange}, idempotency_key)


class Trades(_Resource[R, I]):
    path = "trades/"

    def record(
        self, trades: Record | Sequence[Record], *, exchange: str | None = None, idempotency_key: Any = AUTO
    ) -> R:
        """Record fills as fetch_my_trades returned them; the same trades again change nothing."""
        return self._core.ingest(self.path, trades, {"exchange": exchange}, idempotency_key)


class Positions(_Resource[R, I]):
    path = "positions/"

    def upsert(self, position: Record | None = None, /, *, idempotency_key: Any = AUTO, **fields: Any) -> R:
        """Open or update the open position of an (exchange, symbol); ccxt's position keys accepted."""
        return self._core.request(
            "POST", self.path, json=_fields(position, fields), idempotency_key=idempotency_key
        )

    def close(
        self,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        position_id: int | None = None,
        current_price: Any = None,
        idempotency_key: Any = AUTO,
    ) -> R:
        """Close by (exchange, symbol) or by id; closing twice changes nothing."""
        body = _fields(None, {"current_price": current_price})
        if position_id is not None:
            return self._core.request(
                "POST", f"{self.path}{_seg(position_id)}/close/", json=body, idempotency_key=idempotency_key
            )
        body.update(exchange=exchange, symbol=symbol)
        return self._core.request("POST", f"{self.path}close/", json=body, idempotency_key=idempotency_key)

    def current(self, **filters: Any) -> R:
        """The `current_positions` view: open positions with their value (exchange, symbol, side)."""
        return self._core.request("GET", "current-positions/", params=filters)


class PortfolioSnapshots(_Resource[R, I]):
    path = "portfolio-snapshots/"

    def record(self, snapshot: Record | None = None, /, *, idempotency_key: Any = AUTO, **fields: Any) -> R:
        """The day's snapshot of an exchange (a second one for the day replaces the first)."""
        return self._core.request(
            "POST", self.path, json=_fields(snapshot, fields), idempotency_key=idempotency_key
        )


class Decisions(_Resource[R, I]):
    path = "decisions/"

    def create(self, decision: Record | None = None, /, *, idempotency_key: Any = AUTO, **fields: Any) -> R:
        """Record a decision (decision_layer, input_context, thought_process, decision, ...)."""
        return self._core.request(
            "POST", self.path, json=_fields(decision, fields), idempotency_key=idempotency_key
        )


class Experiences(_Resource[R, I]):
    path = "experiences/"

    def create(self, experience: Record | None = None, /, *, idempotency_key: Any = AUTO, **fields: Any) -> R:
        """Record an experience; long-term memory follows right after the commit."""
        return self._core.request(
            "POST", self.path, json=_fields(experience, fields), idempotency_key=idempotency_key
        )

    def review(self, experience_id: str, *, idempotency_key: Any = AUTO, **fields: Any) -> R:
        """Change reflection, lessons_learned, tags (situation_tags) or importance_score; any other
        field is a ValidationError naming it."""
        return self._core.request(
            "PATCH", f"{self.path}{_seg(experience_id)}/", json=fields, idempotency_key=idempotency_key
        )


class Strategies(_Resource[R, I]):
    path = "strategies/"

    def active(self, name: str) -> R:
        """The active version of the strategy `name` (NotFound when none is)."""
        return self._core.request("GET", f"{self.path}active/{_seg(name)}/")


class PerformanceMetrics(_Resource[R, I]):
    """Strategies' performance figures, newest period first (strategy, strategy_name, dates)."""

    path = "performance-metrics/"


class SystemEvents(_Resource[R, I]):
    path = "system-events/"

    def create(self, event: Record | None = None, /, *, idempotency_key: Any = AUTO, **fields: Any) -> R:
        return self._core.request(
            "POST", self.path, json=_fields(event, fields), idempotency_key=idempotency_key
        )


class Reconciliation(Generic[R, I]):
    def __init__(self, core: _Core[R, I]) -> None:
        self._core = core

    def run(self, exchange: str, *, since: Any = None) -> R:
        """Check the account against the exchange now; the run and every discrepancy still open."""
        return self._core.request(
            "POST", "reconciliation/runs/", json=_fields({"exchange": exchange}, {"since": since})
        )

    def runs(self, **filters: Any) -> R:
        return self._core.request("GET", "reconciliation/runs/", params=filters)

    def discrepancies(self, **filters: Any) -> R:
        """One page of discrepancies (exchange, kind, state, symbol, run)."""
        return self._core.request("GET", "reconciliation/discrepancies/", params=filters)

    def iterate_discrepancies(self, **filters: Any) -> I:
        return self._core.iterate("reconciliation/discrepancies/", filters)


class Memory(Generic[R, I]):
    """Recall (long-term memory) and each short-term memory key family of the seed."""

    def __init__(self, core: _Core[R, I]) -> None:
        self._core = core

    def _get(self, path: str, **params: Any) -> R:
        return self._core.request("GET", f"memory/{path}/", params=params)

    def _write(self, method: str, path: str, body: Any) -> R:
        return self._core.request(method, f"memory/{path}/", json=body, idempotency_key=None)

    def recall(
        self,
        text: str | None = None,
        *,
        vector: Sequence[float] | None = None,
        outcome: str | None = None,
        symbol: str | None = None,
        tags: Sequence[str] | None = None,
        min_importance: float | None = None,
        since: Any = None,
        until: Any = None,
        limit: int = 10,
    ) -> R:
        """Similar experiences, ranked: {"results": [{"score", "components", "experience"}]}."""
        body = _fields(
            None,
            {
                "text": text,
                "vector": list(vector) if vector is not None else None,
                "outcome": outcome,
                "symbol": symbol,
                "tags": list(tags) if tags is not None else None,
                "min_importance": min_importance,
                "since": since,
                "until": until,
                "limit": limit,
            },
        )
        return self._core.request("POST", "memory/recall/", json=body, idempotency_key=None)

    def market_context(self, symbol: str) -> R:
        return self._get("market-context", symbol=symbol)

    def set_market_context(self, symbol: str, context: Any) -> R:
        return self._write("PUT", "market-context", {"symbol": symbol, "context": context})

    def trading_context(self) -> R:
        return self._get("trading-context")

    def set_trading_context(self, context: Any) -> R:
        return self._write("PUT", "trading-context", {"context": context})

    def ticker(self, symbol: str) -> R:
        return self._get("ticker", symbol=symbol)

    def set_ticker(self, symbol: str, ticker: Any) -> R:
        return self._write("PUT", "ticker", {"symbol": symbol, "ticker": ticker})

    def tickers(self, symbols: Sequence[str] | None = None) -> R:
        return self._get("tickers", symbols=",".join(symbols) if symbols else None)

    def set_tickers(self, tickers: Mapping[str, Any]) -> R:
        return self._write("PUT", "tickers", {"tickers": dict(tickers)})

    def orderbook(self, symbol: str) -> R:
        return self._get("orderbook", symbol=symbol)

    def set_orderbook(self, symbol: str, orderbook: Any) -> R:
        return self._write("PUT", "orderbook", {"symbol": symbol, "orderbook": orderbook})

    def prices(self, symbol: str, timeframe: str, *, limit: int | None = None) -> R:
        return self._get("prices", symbol=symbol, timeframe=timeframe, limit=limit)

    def push_prices(self, symbol: str, timeframe: str, prices: Sequence[Any]) -> R:
        return self._write(
            "POST", "prices", {"symbol": symbol, "timeframe": timeframe, "prices": list(prices)}
        )

    def indicator(self, symbol: str, name: str, params: str) -> R:
        return self._get("indicators", symbol=symbol, name=name, params=params)

    def set_indicator(self, symbol: str, name: str, params: Any, value: Any) -> R:
        return self._write(
            "PUT", "indicators", {"symbol": symbol, "name": name, "params": params, "value": value}
        )

    def cached_decision(self, context: Any) -> R:
        """The decision cached for this context (NotFound on a miss)."""
        return self._core.request(
            "POST", "memory/decision-cache/lookup/", json={"context": context}, idempotency_key=None
        )

    def cache_decision(self, context: Any, decision: Any) -> R:
        return self._write("PUT", "decision-cache", {"context": context, "decision": decision})

    def portfolio_positions(self) -> R:
        return self._get("portfolio-positions")

    def set_portfolio_positions(self, positions: Any) -> R:
        return self._write("PUT", "portfolio-positions", {"positions": positions})

    def rate_limit(self, exchange: str, endpoint: str, *, limit: int = 1000, window: int = 60) -> R:
        """Count one call to an exchange endpoint: {"allowed", "retry_after", "count", "limit", ...}.
        Not retried: an answer of 503 means the limiter cannot count, and the call must wait."""
        return self._core.request(
            "POST",
            "memory/rate-limit/",
            json={"exchange": exchange, "endpoint": endpoint, "limit": limit, "window": window},
            idempotency_key=None,
            retry=False,
        )
