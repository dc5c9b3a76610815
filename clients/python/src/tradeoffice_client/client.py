"""TradeOffice (sync) and AsyncTradeOffice: the API over httpx, with retries, idempotency keys, batches."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import httpx

from . import _http, _json
from ._http import AUTO, NO_RETRY, RetryPolicy
from .errors import Unreachable
from .recording import (
    REPLAY_EVERY,
    AsyncDecisionScope,
    AsyncRecorder,
    AsyncRecordingExchange,
    DecisionScope,
    Recorder,
    RecordingExchange,
)
from .resources import (
    Decisions,
    Exchanges,
    Experiences,
    Memory,
    Orders,
    PerformanceMetrics,
    PortfolioSnapshots,
    Positions,
    Reconciliation,
    Strategies,
    SystemEvents,
    Trades,
)

R = TypeVar("R", covariant=True)
I = TypeVar("I", covariant=True)  # noqa: E741

DEFAULT_TIMEOUT = 10.0
MAX_BATCH_ITEMS = 1000  # the server's API_MAX_BATCH_ITEMS by default


class _Core(Protocol[R, I]):
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        idempotency_key: Any = AUTO,
        retry: bool = True,
    ) -> R: ...

    def iterate(self, path: str, params: Mapping[str, Any] | None) -> I: ...

    def ingest(self, path: str, items: Any, params: Mapping[str, Any] | None, idempotency_key: Any) -> R: ...


def _chunks(items: Any, size: int) -> list[Any]:
    if isinstance(items, Mapping):
        return [items]
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _merge(answers: list[Any]) -> Any:
    """The answers of a list sent in chunks, as one: the counts summed, the results in order."""
    if len(answers) == 1:
        return answers[0]
    merged: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "results": []}
    for answer in answers:
        for key in ("created", "updated", "unchanged"):
            merged[key] += answer.get(key, 0)
        merged["results"].extend(answer.get("results", []))
    return merged


class _Api(Generic[R, I]):
    exchanges: Exchanges[R, I]
    orders: Orders[R, I]
    trades: Trades[R, I]
    positions: Positions[R, I]
    portfolio_snapshots: PortfolioSnapshots[R, I]
    decisions: Decisions[R, I]
    experiences: Experiences[R, I]
    strategies: Strategies[R, I]
    performance_metrics: PerformanceMetrics[R, I]
    system_events: SystemEvents[R, I]
    reconciliation: Reconciliation[R, I]
    memory: Memory[R, I]

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        batch_size: int = MAX_BATCH_ITEMS,
        spool_path: str | None = None,
    ) -> None:
        self.base_url = _http.api_base(base_url)
        self._headers = _http.headers(token)
        self.timeout = timeout
        self.retry_policy = retry or RetryPolicy()
        self.batch_size = batch_size
        self.spool_path = spool_path
        core: Any = self
        self.exchanges = Exchanges(core)
        self.orders = Orders(core)
        self.trades = Trades(core)
        self.positions = Positions(core)
        self.portfolio_snapshots = PortfolioSnapshots(core)
        self.decisions = Decisions(core)
        self.experiences = Experiences(core)
        self.strategies = Strategies(core)
        self.performance_metrics = PerformanceMetrics(core)
        self.system_events = SystemEvents(core)
        self.reconciliation = Reconciliation(core)
        self.memory = Memory(core)

    def __repr__(self) -> str:  # the token is never shown
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _prepare(self, method: str, json: Any, content: bytes | None, idempotency_key: Any):
        if content is None and json is not None:
            content = _json.dumps(json)
        return content, _http.request_headers(method, idempotency_key, content is not None)

    def health(self) -> R:
        """PostgreSQL, Redis and Qdrant each `up` or `down`; `status` ok, degraded or down."""
        return self.request("GET", "health/")  # type: ignore[attr-defined, no-any-return]


class TradeOffice(_Api[Any, Iterator[Any]]):
    """The API, synchronously: `TradeOffice("http://127.0.0.1:8000", token)`.

    Every write carries an Idempotency-Key (a UUID per call, kept across its retries; pass your own with
    `idempotency_key=`, or None for none); 429 and 503 are retried as Retry-After says; an error answer is
    raised as an ApiError subclass carrying the API's `details`.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        batch_size: int = MAX_BATCH_ITEMS,
        spool_path: str | None = None,
        transport: httpx.BaseTransport | None = None,
        replay_every: float | None = REPLAY_EVERY,
    ) -> None:
        super().__init__(
            base_url, token, timeout=timeout, retry=retry, batch_size=batch_size, spool_path=spool_path
        )
        # Seconds between replays of the spool in the background, once recording is used (None: only on the
        # next record and on flush()).
        self.replay_every = replay_every
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )
        self._recorder: Recorder | None = None

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        self._http.close()

    def __enter__(self) -> TradeOffice:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        idempotency_key: Any = AUTO,
        retry: bool = True,
        timeout: float | httpx.Timeout | None = None,
    ) -> Any:
        """One call to the API (path relative to /api/v1/); the JSON answer, amounts as Decimal."""
        method = method.upper()
        content, headers = self._prepare(method, json, content, idempotency_key)
        policy = self.retry_policy if retry else NO_RETRY
        url = _http.clean_path(path)
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    url,
                    params=_http.query(params),
                    content=content,
                    headers=headers,
                    timeout=timeout if timeout is not None else self.timeout,
                )
            except httpx.TransportError as exc:
                if attempt >= policy.retries:
                    raise Unreachable(f"TradeOffice at {self.base_url} is unreachable: {exc}") from exc
                time.sleep(policy.delay(attempt, None))
                attempt += 1
                continue
            if response.status_code in policy.statuses and attempt < policy.retries:
                wait = _http.retry_after(response)
                if wait is None or wait <= policy.max_retry_after:
                    time.sleep(policy.delay(attempt, wait))
                    attempt += 1
                    continue
            return _http.read(response, method, url)

    def iterate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        page = self.request("GET", path, params=params)
        while True:
            yield from page.get("results", [])
            if not page.get("next"):
                return
            page = self.request("GET", page["next"])

    def ingest(
        self, path: str, items: Any, params: Mapping[str, Any] | None, idempotency_key: Any = AUTO
    ) -> Any:
        return _merge(
            [
                self.request("POST", path, params=params, json=chunk, idempotency_key=idempotency_key)
                for chunk in _chunks(items, self.batch_size)
            ]
        )

    # ---- recording ----

    @property
    def recorder(self) -> Recorder:
        """The spool and its replay, shared by every recording exchange and decision of this client."""
        if self._recorder is None:
            self._recorder = Recorder(self, self.spool_path)
            if self.replay_every:
                self._recorder.replay_in_background(every=self.replay_every)
        return self._recorder

    def decision(self, decision: Mapping[str, Any] | None = None, /, **fields: Any) -> DecisionScope:
        """`with office.decision(decision_layer=..., ...) as d:` records the decision (through the spool)
        and links every order placed inside the block to it."""
        return self.recorder.decision(decision, **fields)

    def record(self, exchange: Any, *, exchange_name: str | None = None) -> Any:
        """A ccxt exchange that records what it returned for create_order, cancel_order, fetch_order(s)
        and fetch_my_trades (see RecordingExchange)."""
        return RecordingExchange(exchange, self.recorder, exchange_name=exchange_name)

    def flush(self) -> Any:
        """Send what waits in the spool, in order; what was sent, refused and still waits."""
        return self.recorder.flush()


class AsyncTradeOffice(_Api[Awaitable[Any], AsyncIterator[Any]]):
    """The API for asyncio code: the same methods as TradeOffice, each to be awaited."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        batch_size: int = MAX_BATCH_ITEMS,
        spool_path: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        replay_every: float | None = REPLAY_EVERY,
    ) -> None:
        super().__init__(
            base_url, token, timeout=timeout, retry=retry, batch_size=batch_size, spool_path=spool_path
        )
        # Seconds between replays of the spool in the background, once recording is used (None: only on the
        # next record and on flush()).
        self.replay_every = replay_every
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )
        self._recorder: AsyncRecorder | None = None

    async def aclose(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTradeOffice:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        idempotency_key: Any = AUTO,
        retry: bool = True,
        timeout: float | httpx.Timeout | None = None,
    ) -> Any:
        method = method.upper()
        content, headers = self._prepare(method, json, content, idempotency_key)
        policy = self.retry_policy if retry else NO_RETRY
        url = _http.clean_path(path)
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method,
                    url,
                    params=_http.query(params),
                    content=content,
                    headers=headers,
                    timeout=timeout if timeout is not None else self.timeout,
                )
            except httpx.TransportError as exc:
                if attempt >= policy.retries:
                    raise Unreachable(f"TradeOffice at {self.base_url} is unreachable: {exc}") from exc
                await asyncio.sleep(policy.delay(attempt, None))
                attempt += 1
                continue
            if response.status_code in policy.statuses and attempt < policy.retries:
                wait = _http.retry_after(response)
                if wait is None or wait <= policy.max_retry_after:
                    await asyncio.sleep(policy.delay(attempt, wait))
                    attempt += 1
                    continue
            return _http.read(response, method, url)

    async def iterate(self, path: str, params: Mapping[str, Any] | None = None) -> AsyncIterator[Any]:
        page = await self.request("GET", path, params=params)
        while True:
            for item in page.get("results", []):
                yield item
            if not page.get("next"):
                return
            page = await self.request("GET", page["next"])

    async def ingest(
        self, path: str, items: Any, params: Mapping[str, Any] | None, idempotency_key: Any = AUTO
    ) -> Any:
        answers = []
        for chunk in _chunks(items, self.batch_size):
            answers.append(
                await self.request("POST", path, params=params, json=chunk, idempotency_key=idempotency_key)
            )
        return _merge(answers)

    # ---- recording ----

    @property
    def recorder(self) -> AsyncRecorder:
        if self._recorder is None:
            self._recorder = AsyncRecorder(self, self.spool_path)
            if self.replay_every:
                with contextlib.suppress(RuntimeError):  # no running loop yet: the next record replays
                    self._recorder.replay_in_background(every=self.replay_every)
        return self._recorder

    def decision(self, decision: Mapping[str, Any] | None = None, /, **fields: Any) -> AsyncDecisionScope:
        """`async with office.decision(...) as d:`: the decision recorded, the orders inside linked."""
        return self.recorder.decision(decision, **fields)

    def record(self, exchange: Any, *, exchange_name: str | None = None) -> Any:
        """A ccxt.async_support exchange that records itself (see AsyncRecordingExchange)."""
        return AsyncRecordingExchange(exchange, self.recorder, exchange_name=exchange_name)

    async def flush(self) -> Any:
        return await self.recorder.flush()


__all__ = ["AsyncTradeOffice", "RetryPolicy", "TradeOffice"]
