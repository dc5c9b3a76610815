"""ccxt that records itself: orders and fills go to TradeOffice through the spool, linked to the decision.

    office = TradeOffice(url, token, spool_path="var/spool.sqlite3")
    exchange = office.record(ccxt.binance({...}))
    with office.decision(decision_layer="tactical", input_context={...}, thought_process="...",
                         decision="Buy 0.01 BTC") as d:
        order = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 45000)   # linked to d.id
    exchange.fetch_my_trades("BTC/USDT")                                         # the fills recorded

The exchange's answer is returned to the caller whatever happens to the record: a write first goes to the
spool (a SQLite file), then to TradeOffice; while TradeOffice is unreachable the writes wait there and are
sent in order when it answers again. Replays make no duplicates: orders are keyed on their client order
id, trades on their id, decisions on the Idempotency-Key kept with them in the spool.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from . import _json
from ._json import decimal_text
from .errors import ApiError, TradeOfficeError, is_transient
from .spool import Entry, Spool

if TYPE_CHECKING:
    from .client import AsyncTradeOffice, TradeOffice

logger = logging.getLogger("tradeoffice_client.recording")

_current_decision: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tradeoffice_decision", default=None
)

# ccxt's amounts in an order or a trade: sent as decimal strings, never as floats.
AMOUNT_KEYS = (
    "price",
    "average",
    "amount",
    "filled",
    "remaining",
    "cost",
    "stopPrice",
    "triggerPrice",
    "takeProfitPrice",
    "stopLossPrice",
)
CLIENT_ORDER_ID_PARAMS = ("clientOrderId", "newClientOrderId", "clOrdId", "client_order_id")
KNOWN_ORDERS = 10_000  # orders remembered to complete a partial answer (an OKX cancel is only ids)
SEND_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
MAX_OFFLINE_WAIT = 30.0
REPLAY_EVERY = 5.0  # seconds between background replays of the spool (replay_in_background)


def current_decision() -> str | None:
    """The id of the decision whose `with office.decision(...)` block is running here, if any."""
    return _current_decision.get()


def new_client_order_id() -> str:
    # 32 letters and digits: within every exchange's rules (OKX allows no dash, Binance 36 characters).
    return "to" + uuid.uuid4().hex[:30]


def _amounts(record: dict[str, Any]) -> dict[str, Any]:
    for key in AMOUNT_KEYS:
        if record.get(key) is not None:
            record[key] = decimal_text(record[key])
    fee = record.get("fee")
    if isinstance(fee, Mapping):
        record["fee"] = (
            {**fee, "cost": decimal_text(fee.get("cost"))} if fee.get("cost") is not None else dict(fee)
        )
    fees = record.get("fees")
    if isinstance(fees, list):
        record["fees"] = [
            {**f, "cost": decimal_text(f.get("cost"))}
            if isinstance(f, Mapping) and f.get("cost") is not None
            else f
            for f in fees
        ]
    return record


def trade_record(trade: Mapping[str, Any]) -> dict[str, Any]:
    """A ccxt trade as the API takes it: its keys as they are, amounts as decimal strings."""
    return _amounts({k: v for k, v in trade.items() if v is not None})


@dataclass
class FlushResult:
    sent: int = 0
    refused: int = 0
    pending: int = 0
    errors: dict[int, ApiError] = field(default_factory=dict)  # seq -> TradeOffice's refusal


class _RecorderBase:
    def __init__(self, spool_path: str | None) -> None:
        self.spool = Spool(spool_path)
        self._known: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._known_lock = threading.Lock()
        self._offline_until = 0.0
        self._failures = 0

    def close(self) -> None:
        self.spool.close()

    # ---- shaping what ccxt returned ----

    def order_record(
        self,
        order: Mapping[str, Any],
        *,
        exchange: str,
        placed: Mapping[str, Any] | None = None,
        status_if_missing: str | None = None,
        decision_id: str | None = None,
    ) -> dict[str, Any] | None:
        """The order as the API takes it: what ccxt returned, completed by what was asked for (`placed`)
        and by the last record of the same order (some exchanges answer a create or a cancel with ids
        only). None when there is not even an id."""
        returned = {k: v for k, v in order.items() if v is not None and k != "trades"}
        order_id = returned.get("id")
        if not order_id:
            return None
        key = (exchange, str(order_id))
        with self._known_lock:
            known = dict(self._known.get(key, {}))
        record = {**known, **{k: v for k, v in (placed or {}).items() if v is not None}, **returned}
        if status_if_missing and "status" not in returned:
            record["status"] = status_if_missing
        record.setdefault("status", "open")
        if "timestamp" not in record and "datetime" not in record:
            record["timestamp"] = int(time.time() * 1000)
        record["exchange"] = exchange
        if decision_id:
            record["decisionId"] = decision_id
        record = _amounts(record)
        with self._known_lock:
            self._known[key] = record
            self._known.move_to_end(key)
            while len(self._known) > KNOWN_ORDERS:
                self._known.popitem(last=False)
        return record

    def _spool(self, kind: str, path: str, body: Any, params: Mapping[str, Any] | None = None) -> int:
        return self.spool.append(
            kind=kind,
            method="POST",
            path=path,
            body=_json.dumps(body),
            params=params,
            idempotency_key=str(uuid.uuid4()),
        )

    def _online(self) -> bool:
        return time.monotonic() >= self._offline_until

    def _went_offline(self) -> None:
        self._failures += 1
        self._offline_until = time.monotonic() + min(MAX_OFFLINE_WAIT, 2 ** (self._failures - 1))

    def _back_online(self) -> None:
        self._failures = 0
        self._offline_until = 0.0

    def _set_aside(self, entry: Entry, exc: ApiError, result: FlushResult) -> bool:
        """A refused entry out of the way. For a list TradeOffice names the failing items by index: those
        are set aside and the rest stays first in line (True: send it again)."""
        error = {"code": exc.code, "message": exc.message, "details": exc.details}
        result.errors[entry.seq] = exc
        body = _json.loads(entry.body) if entry.body else None
        details = exc.details if isinstance(exc.details, dict) else {}
        if (
            isinstance(body, list)
            and exc.status == 400
            and details
            and all(str(k).isdigit() and int(k) < len(body) for k in details)
        ):
            bad = {int(k) for k in details}
            self.spool.refuse(
                entry, status=exc.status, error=error, body=_json.dumps([body[i] for i in sorted(bad)])
            )
            result.refused += len(bad)
            rest = [item for i, item in enumerate(body) if i not in bad]
            if rest:
                self.spool.replace_body(entry.seq, _json.dumps(rest), str(uuid.uuid4()))
                return True
            self.spool.done(entry.seq)
            return False
        self.spool.refuse(entry, status=exc.status, error=error)
        result.refused += len(body) if isinstance(body, list) else 1
        logger.warning("TradeOffice refused a %s (spool entry %s): %s", entry.kind, entry.seq, exc)
        return False

    def refused(self) -> list[Any]:
        return self.spool.refused()


class Recorder(_RecorderBase):
    """The spool of a TradeOffice client and its replay (one per client, shared by its exchanges)."""

    def __init__(self, client: TradeOffice, spool_path: str | None) -> None:
        super().__init__(spool_path)
        self.client = client
        self._flush_lock = threading.Lock()
        self._replayer: threading.Thread | None = None
        self._stop = threading.Event()

    def replay_in_background(self, *, every: float = REPLAY_EVERY) -> None:
        """Send what waits every `every` seconds from a daemon thread, so records spooled while TradeOffice
        was away reach it once it is back even if the agent records nothing more. close() stops it."""
        if self._replayer is not None:
            return

        def replay() -> None:
            while not self._stop.wait(every):
                if not len(self.spool) or not self._online():
                    continue
                try:
                    self.flush()
                except Exception:  # the replay never dies of one bad round; the next one tries again
                    logger.exception("TradeOffice spool replay failed")

        self._replayer = threading.Thread(target=replay, name="tradeoffice-spool-replay", daemon=True)
        self._replayer.start()

    def close(self) -> None:
        self._stop.set()
        if self._replayer is not None:
            self._replayer.join(timeout=15)  # a send in flight ends within its own timeouts
            self._replayer = None
        super().close()

    def submit(self, kind: str, path: str, body: Any, params: Mapping[str, Any] | None = None) -> FlushResult:
        """Into the spool, then everything waiting is sent unless TradeOffice was just found unreachable."""
        self._spool(kind, path, body, params)
        if not self._online():
            return FlushResult(pending=len(self.spool))
        return self.flush()

    def flush(self) -> FlushResult:
        """Send what waits, oldest first, until the spool is empty or TradeOffice does not answer."""
        result = FlushResult()
        with self._flush_lock:
            while (entry := self.spool.head()) is not None:
                try:
                    self.client.request(
                        entry.method,
                        entry.path,
                        params=entry.params,
                        content=entry.body,
                        idempotency_key=entry.idempotency_key,
                        retry=False,
                        timeout=SEND_TIMEOUT,
                    )
                except TradeOfficeError as exc:
                    if is_transient(exc) or not isinstance(exc, ApiError):
                        self.spool.failed(entry.seq, str(exc))
                        self._went_offline()
                        break
                    self._set_aside(entry, exc, result)
                    continue
                self.spool.done(entry.seq)
                result.sent += 1
            else:
                self._back_online()
            result.pending = len(self.spool)
        return result

    def decision(self, decision: Mapping[str, Any] | None = None, /, **fields: Any) -> DecisionScope:
        return DecisionScope(self, {**(decision or {}), **fields})

    def record_orders(self, records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            self._guarded(lambda r=record: self.submit("order", "orders/", r))

    def record_trades(self, trades: Sequence[Mapping[str, Any]], *, exchange: str) -> None:
        if trades:
            body = [trade_record(t) for t in trades]
            for start in range(0, len(body), self.client.batch_size):
                chunk = body[start : start + self.client.batch_size]
                self._guarded(lambda c=chunk: self.submit("trades", "trades/", c, {"exchange": exchange}))

    def _guarded(self, write: Any) -> None:
        # The exchange's answer is the caller's whatever happens here: a failure is logged, never raised.
        try:
            write()
        except Exception:
            logger.exception("Could not keep a record for TradeOffice in the spool %s", self.spool.path)


class AsyncRecorder(_RecorderBase):
    """The spool of an AsyncTradeOffice and its replay (the SQLite writes are local and short)."""

    def __init__(self, client: AsyncTradeOffice, spool_path: str | None) -> None:
        super().__init__(spool_path)
        self.client = client
        self._flush_lock: Any = None
        self._replayer: asyncio.Task[None] | None = None

    def replay_in_background(self, *, every: float = REPLAY_EVERY) -> None:
        """Send what waits every `every` seconds from a task on the running loop (see Recorder's)."""
        if self._replayer is not None:
            return

        async def replay() -> None:
            while True:
                await asyncio.sleep(every)
                if not len(self.spool) or not self._online():
                    continue
                try:
                    await self.flush()
                except Exception:
                    logger.exception("TradeOffice spool replay failed")

        self._replayer = asyncio.get_running_loop().create_task(replay(), name="tradeoffice-spool-replay")

    def close(self) -> None:
        if self._replayer is not None:
            self._replayer.cancel()
            self._replayer = None
        super().close()

    async def submit(
        self, kind: str, path: str, body: Any, params: Mapping[str, Any] | None = None
    ) -> FlushResult:
        self._spool(kind, path, body, params)
        if not self._online():
            return FlushResult(pending=len(self.spool))
        return await self.flush()

    async def flush(self) -> FlushResult:
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        result = FlushResult()
        async with self._flush_lock:
            while (entry := self.spool.head()) is not None:
                try:
                    await self.client.request(
                        entry.method,
                        entry.path,
                        params=entry.params,
                        content=entry.body,
                        idempotency_key=entry.idempotency_key,
                        retry=False,
                        timeout=SEND_TIMEOUT,
                    )
                except TradeOfficeError as exc:
                    if is_transient(exc) or not isinstance(exc, ApiError):
                        self.spool.failed(entry.seq, str(exc))
                        self._went_offline()
                        break
                    self._set_aside(entry, exc, result)
                    continue
                self.spool.done(entry.seq)
                result.sent += 1
            else:
                self._back_online()
            result.pending = len(self.spool)
        return result

    def decision(self, decision: Mapping[str, Any] | None = None, /, **fields: Any) -> AsyncDecisionScope:
        return AsyncDecisionScope(self, {**(decision or {}), **fields})

    async def record_orders(self, records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            await self._guarded(self.submit("order", "orders/", record))

    async def record_trades(self, trades: Sequence[Mapping[str, Any]], *, exchange: str) -> None:
        if trades:
            body = [trade_record(t) for t in trades]
            for start in range(0, len(body), self.client.batch_size):
                chunk = body[start : start + self.client.batch_size]
                await self._guarded(self.submit("trades", "trades/", chunk, {"exchange": exchange}))

    async def _guarded(self, write: Any) -> None:
        try:
            await write
        except Exception:
            logger.exception("Could not keep a record for TradeOffice in the spool %s", self.spool.path)


# ---- decisions ----


class _DecisionScopeBase:
    def __init__(self, body: dict[str, Any]) -> None:
        body.setdefault("id", f"dec-{uuid.uuid4().hex}")
        self.id: str = str(body["id"])
        self.body = body
        self._token: contextvars.Token[str | None] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"

    def _raise_if_refused(self, seq_before: int, result: FlushResult) -> None:
        # The decision is the first thing the block records: refused, it is raised before any order.
        for seq, error in result.errors.items():
            if seq > seq_before:
                raise error


class DecisionScope(_DecisionScopeBase):
    """`with office.decision(...) as d:`: the decision recorded on entry (refused: raised, with the API's
    field errors); each order placed inside the block carries `decisionId = d.id`."""

    def __init__(self, recorder: Recorder, body: dict[str, Any]) -> None:
        super().__init__(body)
        self._recorder = recorder

    def __enter__(self) -> DecisionScope:
        before = self._recorder.spool.last_seq()
        result = self._recorder.submit("decision", "decisions/", self.body)
        self._raise_if_refused(before, result)
        self._token = _current_decision.set(self.id)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._token is not None:
            _current_decision.reset(self._token)
            self._token = None


class AsyncDecisionScope(_DecisionScopeBase):
    """`async with office.decision(...) as d:`, for AsyncTradeOffice."""

    def __init__(self, recorder: AsyncRecorder, body: dict[str, Any]) -> None:
        super().__init__(body)
        self._recorder = recorder

    async def __aenter__(self) -> AsyncDecisionScope:
        before = self._recorder.spool.last_seq()
        result = await self._recorder.submit("decision", "decisions/", self.body)
        self._raise_if_refused(before, result)
        self._token = _current_decision.set(self.id)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._token is not None:
            _current_decision.reset(self._token)
            self._token = None


# ---- the exchanges ----


def _placed(
    symbol: str, type: str, side: str, amount: Any, price: Any, client_order_id: Any
) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "type": type,
        "side": side,
        "amount": amount,
        "price": price,
        "clientOrderId": client_order_id,
    }


class _RecordingBase:
    _exchange: Any
    exchange_name: str

    def __init__(self, exchange: Any, *, exchange_name: str | None, client_order_ids: bool) -> None:
        self._exchange = exchange
        self.exchange_name = exchange_name or exchange.id
        self._client_order_ids = client_order_ids

    def __getattr__(self, name: str) -> Any:
        # Everything not recorded (fetch_ticker, fetch_balance, markets, ...) is the exchange's own.
        return getattr(self._exchange, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.exchange_name!r})"

    @property
    def exchange(self) -> Any:
        """The wrapped ccxt exchange (calls made on it directly are not recorded)."""
        return self._exchange

    def _order_params(self, params: Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
        params = dict(params or {})
        given = next((params[k] for k in CLIENT_ORDER_ID_PARAMS if params.get(k)), None)
        if given is None and self._client_order_ids:
            given = params["clientOrderId"] = new_client_order_id()
        return params, given


class RecordingExchange(_RecordingBase):
    """A ccxt exchange whose create_order, cancel_order, fetch_order, fetch_orders, fetch_open_orders,
    fetch_closed_orders, fetch_canceled_orders and fetch_my_trades record what the exchange returned.

    create_order gives each order a client order id of its own unless `params` carries one (the key
    TradeOffice records it under; `client_order_ids=False` leaves it to the exchange).
    """

    def __init__(
        self,
        exchange: Any,
        recorder: Recorder,
        *,
        exchange_name: str | None = None,
        client_order_ids: bool = True,
    ) -> None:
        super().__init__(exchange, exchange_name=exchange_name, client_order_ids=client_order_ids)
        self._recorder = recorder

    def create_order(
        self, symbol: str, type: str, side: str, amount: Any, price: Any = None, params: Any = None
    ) -> Any:
        params, client_order_id = self._order_params(params)
        order = self._exchange.create_order(symbol, type, side, amount, price, params)
        self._record(
            [order],
            placed=_placed(symbol, type, side, amount, price, client_order_id),
            decision_id=current_decision(),
        )
        return order

    def create_limit_order(self, symbol: str, side: str, amount: Any, price: Any, params: Any = None) -> Any:
        return self.create_order(symbol, "limit", side, amount, price, params)

    def create_market_order(
        self, symbol: str, side: str, amount: Any, price: Any = None, params: Any = None
    ) -> Any:
        return self.create_order(symbol, "market", side, amount, price, params)

    def create_limit_buy_order(self, symbol: str, amount: Any, price: Any, params: Any = None) -> Any:
        return self.create_order(symbol, "limit", "buy", amount, price, params)

    def create_limit_sell_order(self, symbol: str, amount: Any, price: Any, params: Any = None) -> Any:
        return self.create_order(symbol, "limit", "sell", amount, price, params)

    def create_market_buy_order(self, symbol: str, amount: Any, params: Any = None) -> Any:
        return self.create_order(symbol, "market", "buy", amount, None, params)

    def create_market_sell_order(self, symbol: str, amount: Any, params: Any = None) -> Any:
        return self.create_order(symbol, "market", "sell", amount, None, params)

    def cancel_order(self, id: str, symbol: str | None = None, params: Any = None) -> Any:
        order = self._exchange.cancel_order(id, symbol, params or {})
        self._record([{"id": id, **(order or {})}], status_if_missing="canceled")
        return order

    def fetch_order(self, id: str, symbol: str | None = None, params: Any = None) -> Any:
        order = self._exchange.fetch_order(id, symbol, params or {})
        self._record([order])
        return order

    def fetch_orders(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        orders = self._exchange.fetch_orders(symbol, since, limit, params or {})
        self._record(orders)
        return orders

    def fetch_open_orders(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        orders = self._exchange.fetch_open_orders(symbol, since, limit, params or {})
        self._record(orders)
        return orders

    def fetch_closed_orders(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        orders = self._exchange.fetch_closed_orders(symbol, since, limit, params or {})
        self._record(orders)
        return orders

    def fetch_canceled_orders(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        orders = self._exchange.fetch_canceled_orders(symbol, since, limit, params or {})
        self._record(orders)
        return orders

    def fetch_my_trades(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        trades = self._exchange.fetch_my_trades(symbol, since, limit, params or {})
        self._recorder.record_trades(trades, exchange=self.exchange_name)
        return trades

    def _record(self, orders: Sequence[Mapping[str, Any]], **shape: Any) -> None:
        try:
            records = [
                r
                for o in orders
                if (r := self._recorder.order_record(o, exchange=self.exchange_name, **shape))
            ]
        except Exception:
            logger.exception("Could not read an order of %s for TradeOffice", self.exchange_name)
            return
        self._recorder.record_orders(records)


class AsyncRecordingExchange(_RecordingBase):
    """RecordingExchange for ccxt.async_support: the same methods, each to be awaited."""

    def __init__(
        self,
        exchange: Any,
        recorder: AsyncRecorder,
        *,
        exchange_name: str | None = None,
        client_order_ids: bool = True,
    ) -> None:
        super().__init__(exchange, exchange_name=exchange_name, client_order_ids=client_order_ids)
        self._recorder = recorder

    async def create_order(
        self, symbol: str, type: str, side: str, amount: Any, price: Any = None, params: Any = None
    ) -> Any:
        params, client_order_id = self._order_params(params)
        order = await self._exchange.create_order(symbol, type, side, amount, price, params)
        await self._record(
            [order],
            placed=_placed(symbol, type, side, amount, price, client_order_id),
            decision_id=current_decision(),
        )
        return order

    async def create_limit_order(
        self, symbol: str, side: str, amount: Any, price: Any, params: Any = None
    ) -> Any:
        return await self.create_order(symbol, "limit", side, amount, price, params)

    async def create_market_order(
        self, symbol: str, side: str, amount: Any, price: Any = None, params: Any = None
    ) -> Any:
        return await self.create_order(symbol, "market", side, amount, price, params)

    async def cancel_order(self, id: str, symbol: str | None = None, params: Any = None) -> Any:
        order = await self._exchange.cancel_order(id, symbol, params or {})
        await self._record([{"id": id, **(order or {})}], status_if_missing="canceled")
        return order

    async def fetch_order(self, id: str, symbol: str | None = None, params: Any = None) -> Any:
        order = await self._exchange.fetch_order(id, symbol, params or {})
        await self._record([order])
        return order

    async def fetch_orders(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        orders = await self._exchange.fetch_orders(symbol, since, limit, params or {})
        await self._record(orders)
        return orders

    async def fetch_open_orders(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        orders = await self._exchange.fetch_open_orders(symbol, since, limit, params or {})
        await self._record(orders)
        return orders

    async def fetch_closed_orders(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        orders = await self._exchange.fetch_closed_orders(symbol, since, limit, params or {})
        await self._record(orders)
        return orders

    async def fetch_my_trades(
        self, symbol: str | None = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        trades = await self._exchange.fetch_my_trades(symbol, since, limit, params or {})
        await self._recorder.record_trades(trades, exchange=self.exchange_name)
        return trades

    async def _record(self, orders: Sequence[Mapping[str, Any]], **shape: Any) -> None:
        try:
            records = [
                r
                for o in orders
                if (r := self._recorder.order_record(o, exchange=self.exchange_name, **shape))
            ]
        except Exception:
            logger.exception("Could not read an order of %s for TradeOffice", self.exchange_name)
            return
        await self._recorder.record_orders(records)
