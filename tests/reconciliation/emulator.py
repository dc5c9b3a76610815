"""An exchange emulator on loopback: Binance spot and OKX REST, answered in the exchanges' documented JSON,
so that tests drive real ccxt (its signing, pagination and parsing) and mock nothing but the network.

    with EmulatorServer() as server:
        account = server.add_account("binance")
        order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000")
        account.fill(order_id, "0.2", "60000", fee="0.0002", fee_currency="BTC")
        exchange = ccxt_client("binance", account, account.api_key, account.secret)
        exchange.fetch_open_orders("BTC/USDT")

Each account is served under its own path prefix (``account.url``, e.g. ``http://127.0.0.1:PORT/binance``);
at the bare ``server.url`` a private request goes to the account whose API key it carries and a public
one to the first account of its dialect. ``api_urls(dialect, base_url)`` is the value for a ccxt
exchange's ``urls['api']``.

What the emulator holds to, and from where (ccxt 4.5.90's binance.py/okx.py, the exchanges' REST docs):

- Binance (``/api/v3``, ``/sapi/v1``): signed requests carry ``X-MBX-APIKEY`` and a hex HMAC-SHA256 of the
  query string (plus the body, for POST) with the secret; ``timestamp`` must be within ``recvWindow``
  (default 5000 ms, at most 60000) of the server clock and not 1000 ms ahead of it (-1021). Lists are
  chronological: without startTime/endTime the most recent ``limit``, with startTime the oldest from it,
  with endTime the most recent up to it; startTime and endTime at most 24 hours apart (-1127); ``fromId``
  and ``orderId`` are inclusive cursors; ``limit`` defaults to 500 and a larger one than 1000 is served as
  1000 (spot takes any value, ccxt caps only the contract endpoints). Deposit and withdrawal history
  default to the last 90 days, newest first.
- OKX (``/api/v5``): ``OK-ACCESS-SIGN`` is the base64 HMAC-SHA256 of timestamp + method + request path
  (with its query) + body; the ISO timestamp must be within 30 s of the server clock (50102). Every list
  answers, newest first, the newest ``limit`` (default 100, a larger one served as 100) records matching:
  ``after``/``before`` cursors (ordId, billId, or ts for deposits and withdrawals) and ``begin``/``end``
  (cTime or ts). So ``since`` alone returns the newest page after it, as ccxt's own comment in
  okx.fetch_my_trades warns; paging runs backwards (``until``, or the ``after`` cursor). Retention as
  documented: orders-history 7 days (a canceled order with no fill 2 hours), orders-history-archive and
  fills-history 3 months, fills 3 days; set ``account.retention = False`` to keep everything. A fill's
  ``fee`` is negative when charged and positive for a rebate; ccxt flips the sign.

State is changed only through the account's methods (they take the server's lock); fees given to ``fill``
are in ccxt's sign (positive = paid, negative = rebate). Balances are whatever ``set_balance`` says:
orders and fills do not move them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

BINANCE = "binance"
OKX = "okx"

SECOND_MS = 1000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Path roots that are exchange API paths, so they cannot be account names.
_RESERVED_NAMES = {"api", "sapi", "fapi", "dapi", "eapi", "papi", "futures", "vapi"}


def now_ms() -> int:
    return int(time.time() * 1000)


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _fixed8(value: Decimal | None) -> str:
    """Binance's number format: eight decimals, as strings."""
    return f"{(value or Decimal(0)):.8f}"


def _plain(value: Decimal | None) -> str:
    """OKX's number format: plain decimals without trailing zeros, as strings."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------------------------------------
# State


@dataclass
class Market:
    symbol: str  # ccxt's unified symbol: BTC/USDT, or BTC/USDT:USDT for a linear swap
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    price: Decimal  # the reference price for the default ticker
    settle: str | None = None
    contract_size: Decimal | None = None
    max_leverage: int = 10

    @property
    def is_swap(self) -> bool:
        return self.settle is not None


D = Decimal
BINANCE_MARKETS = (
    Market("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"), D("9000"), D("5"), D("60000")),
    Market("ETH/USDT", "ETH", "USDT", D("0.01"), D("0.0001"), D("0.0001"), D("9000"), D("5"), D("3000")),
    Market(
        "ETH/BTC", "ETH", "BTC", D("0.00001"), D("0.0001"), D("0.0001"), D("100000"), D("0.0001"), D("0.05")
    ),
)
OKX_MARKETS = (
    Market(
        "BTC/USDT", "BTC", "USDT", D("0.1"), D("0.00000001"), D("0.00001"), D("9999999999"), D(0), D("60000")
    ),
    Market(
        "ETH/USDT", "ETH", "USDT", D("0.01"), D("0.000001"), D("0.0001"), D("9999999999"), D(0), D("3000")
    ),
    Market(
        "ETH/BTC", "ETH", "BTC", D("0.00001"), D("0.000001"), D("0.001"), D("9999999999"), D(0), D("0.05")
    ),
    Market(
        "BTC/USDT:USDT",
        "BTC",
        "USDT",
        D("0.1"),
        D("0.01"),
        D("0.01"),
        D("100000"),
        D(0),
        D("60000"),
        settle="USDT",
        contract_size=D("0.01"),
        max_leverage=100,
    ),
)


@dataclass
class Ticker:
    last: Decimal
    bid: Decimal
    ask: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    base_volume: Decimal
    quote_volume: Decimal
    timestamp: int


@dataclass
class Fill:
    id: str
    seq: int  # creation order; OKX's billId
    order_id: str
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    fee_cost: Decimal  # ccxt's sign: positive paid, negative rebate
    fee_currency: str
    maker: bool
    timestamp: int
    client_order_id: str = ""
    bill_id: str = ""

    @property
    def cost(self) -> Decimal:
        return self.price * self.amount


@dataclass
class Order:
    id: str
    seq: int
    symbol: str
    side: str  # buy | sell
    type: str  # limit | market
    amount: Decimal
    price: Decimal | None
    client_order_id: str
    created: int
    updated: int
    status: str = "open"  # open | closed | canceled
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee_cost: Decimal = Decimal(0)
    fee_currency: str | None = None
    last_fill: Fill | None = None
    time_in_force: str = "GTC"

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None


@dataclass
class Transfer:
    id: str
    kind: str  # deposit | withdrawal
    currency: str
    amount: Decimal
    timestamp: int
    status: str  # ok | pending | failed | canceled, or the exchange's own code
    network: str
    address: str
    txid: str
    fee: Decimal = Decimal(0)


@dataclass
class Position:
    id: str
    symbol: str
    contracts: Decimal  # signed in net mode: negative is short
    entry_price: Decimal
    mark_price: Decimal
    leverage: Decimal
    margin_mode: str  # cross | isolated
    side: str  # net | long | short
    realized_pnl: Decimal
    liquidation_price: Decimal | None
    created: int
    updated: int


@dataclass(frozen=True)
class RequestRecord:
    account: str | None
    method: str
    path: str  # without the account prefix, e.g. /api/v3/myTrades
    query: dict[str, str]
    verified: bool | None  # did the signature verify with the account's secret; None for public endpoints
    api_key: str | None
    status: int  # 0 when the connection was closed without an answer (go_down mode 'reset')
    code: str | None  # the exchange's error code, when the answer was an error
    at: int


class ApiError(Exception):
    def __init__(self, status: int, code: int | str, msg: str):
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


@dataclass
class _Request:
    method: str
    path: str
    raw_query: str
    body: bytes
    headers: Any

    @functools.cached_property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def target(self) -> str:
        return self.path + ("?" + self.raw_query if self.raw_query else "")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class _Response:
    status: int
    body: Any = None  # a JSON value, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    code: str | None = None
    reset: bool = False  # close the connection without answering


# --------------------------------------------------------------------------------------------------------
# Accounts


class Account:
    """One exchange account: its markets, balances, orders, fills, transfers, faults and request log."""

    dialect: ClassVar[str]
    key_header: ClassVar[str]
    routes: ClassVar[dict[tuple[str, str], tuple[str, bool]]]
    default_markets: ClassVar[tuple[Market, ...]]
    default_networks: ClassVar[dict[str, str]]

    def __init__(self, server: EmulatorServer, name: str, api_key: str, secret: str, password: str | None):
        self.server = server
        self.name = name
        self.api_key = api_key
        self.secret = secret
        self.password = password
        self.uid = secrets.randbelow(900_000_000) + 100_000_000
        self.markets: dict[str, Market] = {m.symbol: replace(m) for m in self.default_markets}
        self.balances: dict[str, tuple[Decimal, Decimal]] = {}
        self.balances_updated = now_ms()
        self.tickers: dict[str, Ticker] = {}
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []  # kept sorted by (timestamp, seq)
        self.deposits: list[Transfer] = []
        self.withdrawals: list[Transfer] = []
        self.positions: dict[str, Position] = {}
        self.requests: list[RequestRecord] = []
        self.clock_offset_ms = 0
        self._lock = server.lock
        self._seq = itertools.count(1)
        self._storm = 0
        self._retry_after = 1
        self._down = False
        self._down_after: int | None = None
        self._down_mode = "maintenance"
        self._auth_refused = False

    @property
    def url(self) -> str:
        return f"{self.server.url}/{self.name}"

    def server_time(self) -> int:
        return now_ms() + self.clock_offset_ms

    def client(self, **options: Any) -> Any:
        """A real ccxt client for this account, through its URL prefix."""
        return ccxt_client(self.dialect, self, self.api_key, self.secret, self.password, **options)

    # ---- scripting the account ----

    def add_market(self, market: Market) -> None:
        with self._lock:
            self.markets[market.symbol] = market

    def set_balance(self, asset: str, free: Any, used: Any = 0) -> None:
        with self._lock:
            self.balances[asset] = (_dec(free), _dec(used))
            self.balances_updated = self.server_time()

    def set_ticker(self, symbol: str, last: Any, **values: Any) -> None:
        """values: bid, ask, open, high, low, base_volume, quote_volume (default: derived from last)."""
        with self._lock:
            self._market(symbol)
            price = _dec(last)
            self.tickers[symbol] = Ticker(
                last=price,
                bid=_dec(values.get("bid", price)),
                ask=_dec(values.get("ask", price)),
                open=_dec(values.get("open", price)),
                high=_dec(values.get("high", price)),
                low=_dec(values.get("low", price)),
                base_volume=_dec(values.get("base_volume", 1000)),
                quote_volume=_dec(values.get("quote_volume", price * 1000)),
                timestamp=self.server_time(),
            )

    def place_order(
        self,
        symbol: str,
        side: str,
        type: str,
        amount: Any,
        price: Any = None,
        client_order_id: str | None = None,
        at: int | None = None,
        time_in_force: str = "GTC",
    ) -> str:
        """An open order, as if placed on the exchange; returns the exchange's order id."""
        with self._lock:
            return self._place(symbol, side, type, _dec(amount), price, client_order_id, at, time_in_force).id

    def fill(
        self,
        order_id: str,
        amount: Any,
        price: Any = None,
        fee: Any = 0,
        fee_currency: str | None = None,
        maker: bool = True,
        at: int | None = None,
    ) -> str:
        """A fill of an open order (at its limit price unless given); fee in ccxt's sign (negative is a
        rebate), in the received currency unless given. Returns the trade id."""
        with self._lock:
            order = self._order(order_id)
            fill = self._fill(order, _dec(amount), price, fee, fee_currency, maker, at)
            self._insert_fill(fill)
            return fill.id

    def cancel(self, order_id: str, at: int | None = None) -> None:
        with self._lock:
            order = self._order(order_id)
            if order.status != "open":
                raise ValueError(f"order {order_id} is {order.status}, not open")
            order.status = "canceled"
            order.updated = self._at(at)

    def add_trades_bulk(
        self,
        n: int,
        symbol: str = "BTC/USDT",
        *,
        start: int | None = None,
        step_ms: int = SECOND_MS,
        price: Any = None,
        amount: Any = "0.001",
        fee: Any = None,
        fee_currency: str | None = None,
        side: str = "buy",
        maker: bool = False,
    ) -> list[str]:
        """n fills, each closing its own order, step_ms apart from start (default: ending a minute ago).
        side 'alternate' alternates buy and sell; fee defaults to 0.1% of the received currency."""
        with self._lock:
            market = self._market(symbol)
            price_d = _dec(price) if price is not None else market.price
            amount_d = _dec(amount)
            first = start if start is not None else self.server_time() - 60 * SECOND_MS - n * step_ms
            fills = []
            for i in range(n):
                order_side = ("buy" if i % 2 == 0 else "sell") if side == "alternate" else side
                at = first + i * step_ms
                order = self._place(symbol, order_side, "limit", amount_d, price_d, None, at, "GTC")
                fill = self._fill(order, amount_d, price_d, fee, fee_currency, maker, at)
                fills.append(fill)
            self.fills.extend(fills)
            self.fills.sort(key=lambda f: (f.timestamp, f.seq))
            return [f.id for f in fills]

    def add_deposit(
        self,
        currency: str,
        amount: Any,
        *,
        at: int | None = None,
        status: str = "ok",
        network: str | None = None,
        address: str | None = None,
        txid: str | None = None,
    ) -> str:
        with self._lock:
            transfer = self._transfer("deposit", currency, amount, 0, at, status, network, address, txid)
            self.deposits.append(transfer)
            return transfer.id

    def add_withdrawal(
        self,
        currency: str,
        amount: Any,
        *,
        fee: Any = 0,
        at: int | None = None,
        status: str = "ok",
        network: str | None = None,
        address: str | None = None,
        txid: str | None = None,
    ) -> str:
        with self._lock:
            transfer = self._transfer("withdrawal", currency, amount, fee, at, status, network, address, txid)
            self.withdrawals.append(transfer)
            return transfer.id

    # ---- faults ----

    def rate_limit_storm(self, n: int, retry_after: int = 1) -> None:
        """The next n requests are answered 429 in the exchange's format."""
        with self._lock:
            self._storm = n
            self._retry_after = retry_after

    def go_down(self, after: int = 0, mode: str = "maintenance") -> None:
        """After `after` more successful private requests, every request is answered as the exchange down:
        mode 'maintenance' (503 with the exchange's maintenance error), 'unavailable' (a bare 503 page from
        the load balancer) or 'reset' (the connection closed without an answer). Until recover()."""
        if mode not in ("maintenance", "unavailable", "reset"):
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._down_mode = mode
            self._down = after <= 0
            self._down_after = after if after > 0 else None

    def recover(self) -> None:
        with self._lock:
            self._down = False
            self._down_after = None
            self._storm = 0

    def refuse_auth(self, refused: bool = True) -> None:
        """Private requests are refused as a revoked key would be, whatever they carry."""
        with self._lock:
            self._auth_refused = refused

    def skew_clock(self, offset_ms: int) -> None:
        """The server clock runs offset_ms ahead of this machine's (behind when negative)."""
        with self._lock:
            self.clock_offset_ms = offset_ms

    def requests_to(self, path: str) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # ---- internals shared by the dialects ----

    def _at(self, at: int | None) -> int:
        return at if at is not None else self.server_time()

    def _market(self, symbol: str) -> Market:
        try:
            return self.markets[symbol]
        except KeyError:
            raise KeyError(f"{self.name} has no market {symbol}; it has {sorted(self.markets)}") from None

    def _order(self, order_id: str) -> Order:
        try:
            return self.orders[str(order_id)]
        except KeyError:
            raise KeyError(f"{self.name} has no order {order_id}") from None

    def _new_order_id(self, seq: int) -> str:
        raise NotImplementedError

    def _new_trade_id(self, seq: int) -> str:
        raise NotImplementedError

    def _new_client_order_id(self) -> str:
        return ""

    def _place(self, symbol, side, type_, amount, price, client_order_id, at, time_in_force) -> Order:
        self._market(symbol)
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be buy or sell, not {side!r}")
        if type_ not in ("limit", "market"):
            raise ValueError(f"type must be limit or market, not {type_!r}")
        if type_ == "limit" and price is None:
            raise ValueError("a limit order needs a price")
        seq = next(self._seq)
        when = self._at(at)
        order = Order(
            id=self._new_order_id(seq),
            seq=seq,
            symbol=symbol,
            side=side,
            type=type_,
            amount=amount,
            price=_dec(price) if price is not None else None,
            client_order_id=client_order_id if client_order_id is not None else self._new_client_order_id(),
            created=when,
            updated=when,
            time_in_force=time_in_force,
        )
        self.orders[order.id] = order
        return order

    def _fill(self, order: Order, amount: Decimal, price, fee, fee_currency, maker, at) -> Fill:
        if order.status != "open":
            raise ValueError(f"order {order.id} is {order.status}, not open")
        if amount <= 0 or amount > order.remaining:
            raise ValueError(f"fill of {amount} does not fit order {order.id} (remaining {order.remaining})")
        market = self._market(order.symbol)
        price_d = _dec(price) if price is not None else order.price
        if price_d is None:
            raise ValueError("a market order's fill needs a price")
        received = market.base if order.side == "buy" else market.quote
        if fee is None:  # the exchanges' default taker rate, in the received currency
            fee_d = (amount if order.side == "buy" else amount * price_d) * Decimal("0.001")
        else:
            fee_d = _dec(fee)
        seq = next(self._seq)
        when = self._at(at)
        fill = Fill(
            id=self._new_trade_id(seq),
            seq=seq,
            order_id=order.id,
            symbol=order.symbol,
            side=order.side,
            price=price_d,
            amount=amount,
            fee_cost=fee_d,
            fee_currency=fee_currency or received,
            maker=maker,
            timestamp=when,
            client_order_id=order.client_order_id,
            bill_id=self._new_bill_id(seq),
        )
        order.filled += amount
        order.cost += amount * price_d
        order.fee_cost += fee_d
        order.fee_currency = fill.fee_currency
        order.last_fill = fill
        order.updated = max(order.updated, when)
        if order.remaining == 0:
            order.status = "closed"
        return fill

    def _new_bill_id(self, seq: int) -> str:
        return str(seq)

    def _insert_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        if len(self.fills) > 1 and (self.fills[-2].timestamp, self.fills[-2].seq) > (
            fill.timestamp,
            fill.seq,
        ):
            self.fills.sort(key=lambda f: (f.timestamp, f.seq))

    def _transfer(self, kind, currency, amount, fee, at, status, network, address, txid) -> Transfer:
        seq = next(self._seq)
        return Transfer(
            id=self._new_transfer_id(kind, seq),
            kind=kind,
            currency=currency,
            amount=_dec(amount),
            timestamp=self._at(at),
            status=status,
            network=network or self.default_networks.get(currency, currency),
            address=address or f"{currency.lower()}{secrets.token_hex(16)}",
            txid=txid or secrets.token_hex(32),
            fee=_dec(fee),
        )

    def _new_transfer_id(self, kind: str, seq: int) -> str:
        raise NotImplementedError

    def _ticker(self, market: Market) -> Ticker:
        ticker = self.tickers.get(market.symbol)
        if ticker is None:
            spread = market.tick_size
            ticker = Ticker(
                last=market.price,
                bid=market.price - spread,
                ask=market.price + spread,
                open=market.price,
                high=market.price,
                low=market.price,
                base_volume=Decimal(1000),
                quote_volume=market.price * 1000,
                timestamp=self.server_time(),
            )
        return ticker

    def _assets(self) -> list[str]:
        assets = set(self.balances)
        for market in self.markets.values():
            assets.update((market.base, market.quote))
        return sorted(assets)

    # ---- serving ----

    def _handle(self, route: tuple[str, bool] | None, request: _Request) -> _Response:
        signed = bool(route and route[1])
        verified: bool | None = None
        if self._down:
            response = self._down_response()
        elif self._storm > 0:
            self._storm -= 1
            response = self._rate_limited_response()
        elif route is None:
            response = self._error_response(self._not_found(request))
        else:
            error = None
            if signed:
                verified, error = self._authenticate(request)
                if error is None and self._auth_refused:
                    error = self._refused_response()
            if error is not None:
                response = error
            else:
                try:
                    response = self._ok(getattr(self, route[0])(request))
                except ApiError as exc:
                    response = self._error_response(exc)
                if signed and response.status == 200 and self._down_after is not None:
                    self._down_after -= 1
                    if self._down_after <= 0:
                        self._down = True
                        self._down_after = None
        self.server._record(self, request, response, verified, self.key_header)
        return response

    def _ok(self, result: Any) -> _Response:
        return _Response(200, result)

    def _not_found(self, request: _Request) -> ApiError:
        return ApiError(404, -1, f"the emulator has no endpoint {request.method} {request.path}")

    # Each dialect answers these in its own words.
    def _authenticate(self, request: _Request) -> tuple[bool, _Response | None]:
        raise NotImplementedError

    def _error_response(self, exc: ApiError) -> _Response:
        raise NotImplementedError

    def _down_response(self) -> _Response:
        if self._down_mode == "reset":
            return _Response(0, reset=True)
        if self._down_mode == "unavailable":
            page = b"<html><head><title>503 Service Unavailable</title></head><body>503</body></html>"
            return _Response(503, page, content_type="text/html")
        return self._maintenance_response()

    def _maintenance_response(self) -> _Response:
        raise NotImplementedError

    def _rate_limited_response(self) -> _Response:
        raise NotImplementedError

    def _refused_response(self) -> _Response:
        raise NotImplementedError

    @classmethod
    def _unknown_key_response(cls, request: _Request) -> _Response:
        raise NotImplementedError


def _int_param(params: dict[str, str], name: str, error: ApiError) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise error from None


class BinanceAccount(Account):
    """Binance spot (/api/v3) and the wallet endpoints (/sapi/v1) ccxt's binance calls."""

    dialect = BINANCE
    key_header = "X-MBX-APIKEY"
    default_markets = BINANCE_MARKETS
    default_networks = {"BTC": "BTC", "ETH": "ETH", "USDT": "ETH", "BNB": "BSC"}
    routes = {
        ("GET", "/api/v3/ping"): ("ping", False),
        ("GET", "/api/v3/time"): ("time", False),
        ("GET", "/api/v3/exchangeInfo"): ("exchange_info", False),
        ("GET", "/api/v3/ticker/24hr"): ("ticker_24hr", False),
        ("GET", "/api/v3/klines"): ("klines", False),
        ("GET", "/fapi/v1/exchangeInfo"): ("futures_exchange_info", False),
        ("GET", "/dapi/v1/exchangeInfo"): ("futures_exchange_info", False),
        ("GET", "/sapi/v1/system/status"): ("system_status", False),
        ("GET", "/api/v3/account"): ("account_information", True),
        ("GET", "/api/v3/openOrders"): ("open_orders", True),
        ("GET", "/api/v3/order"): ("query_order", True),
        ("POST", "/api/v3/order"): ("new_order", True),
        ("DELETE", "/api/v3/order"): ("cancel_order", True),
        ("GET", "/api/v3/allOrders"): ("all_orders", True),
        ("GET", "/api/v3/myTrades"): ("my_trades", True),
        ("GET", "/sapi/v1/capital/config/getall"): ("capital_config", True),
        ("GET", "/sapi/v1/margin/allPairs"): ("margin_pairs", True),
        ("GET", "/sapi/v1/margin/isolated/allPairs"): ("isolated_margin_pairs", True),
        ("GET", "/sapi/v1/capital/deposit/hisrec"): ("deposit_history", True),
        ("GET", "/sapi/v1/capital/withdraw/history"): ("withdraw_history", True),
    }
    deposit_statuses = {"pending": 0, "ok": 1, "credited": 6, "failed": 7}
    withdrawal_statuses = {"canceled": 1, "awaiting": 2, "rejected": 3, "pending": 4, "failed": 5, "ok": 6}
    max_limit = 1000

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._order_ids = itertools.count(31_000_000_001)
        self._trade_ids = itertools.count(3_100_000_001)
        # (market id, interval) -> {open time ms: (open, high, low, close, volume)}
        self.candles: dict[tuple[str, str], dict[int, tuple[Decimal, ...]]] = {}

    KLINE_INTERVALS_MS = {
        "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
        "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000,
        "1d": 86_400_000,
    }  # fmt: skip

    def add_candles(self, symbol: str, interval: str, bars: list[tuple]) -> None:
        """bars: (open time ms, open, high, low, close, volume), served by GET /api/v3/klines."""
        if interval not in self.KLINE_INTERVALS_MS:
            raise ValueError(f"unknown interval {interval}")
        with self._lock:
            series = self.candles.setdefault((self.market_id(self._market(symbol)), interval), {})
            for open_time, *values in bars:
                series[int(open_time)] = tuple(_dec(v) for v in values)

    def klines(self, request: _Request) -> list[list]:
        """Binance's GET /api/v3/klines: symbol, interval, startTime, endTime, limit (default 500, at most
        1000); the oldest bars from startTime, else the newest up to endTime (or now)."""
        params = request.query
        market = self._market_by_id(params.get("symbol", ""))
        interval = params.get("interval", "")
        if interval not in self.KLINE_INTERVALS_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        step = self.KLINE_INTERVALS_MS[interval]
        limit = min(int(params.get("limit") or 500), 1000)
        series = self.candles.get((self.market_id(market), interval), {})
        times = sorted(series)
        if params.get("startTime"):
            start = int(params["startTime"])
            end = int(params["endTime"]) if params.get("endTime") else None
            times = [t for t in times if t >= start and (end is None or t <= end)][:limit]
        else:
            end = int(params["endTime"]) if params.get("endTime") else self.server_time()
            times = [t for t in times if t <= end][-limit:]
        return [
            [t, *(_fixed8(v) for v in series[t][:4]), _fixed8(series[t][4]), t + step - 1,
             _fixed8(series[t][3] * series[t][4]), 1, "0", "0", "0"]
            for t in times
        ]  # fmt: skip

    def market_id(self, market: Market) -> str:
        return market.base + market.quote

    def _new_order_id(self, seq: int) -> str:
        return str(next(self._order_ids))

    def _new_trade_id(self, seq: int) -> str:
        return str(next(self._trade_ids))

    def _new_client_order_id(self) -> str:
        return secrets.token_urlsafe(16)[:22]

    def _new_transfer_id(self, kind: str, seq: int) -> str:
        return str(800_000_000_000_000_000 + seq) if kind == "deposit" else secrets.token_hex(16)

    # ---- protocol ----

    @staticmethod
    def _signed_parts(request: _Request) -> tuple[dict[str, str], str, str | None]:
        """The parameters, the signed payload (query then body, without the signature) and the signature."""
        signature = None
        payload = []
        params: dict[str, str] = {}
        for part in (request.body.decode(), request.raw_query):
            kept = []
            for pair in part.split("&") if part else []:
                if pair.startswith("signature="):
                    signature = pair[len("signature=") :]
                else:
                    kept.append(pair)
            payload.insert(0, "&".join(kept))
            params.update(parse_qsl("&".join(kept), keep_blank_values=True))  # the query string wins
        return params, "".join(payload), signature

    def _params(self, request: _Request) -> dict[str, str]:
        return self._signed_parts(request)[0]

    def _authenticate(self, request: _Request) -> tuple[bool, _Response | None]:
        key = request.header(self.key_header)
        if not key:
            return False, self._error_response(ApiError(401, -2014, "API-key format invalid."))
        if key != self.api_key:
            return False, self._error_response(
                ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
            )
        params, payload, signature = self._signed_parts(request)
        if not signature:
            return False, self._error_response(
                ApiError(
                    400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
                )
            )
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return False, self._error_response(
                ApiError(400, -1022, "Signature for this request is not valid.")
            )
        try:
            timestamp = int(params["timestamp"])
            recv_window = Decimal(params.get("recvWindow", "5000"))
        except (KeyError, ValueError, InvalidOperation):
            return True, self._error_response(
                ApiError(
                    400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
                )
            )
        if timestamp > 10**14:  # microseconds
            timestamp //= 1000
        if recv_window > 60000:
            return True, self._error_response(ApiError(400, -1131, "recvWindow must be less than 60000"))
        server_time = self.server_time()
        if timestamp >= server_time + 1000:
            return True, self._error_response(
                ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
            )
        if server_time - timestamp > recv_window:
            return True, self._error_response(
                ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
            )
        return True, None

    def _error_response(self, exc: ApiError) -> _Response:
        return _Response(exc.status, {"code": int(exc.code), "msg": exc.msg}, code=str(exc.code))

    def _maintenance_response(self) -> _Response:
        return _Response(503, {"code": 1, "msg": "System is under maintenance."}, code="1")

    def _rate_limited_response(self) -> _Response:
        msg = (
            "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API."
        )
        return _Response(
            429, {"code": -1003, "msg": msg}, headers={"Retry-After": str(self._retry_after)}, code="-1003"
        )

    def _refused_response(self) -> _Response:
        return self._error_response(ApiError(401, -2015, "Invalid API-key, IP, or permissions for action."))

    @classmethod
    def _unknown_key_response(cls, request: _Request) -> _Response:
        if not request.header(cls.key_header):
            body, code = {"code": -2014, "msg": "API-key format invalid."}, "-2014"
        else:
            body, code = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, "-2015"
        return _Response(401, body, code=code)

    # ---- helpers ----

    def _market_by_id(self, market_id: str | None, required: bool = True) -> Market | None:
        if not market_id:
            if required:
                raise ApiError(
                    400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
                )
            return None
        for market in self.markets.values():
            if not market.is_swap and self.market_id(market) == market_id:
                return market
        raise ApiError(400, -1121, "Invalid symbol.")

    def _limit(self, params: dict[str, str], default: int = 500) -> int:
        limit = _int_param(
            params, "limit", ApiError(400, -1100, "Illegal characters found in parameter 'limit'.")
        )
        return max(1, min(limit if limit is not None else default, self.max_limit))

    @staticmethod
    def _window(params: dict[str, str], max_ms: int, hours: int) -> tuple[int | None, int | None]:
        error = ApiError(400, -1100, "Illegal characters found in a parameter.")
        start = _int_param(params, "startTime", error)
        end = _int_param(params, "endTime", error)
        if start is not None and end is not None and end - start > max_ms:
            raise ApiError(400, -1127, f"More than {hours} hours between startTime and endTime.")
        return start, end

    @staticmethod
    def _chronological_page(items: list, timestamp, start, end, limit) -> list:
        """The spot API's rule: with startTime the oldest from it, else the most recent (up to endTime)."""
        if start is not None:
            selected = [x for x in items if timestamp(x) >= start and (end is None or timestamp(x) <= end)]
            return selected[:limit]
        if end is not None:
            items = [x for x in items if timestamp(x) <= end]
        return items[-limit:]

    def _status(self, order: Order) -> str:
        if order.status == "open":
            return "PARTIALLY_FILLED" if order.filled else "NEW"
        return {"closed": "FILLED", "canceled": "CANCELED"}[order.status]

    def _order_json(self, order: Order) -> dict[str, Any]:
        market = self.markets[order.symbol]
        return {
            "symbol": self.market_id(market),
            "orderId": int(order.id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": _fixed8(order.price),
            "origQty": _fixed8(order.amount),
            "executedQty": _fixed8(order.filled),
            "cummulativeQuoteQty": _fixed8(order.cost),
            "status": self._status(order),
            "timeInForce": order.time_in_force,
            "type": order.type.upper(),
            "side": order.side.upper(),
            "stopPrice": _fixed8(None),
            "icebergQty": _fixed8(None),
            "time": order.created,
            "updateTime": order.updated,
            "isWorking": True,
            "workingTime": order.created,
            "origQuoteOrderQty": _fixed8(None),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def _trade_json(self, fill: Fill) -> dict[str, Any]:
        market = self.markets[fill.symbol]
        return {
            "symbol": self.market_id(market),
            "id": int(fill.id),
            "orderId": int(fill.order_id),
            "orderListId": -1,
            "price": _fixed8(fill.price),
            "qty": _fixed8(fill.amount),
            "quoteQty": _fixed8(fill.cost),
            "commission": _fixed8(fill.fee_cost),
            "commissionAsset": fill.fee_currency,
            "time": fill.timestamp,
            "isBuyer": fill.side == "buy",
            "isMaker": fill.maker,
            "isBestMatch": True,
        }

    def _symbol_json(self, market: Market) -> dict[str, Any]:
        return {
            "symbol": self.market_id(market),
            "status": "TRADING",
            "baseAsset": market.base,
            "baseAssetPrecision": 8,
            "quoteAsset": market.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": [
                "LIMIT",
                "LIMIT_MAKER",
                "MARKET",
                "STOP_LOSS",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT",
                "TAKE_PROFIT_LIMIT",
            ],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "amendAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": _fixed8(market.tick_size),
                    "maxPrice": _fixed8(Decimal(1_000_000)),
                    "tickSize": _fixed8(market.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": _fixed8(market.min_qty),
                    "maxQty": _fixed8(market.max_qty),
                    "stepSize": _fixed8(market.step_size),
                },
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": _fixed8(None),
                    "maxQty": _fixed8(market.max_qty / 10),
                    "stepSize": _fixed8(None),
                },
                {
                    "filterType": "TRAILING_DELTA",
                    "minTrailingAboveDelta": 10,
                    "maxTrailingAboveDelta": 2000,
                    "minTrailingBelowDelta": 10,
                    "maxTrailingBelowDelta": 2000,
                },
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": "5",
                    "bidMultiplierDown": "0.2",
                    "askMultiplierUp": "5",
                    "askMultiplierDown": "0.2",
                    "avgPriceMins": 5,
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": _fixed8(market.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": _fixed8(Decimal(9_000_000)),
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
            ],
            "permissions": [],
            "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"],
        }

    def _spot_markets(self) -> list[Market]:
        return [m for m in self.markets.values() if not m.is_swap]

    def _find_order(self, params: dict[str, str]) -> tuple[Market, Order]:
        market = self._market_by_id(params.get("symbol"))
        order_id = params.get("orderId")
        client_id = params.get("origClientOrderId")
        if not order_id and not client_id:
            raise ApiError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        for order in self.orders.values():
            if order.symbol != market.symbol:
                continue
            if (order_id and order.id == order_id) or (not order_id and order.client_order_id == client_id):
                if order_id and client_id and order.client_order_id != client_id:
                    break
                return market, order
        raise ApiError(400, -2013, "Order does not exist.")

    # ---- public endpoints ----

    def ping(self, request: _Request) -> dict:
        return {}

    def time(self, request: _Request) -> dict:
        return {"serverTime": self.server_time()}

    def system_status(self, request: _Request) -> dict:
        return {"status": 0, "msg": "normal"}

    def exchange_info(self, request: _Request) -> dict:
        params = request.query
        markets = self._spot_markets()
        if params.get("symbol"):
            markets = [self._market_by_id(params["symbol"])]
        elif params.get("symbols"):
            markets = [self._market_by_id(i) for i in json.loads(params["symbols"])]
        return {
            "timezone": "UTC",
            "serverTime": self.server_time(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": [self._symbol_json(m) for m in markets],
        }

    def futures_exchange_info(self, request: _Request) -> dict:
        """The USD-M and COIN-M markets load_markets asks for: this account trades none."""
        return {
            "timezone": "UTC",
            "serverTime": self.server_time(),
            "futuresType": "U_MARGINED" if request.path.startswith("/fapi") else "COIN_MARGINED",
            "rateLimits": [],
            "exchangeFilters": [],
            "assets": [],
            "symbols": [],
        }

    def ticker_24hr(self, request: _Request) -> Any:
        params = request.query
        if params.get("symbol"):
            return self._ticker_json(self._market_by_id(params["symbol"]))
        markets = self._spot_markets()
        if params.get("symbols"):
            markets = [self._market_by_id(i) for i in json.loads(params["symbols"])]
        return [self._ticker_json(m) for m in markets]

    def _ticker_json(self, market: Market) -> dict[str, Any]:
        t = self._ticker(market)
        change = t.last - t.open
        return {
            "symbol": self.market_id(market),
            "priceChange": _fixed8(change),
            "priceChangePercent": f"{(change / t.open * 100) if t.open else Decimal(0):.3f}",
            "weightedAvgPrice": _fixed8(t.quote_volume / t.base_volume if t.base_volume else t.last),
            "prevClosePrice": _fixed8(t.open),
            "lastPrice": _fixed8(t.last),
            "lastQty": _fixed8(market.min_qty),
            "bidPrice": _fixed8(t.bid),
            "bidQty": _fixed8(Decimal(1)),
            "askPrice": _fixed8(t.ask),
            "askQty": _fixed8(Decimal(1)),
            "openPrice": _fixed8(t.open),
            "highPrice": _fixed8(t.high),
            "lowPrice": _fixed8(t.low),
            "volume": _fixed8(t.base_volume),
            "quoteVolume": _fixed8(t.quote_volume),
            "openTime": t.timestamp - DAY_MS,
            "closeTime": t.timestamp,
            "firstId": 0,
            "lastId": 0,
            "count": 0,
        }

    # ---- private endpoints ----

    def account_information(self, request: _Request) -> dict:
        params = self._params(request)
        balances = []
        for asset in self._assets():
            free, used = self.balances.get(asset, (Decimal(0), Decimal(0)))
            if params.get("omitZeroBalances") == "true" and not (free or used):
                continue
            balances.append({"asset": asset, "free": _fixed8(free), "locked": _fixed8(used)})
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.balances_updated,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": self.uid,
        }

    def open_orders(self, request: _Request) -> list:
        params = self._params(request)
        market = self._market_by_id(params.get("symbol"), required=False)
        orders = [
            o
            for o in self.orders.values()
            if o.status == "open" and (market is None or o.symbol == market.symbol)
        ]
        return [self._order_json(o) for o in sorted(orders, key=lambda o: (o.created, o.seq))]

    def query_order(self, request: _Request) -> dict:
        return self._order_json(self._find_order(self._params(request))[1])

    def all_orders(self, request: _Request) -> list:
        params = self._params(request)
        market = self._market_by_id(params.get("symbol"))
        limit = self._limit(params)
        start, end = self._window(params, DAY_MS, 24)
        from_id = _int_param(
            params, "orderId", ApiError(400, -1100, "Illegal characters found in parameter 'orderId'.")
        )
        orders = sorted(
            (o for o in self.orders.values() if o.symbol == market.symbol), key=lambda o: (o.created, o.seq)
        )
        if from_id is not None:
            orders = sorted((o for o in orders if int(o.id) >= from_id), key=lambda o: int(o.id))
            orders = [
                o
                for o in orders
                if (start is None or o.created >= start) and (end is None or o.created <= end)
            ]
            page = orders[:limit]
        else:
            page = self._chronological_page(orders, lambda o: o.created, start, end, limit)
        return [self._order_json(o) for o in page]

    def my_trades(self, request: _Request) -> list:
        params = self._params(request)
        market = self._market_by_id(params.get("symbol"))
        limit = self._limit(params)
        start, end = self._window(params, DAY_MS, 24)
        error = ApiError(400, -1100, "Illegal characters found in a parameter.")
        from_id = _int_param(params, "fromId", error)
        order_id = params.get("orderId")
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(400, -1128, "Combination of optional parameters invalid.")
        fills = [
            f for f in self.fills if f.symbol == market.symbol and (not order_id or f.order_id == order_id)
        ]
        if from_id is not None:
            page = sorted((f for f in fills if int(f.id) >= from_id), key=lambda f: int(f.id))[:limit]
        else:
            page = self._chronological_page(fills, lambda f: f.timestamp, start, end, limit)
        return [self._trade_json(f) for f in page]

    def new_order(self, request: _Request) -> dict:
        params = self._params(request)
        market = self._market_by_id(params.get("symbol"))
        side = params.get("side", "").lower()
        type_ = params.get("type", "").lower()
        if side not in ("buy", "sell"):
            raise ApiError(
                400, -1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed."
            )
        if type_ not in ("limit", "market"):
            raise ApiError(400, -1116, "Invalid orderType.")
        ticker = self._ticker(market)
        fill_price = ticker.ask if side == "buy" else ticker.bid
        try:
            if params.get("quantity"):
                amount = Decimal(params["quantity"])
            elif type_ == "market" and params.get("quoteOrderQty"):
                amount = (Decimal(params["quoteOrderQty"]) / fill_price).quantize(market.step_size)
            else:
                raise ApiError(
                    400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
                )
            price = Decimal(params["price"]) if type_ == "limit" else None
        except (KeyError, InvalidOperation):
            raise ApiError(
                400, -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
            ) from None
        order = self._place(
            market.symbol,
            side,
            type_,
            amount,
            price,
            params.get("newClientOrderId") or None,
            None,
            params.get("timeInForce", "GTC"),
        )
        fills = []
        if type_ == "market":
            fill = self._fill(order, amount, fill_price, None, None, False, None)
            self._insert_fill(fill)
            fills.append(fill)
        response_type = params.get("newOrderRespType", "FULL" if type_ == "market" else "ACK")
        ack = {
            "symbol": self.market_id(market),
            "orderId": int(order.id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": order.created,
        }
        if response_type == "ACK":
            return ack
        result = self._order_json(order)
        result["transactTime"] = order.created
        if response_type == "FULL":
            result["fills"] = [
                {
                    "price": _fixed8(f.price),
                    "qty": _fixed8(f.amount),
                    "commission": _fixed8(f.fee_cost),
                    "commissionAsset": f.fee_currency,
                    "tradeId": int(f.id),
                }
                for f in fills
            ]
        return result

    def cancel_order(self, request: _Request) -> dict:
        try:
            _, order = self._find_order(self._params(request))
        except ApiError as exc:
            if exc.code == -2013:
                raise ApiError(400, -2011, "Unknown order sent.") from None
            raise
        if order.status != "open":
            raise ApiError(400, -2011, "Unknown order sent.")
        order.status = "canceled"
        order.updated = self.server_time()
        result = self._order_json(order)
        result["origClientOrderId"] = order.client_order_id
        result["transactTime"] = order.updated
        return result

    def capital_config(self, request: _Request) -> list:
        coins = []
        for asset in self._assets():
            free, used = self.balances.get(asset, (Decimal(0), Decimal(0)))
            network = self.default_networks.get(asset, asset)
            coins.append(
                {
                    "coin": asset,
                    "depositAllEnable": True,
                    "withdrawAllEnable": True,
                    "name": asset,
                    "free": _fixed8(free),
                    "locked": _fixed8(used),
                    "freeze": "0",
                    "withdrawing": "0",
                    "ipoing": "0",
                    "ipoable": "0",
                    "storage": "0",
                    "isLegalMoney": False,
                    "trading": True,
                    "networkList": [
                        {
                            "network": network,
                            "coin": asset,
                            "withdrawIntegerMultiple": "0.00000001",
                            "isDefault": True,
                            "depositEnable": True,
                            "withdrawEnable": True,
                            "depositDesc": "",
                            "withdrawDesc": "",
                            "specialTips": "",
                            "specialWithdrawTips": "",
                            "name": network,
                            "resetAddressStatus": False,
                            "addressRegex": "",
                            "memoRegex": "",
                            "withdrawFee": "0.0001",
                            "withdrawMin": "0.001",
                            "withdrawMax": "10000000000",
                            "depositDust": "0.00000001",
                            "minConfirm": 1,
                            "unLockConfirm": 2,
                            "sameAddress": False,
                            "estimatedArrivalTime": 5,
                            "busy": False,
                            "contractAddressUrl": "",
                            "contractAddress": "",
                        }
                    ],
                }
            )
        return coins

    def margin_pairs(self, request: _Request) -> list:
        return [
            {
                "id": str(i + 1),
                "symbol": self.market_id(m),
                "base": m.base,
                "quote": m.quote,
                "isMarginTrade": True,
                "isBuyAllowed": True,
                "isSellAllowed": True,
            }
            for i, m in enumerate(self._spot_markets())
        ]

    def isolated_margin_pairs(self, request: _Request) -> list:
        pairs = self.margin_pairs(request)
        for pair in pairs:
            del pair["id"]
        return pairs

    def _transfers_page(self, transfers: list[Transfer], params: dict[str, str]) -> list[Transfer]:
        start, end = self._window(params, 90 * DAY_MS, 90 * 24)
        end = end if end is not None else self.server_time()
        start = start if start is not None else end - 90 * DAY_MS
        error = ApiError(400, -1100, "Illegal characters found in a parameter.")
        offset = _int_param(params, "offset", error) or 0
        limit = self._limit(params, default=1000)
        coin = params.get("coin")
        selected = [t for t in transfers if start <= t.timestamp <= end and (not coin or t.currency == coin)]
        if params.get("status"):
            selected = [t for t in selected if str(self._status_code(t)) == params["status"]]
        if params.get("txId"):
            selected = [t for t in selected if t.txid == params["txId"]]
        selected.sort(key=lambda t: t.timestamp, reverse=True)
        return selected[offset : offset + limit]

    def _status_code(self, transfer: Transfer) -> Any:
        statuses = self.deposit_statuses if transfer.kind == "deposit" else self.withdrawal_statuses
        return statuses.get(transfer.status, transfer.status)

    def deposit_history(self, request: _Request) -> list:
        return [
            {
                "id": t.id,
                "amount": _fixed8(t.amount),
                "coin": t.currency,
                "network": t.network,
                "status": self._status_code(t),
                "address": t.address,
                "addressTag": "",
                "txId": t.txid,
                "insertTime": t.timestamp,
                "completeTime": t.timestamp,
                "transferType": 0,
                "confirmTimes": "12/12",
                "unlockConfirm": 0,
                "walletType": 0,
            }
            for t in self._transfers_page(self.deposits, self._params(request))
        ]

    def withdraw_history(self, request: _Request) -> list:
        return [
            {
                "id": t.id,
                "amount": _fixed8(t.amount),
                "transactionFee": _fixed8(t.fee),
                "coin": t.currency,
                "status": self._status_code(t),
                "address": t.address,
                "txId": t.txid,
                "applyTime": _utc_text(t.timestamp),
                "network": t.network,
                "transferType": 0,
                "info": "",
                "confirmNo": 3,
                "walletType": 0,
                "txKey": "",
                "completeTime": _utc_text(t.timestamp),
            }
            for t in self._transfers_page(self.withdrawals, self._params(request))
        ]


class OkxAccount(Account):
    """OKX v5 (/api/v5): spot, and the positions of linear swaps."""

    dialect = OKX
    key_header = "OK-ACCESS-KEY"
    default_markets = OKX_MARKETS
    default_networks = {"BTC": "Bitcoin", "ETH": "ERC20", "USDT": "ERC20", "USDC": "ERC20"}
    routes = {
        ("GET", "/api/v5/public/time"): ("public_time", False),
        ("GET", "/api/v5/public/instruments"): ("instruments", False),
        ("GET", "/api/v5/market/tickers"): ("market_tickers", False),
        ("GET", "/api/v5/market/ticker"): ("market_ticker", False),
        ("GET", "/api/v5/system/status"): ("system_status", False),
        ("GET", "/api/v5/asset/currencies"): ("currencies", True),
        ("GET", "/api/v5/account/balance"): ("balance", True),
        ("GET", "/api/v5/account/config"): ("account_config", True),
        ("GET", "/api/v5/account/positions"): ("account_positions", True),
        ("GET", "/api/v5/trade/order"): ("order_details", True),
        ("GET", "/api/v5/trade/orders-pending"): ("orders_pending", True),
        ("GET", "/api/v5/trade/orders-history"): ("orders_history", True),
        ("GET", "/api/v5/trade/orders-history-archive"): ("orders_history_archive", True),
        ("GET", "/api/v5/trade/fills"): ("trade_fills", True),
        ("GET", "/api/v5/trade/fills-history"): ("trade_fills_history", True),
        ("GET", "/api/v5/asset/deposit-history"): ("deposit_history", True),
        ("GET", "/api/v5/asset/withdrawal-history"): ("withdrawal_history", True),
        ("POST", "/api/v5/trade/order"): ("post_order", True),
        ("POST", "/api/v5/trade/batch-orders"): ("post_batch_orders", True),
        ("POST", "/api/v5/trade/cancel-order"): ("post_cancel_order", True),
    }
    deposit_statuses = {"pending": "0", "credited": "1", "ok": "2"}
    withdrawal_statuses = {"canceled": "-2", "failed": "-1", "pending": "0", "ok": "2"}
    max_limit = 100
    timestamp_tolerance_ms = 30 * SECOND_MS

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.retention = True

    def market_id(self, market: Market) -> str:
        return f"{market.base}-{market.quote}-SWAP" if market.is_swap else f"{market.base}-{market.quote}"

    def inst_type(self, market: Market) -> str:
        return "SWAP" if market.is_swap else "SPOT"

    def _new_order_id(self, seq: int) -> str:
        return str(680_000_000_000_000_000 + seq)

    def _new_trade_id(self, seq: int) -> str:
        return str(744_000_000 + seq)

    def _new_bill_id(self, seq: int) -> str:
        return str(690_000_000_000_000_000 + seq)

    def _new_transfer_id(self, kind: str, seq: int) -> str:
        return str(88_000_000 + seq) if kind == "deposit" else str(170_000_000 + seq)

    def set_position(
        self,
        symbol: str,
        contracts: Any,
        entry_price: Any,
        *,
        mark_price: Any = None,
        leverage: Any = 10,
        margin_mode: str = "cross",
        side: str = "net",
        realized_pnl: Any = 0,
        liquidation_price: Any = None,
        at: int | None = None,
    ) -> str:
        """A swap position (net mode: contracts negative for a short); 0 contracts closes it."""
        with self._lock:
            market = self._market(symbol)
            if not market.is_swap:
                raise ValueError(f"{symbol} is not a swap")
            when = self._at(at)
            existing = self.positions.get(f"{symbol}:{side}")
            position = Position(
                id=existing.id if existing else str(1_750_000_000_000_000_000 + next(self._seq)),
                symbol=symbol,
                contracts=_dec(contracts),
                entry_price=_dec(entry_price),
                mark_price=_dec(mark_price if mark_price is not None else entry_price),
                leverage=_dec(leverage),
                margin_mode=margin_mode,
                side=side,
                realized_pnl=_dec(realized_pnl),
                liquidation_price=_dec(liquidation_price) if liquidation_price is not None else None,
                created=existing.created if existing else when,
                updated=when,
            )
            self.positions[f"{symbol}:{side}"] = position
            return position.id

    # ---- protocol ----

    def _ok(self, result: Any) -> _Response:
        return _Response(200, {"code": "0", "msg": "", "data": result})

    def _not_found(self, request: _Request) -> ApiError:
        return ApiError(404, "-1", f"the emulator has no endpoint {request.method} {request.path}")

    def _authenticate(self, request: _Request) -> tuple[bool, _Response | None]:
        key = request.header("OK-ACCESS-KEY")
        sign = request.header("OK-ACCESS-SIGN")
        stamp = request.header("OK-ACCESS-TIMESTAMP")
        passphrase = request.header("OK-ACCESS-PASSPHRASE")
        for value, code, name in (
            (key, "50103", "OK-ACCESS-KEY"),
            (passphrase, "50104", "OK-ACCESS-PASSPHRASE"),
            (sign, "50106", "OK-ACCESS-SIGN"),
            (stamp, "50107", "OK-ACCESS-TIMESTAMP"),
        ):
            if not value:
                return False, self._error_response(
                    ApiError(401, code, f"Request header {name} can not be empty.")
                )
        if key != self.api_key:
            return False, self._error_response(ApiError(401, "50111", "Invalid OK-ACCESS-KEY"))
        payload = stamp + request.method + request.target + request.body.decode()
        expected = base64.b64encode(hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).digest())
        verified = hmac.compare_digest(expected.decode(), sign)
        try:
            sent = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            return verified, self._error_response(ApiError(401, "50112", "Invalid OK-ACCESS-TIMESTAMP"))
        if passphrase != self.password:
            return verified, self._error_response(
                ApiError(401, "50105", "Request header OK-ACCESS-PASSPHRASE incorrect.")
            )
        if abs(self.server_time() - sent.timestamp() * 1000) > self.timestamp_tolerance_ms:
            return verified, self._error_response(ApiError(401, "50102", "Timestamp request expired"))
        if not verified:
            return False, self._error_response(ApiError(401, "50113", "Invalid Sign"))
        return True, None

    def _error_response(self, exc: ApiError) -> _Response:
        return _Response(exc.status, {"code": str(exc.code), "msg": exc.msg, "data": []}, code=str(exc.code))

    def _maintenance_response(self) -> _Response:
        body = {
            "code": "50001",
            "msg": "Service temporarily unavailable. Please try again later.",
            "data": [],
        }
        return _Response(503, body, code="50001")

    def _rate_limited_response(self) -> _Response:
        return _Response(429, {"msg": "Too Many Requests", "code": "50011"}, code="50011")

    def _refused_response(self) -> _Response:
        return self._error_response(ApiError(401, "50114", "Invalid Authority"))

    @classmethod
    def _unknown_key_response(cls, request: _Request) -> _Response:
        if not request.header(cls.key_header):
            body = {"code": "50103", "msg": "Request header OK-ACCESS-KEY can not be empty.", "data": []}
        else:
            body = {"code": "50111", "msg": "Invalid OK-ACCESS-KEY", "data": []}
        return _Response(401, body, code=body["code"])

    # ---- helpers ----

    def _body(self, request: _Request) -> Any:
        try:
            return json.loads(request.body or b"{}")
        except ValueError:
            raise ApiError(400, "50002", "JSON syntax error") from None

    def _market_by_id(self, inst_id: str | None, required: bool = True) -> Market | None:
        if not inst_id:
            if required:
                raise ApiError(400, "50014", "Parameter instId can not be empty.")
            return None
        for market in self.markets.values():
            if self.market_id(market) == inst_id:
                return market
        raise ApiError(200, "51001", "Instrument ID does not exist")

    def _inst_type(self, params: dict[str, str], required: bool) -> str | None:
        inst_type = params.get("instType")
        if not inst_type:
            if required:
                raise ApiError(400, "50014", "Parameter instType can not be empty.")
            return None
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS"):
            raise ApiError(400, "51000", "Parameter instType error")
        return inst_type

    def _page(
        self, items: list, params: dict[str, str], cursor, timestamp, cursor_is_time: bool = False
    ) -> list:
        """OKX's rule for every list: the newest `limit` matching records, newest first."""
        values = {}
        for name in ("after", "before", "begin", "end", "limit"):
            try:
                values[name] = int(params[name]) if params.get(name) not in (None, "") else None
            except ValueError:
                raise ApiError(400, "51000", f"Parameter {name} error") from None
        limit = values["limit"] if values["limit"] is not None else self.max_limit
        if limit < 1:
            raise ApiError(400, "51000", "Parameter limit error")
        after, before = values["after"], values["before"]
        begin, end = values["begin"], values["end"]
        key = timestamp if cursor_is_time else cursor
        selected = [
            x
            for x in items
            if (after is None or key(x) < after)
            and (before is None or key(x) > before)
            and (begin is None or timestamp(x) >= begin)
            and (end is None or timestamp(x) <= end)
        ]
        selected.sort(key=lambda x: (timestamp(x), cursor(x)), reverse=True)
        return selected[: min(limit, self.max_limit)]

    def _state(self, order: Order) -> str:
        if order.status == "open":
            return "partially_filled" if order.filled else "live"
        return {"closed": "filled", "canceled": "canceled"}[order.status]

    def _order_json(self, order: Order) -> dict[str, Any]:
        market = self.markets[order.symbol]
        last = order.last_fill
        default_fee_currency = market.base if order.side == "buy" else market.quote
        return {
            "accFillSz": _plain(order.filled),
            "algoClOrdId": "",
            "algoId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "avgPx": _plain(order.average) if order.filled else "",
            "cTime": str(order.created),
            "cancelSource": "1" if order.status == "canceled" else "",
            "cancelSourceReason": "Order canceled by user" if order.status == "canceled" else "",
            "category": "normal",
            "ccy": "",
            "clOrdId": order.client_order_id,
            "fee": _plain(-order.fee_cost),
            "feeCcy": order.fee_currency or default_fee_currency,
            "fillPx": _plain(last.price) if last else "",
            "fillSz": _plain(last.amount) if last else "0",
            "fillTime": str(last.timestamp) if last else "",
            "instId": self.market_id(market),
            "instType": self.inst_type(market),
            "isTpLimit": "false",
            "lever": str(market.max_leverage) if market.is_swap else "",
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": order.id,
            "ordType": order.type,
            "pnl": "0",
            "posSide": "net" if market.is_swap else "",
            "px": _plain(order.price) if order.price is not None else "",
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "quickMgnType": "",
            "rebate": "0",
            "rebateCcy": market.quote,
            "reduceOnly": "false",
            "side": order.side,
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "source": "",
            "state": self._state(order),
            "stpId": "",
            "stpMode": "cancel_maker",
            "sz": _plain(order.amount),
            "tag": "",
            "tdMode": "cross" if market.is_swap else "cash",
            "tgtCcy": "base_ccy" if order.type == "market" and not market.is_swap else "",
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tradeId": last.id if last else "",
            "tradeQuoteCcy": market.quote,
            "uTime": str(order.updated),
        }

    def _fill_json(self, fill: Fill) -> dict[str, Any]:
        market = self.markets[fill.symbol]
        notional = fill.amount if fill.fee_currency == market.base else fill.cost
        fee_rate = (-fill.fee_cost / notional).quantize(Decimal("0.000001")) if notional else Decimal(0)
        return {
            "side": fill.side,
            "fillSz": _plain(fill.amount),
            "fillPx": _plain(fill.price),
            "fillPxVol": "",
            "fillFwdPx": "",
            "fee": _plain(-fill.fee_cost),
            "fillPnl": "0",
            "ordId": fill.order_id,
            "feeRate": _plain(fee_rate),
            "instType": self.inst_type(market),
            "fillPxUsd": "",
            "instId": self.market_id(market),
            "clOrdId": fill.client_order_id,
            "posSide": "net" if market.is_swap else "",
            "billId": fill.bill_id,
            "subType": "1" if fill.side == "buy" else "2",
            "fillMarkVol": "",
            "tag": "",
            "fillTime": str(fill.timestamp),
            "execType": "M" if fill.maker else "T",
            "fillIdxPx": "",
            "tradeId": fill.id,
            "fillMarkPx": _plain(fill.price) if market.is_swap else "",
            "feeCcy": fill.fee_currency,
            "ts": str(fill.timestamp),
            "tradeQuoteCcy": market.quote,
        }

    def _orders_matching(self, params: dict[str, str], inst_type: str | None) -> list[Order]:
        market = self._market_by_id(params.get("instId"), required=False)
        ord_types = set(params["ordType"].split(",")) if params.get("ordType") else None
        orders = []
        for order in self.orders.values():
            order_market = self.markets[order.symbol]
            if market is not None and order_market is not market:
                continue
            if inst_type is not None and self.inst_type(order_market) != inst_type:
                continue
            if ord_types is not None and order.type not in ord_types:
                continue
            orders.append(order)
        return orders

    def _orders_page(self, orders: list[Order], params: dict[str, str]) -> list:
        page = self._page(orders, params, cursor=lambda o: int(o.id), timestamp=lambda o: o.created)
        return [self._order_json(o) for o in page]

    def _completed(self, orders: list[Order], params: dict[str, str]) -> list[Order]:
        state = params.get("state")
        if state and state not in ("filled", "canceled", "mmp_canceled"):
            raise ApiError(400, "51000", "Parameter state error")
        return [o for o in orders if o.status != "open" and (not state or self._state(o) == state)]

    def _fills_page(self, params: dict[str, str], inst_type: str | None, window_ms: int) -> list:
        market = self._market_by_id(params.get("instId"), required=False)
        order_id = params.get("ordId")
        oldest = self.server_time() - window_ms if self.retention else None
        fills = [
            f
            for f in self.fills
            if (market is None or f.symbol == market.symbol)
            and (inst_type is None or self.inst_type(self.markets[f.symbol]) == inst_type)
            and (not order_id or f.order_id == order_id)
            and (oldest is None or f.timestamp >= oldest)
        ]
        page = self._page(fills, params, cursor=lambda f: int(f.bill_id), timestamp=lambda f: f.timestamp)
        return [self._fill_json(f) for f in page]

    def _status_code(self, transfer: Transfer) -> str:
        statuses = self.deposit_statuses if transfer.kind == "deposit" else self.withdrawal_statuses
        return statuses.get(transfer.status, str(transfer.status))

    def _transfers_page(
        self, transfers: list[Transfer], params: dict[str, str], id_param: str
    ) -> list[Transfer]:
        selected = [
            t
            for t in transfers
            if (not params.get("ccy") or t.currency == params["ccy"])
            and (not params.get(id_param) or t.id == params[id_param])
            and (not params.get("txId") or t.txid == params["txId"])
            and (not params.get("state") or self._status_code(t) == params["state"])
        ]
        return self._page(
            selected, params, cursor=lambda t: int(t.id), timestamp=lambda t: t.timestamp, cursor_is_time=True
        )

    # ---- public endpoints ----

    def public_time(self, request: _Request) -> list:
        return [{"ts": str(self.server_time())}]

    def system_status(self, request: _Request) -> list:
        return []

    def instruments(self, request: _Request) -> list:
        params = request.query
        inst_type = self._inst_type(params, required=True)
        if inst_type == "OPTION" and not (params.get("instFamily") or params.get("uly")):
            raise ApiError(400, "50014", "Parameter instFamily can not be empty.")
        markets = [m for m in self.markets.values() if self.inst_type(m) == inst_type]
        if params.get("instId"):
            markets = [m for m in markets if self.market_id(m) == params["instId"]]
        return [self._instrument_json(m) for m in markets]

    def _instrument_json(self, market: Market) -> dict[str, Any]:
        swap = market.is_swap
        family = f"{market.base}-{market.quote}" if swap else ""
        return {
            "alias": "",
            "auctionEndTime": "",
            "baseCcy": "" if swap else market.base,
            "category": "1",
            "ctMult": "1" if swap else "",
            "ctType": "linear" if swap else "",
            "ctVal": _plain(market.contract_size) if swap else "",
            "ctValCcy": market.base if swap else "",
            "contTdSwTime": "",
            "expTime": "",
            "futureSettlement": False,
            "groupId": "1",
            "instFamily": family,
            "instId": self.market_id(market),
            "instType": self.inst_type(market),
            "lever": str(market.max_leverage),
            "listTime": "1606468572000",
            "lotSz": _plain(market.step_size),
            "maxIcebergSz": "9999999999.0000000000000000",
            "maxLmtAmt": "1000000",
            "maxLmtSz": _plain(market.max_qty),
            "maxMktAmt": "1000000",
            "maxMktSz": "1000000" if not swap else "12000",
            "maxStopSz": "",
            "maxTriggerSz": "9999999999.0000000000000000",
            "maxTwapSz": "9999999999.0000000000000000",
            "minSz": _plain(market.min_qty),
            "optType": "",
            "openType": "",
            "preMktSwTime": "",
            "quoteCcy": "" if swap else market.quote,
            "tradeQuoteCcyList": [] if swap else [market.quote],
            "settleCcy": market.settle or "",
            "state": "live",
            "ruleType": "normal",
            "stk": "",
            "tickSz": _plain(market.tick_size),
            "uly": family,
            "instIdCode": 1_000_000 + list(self.markets).index(market.symbol),
            "instCategory": "1",
            "upcChg": [],
        }

    def _ticker_json(self, market: Market) -> dict[str, Any]:
        t = self._ticker(market)
        return {
            "instType": self.inst_type(market),
            "instId": self.market_id(market),
            "last": _plain(t.last),
            "lastSz": _plain(market.min_qty),
            "askPx": _plain(t.ask),
            "askSz": "1",
            "bidPx": _plain(t.bid),
            "bidSz": "1",
            "open24h": _plain(t.open),
            "high24h": _plain(t.high),
            "low24h": _plain(t.low),
            "volCcy24h": _plain(t.quote_volume if not market.is_swap else t.base_volume),
            "vol24h": _plain(t.base_volume),
            "ts": str(t.timestamp),
            "sodUtc0": _plain(t.open),
            "sodUtc8": _plain(t.open),
        }

    def market_tickers(self, request: _Request) -> list:
        inst_type = self._inst_type(request.query, required=True)
        return [self._ticker_json(m) for m in self.markets.values() if self.inst_type(m) == inst_type]

    def market_ticker(self, request: _Request) -> list:
        return [self._ticker_json(self._market_by_id(request.query.get("instId")))]

    # ---- private endpoints ----

    def currencies(self, request: _Request) -> list:
        wanted = set(request.query["ccy"].split(",")) if request.query.get("ccy") else None
        result = []
        for asset in self._assets():
            if wanted is not None and asset not in wanted:
                continue
            network = self.default_networks.get(asset, asset)
            result.append(
                {
                    "ccy": asset,
                    "name": asset,
                    "logoLink": "",
                    "chain": f"{asset}-{network}",
                    "ctAddr": "",
                    "canDep": True,
                    "canWd": True,
                    "canInternal": True,
                    "depEstOpenTime": "",
                    "wdEstOpenTime": "",
                    "minDep": "0.00000001",
                    "minWd": "0.0001",
                    "maxWd": "10000000",
                    "wdTickSz": "8",
                    "wdQuota": "10000000",
                    "usedWdQuota": "0",
                    "fee": "0.0001",
                    "minFee": "0.0001",
                    "maxFee": "0.0002",
                    "minFeeForCtAddr": "",
                    "maxFeeForCtAddr": "",
                    "burningFeeRate": "",
                    "mainNet": True,
                    "needTag": False,
                    "minDepArrivalConfirm": "1",
                    "minWdUnlockConfirm": "2",
                    "depQuotaFixed": "",
                    "usedDepQuotaFixed": "",
                    "depQuoteDailyLayer2": "",
                }
            )
        return result

    def balance(self, request: _Request) -> list:
        wanted = set(request.query["ccy"].split(",")) if request.query.get("ccy") else None
        details = []
        for asset, (free, used) in sorted(self.balances.items()):
            if wanted is not None and asset not in wanted:
                continue
            total = free + used
            details.append(
                {
                    "accAvgPx": "",
                    "availBal": _plain(free),
                    "availEq": "",
                    "borrowFroz": "",
                    "cashBal": _plain(total),
                    "ccy": asset,
                    "clSpotInUseAmt": "",
                    "crossLiab": "",
                    "disEq": _plain(total),
                    "eq": _plain(total),
                    "eqUsd": "",
                    "fixedBal": "0",
                    "frozenBal": _plain(used),
                    "imr": "",
                    "interest": "",
                    "isoEq": "0",
                    "isoLiab": "",
                    "isoUpl": "",
                    "liab": "",
                    "maxLoan": "",
                    "maxSpotInUse": "",
                    "mgnRatio": "",
                    "mmr": "",
                    "notionalLever": "",
                    "openAvgPx": "",
                    "ordFrozen": _plain(used),
                    "rewardBal": "0",
                    "smtSyncEq": "0",
                    "spotBal": "",
                    "spotInUseAmt": "",
                    "spotIsoBal": "0",
                    "spotUpl": "",
                    "spotUplRatio": "",
                    "stgyEq": "0",
                    "totalPnl": "",
                    "totalPnlRatio": "",
                    "twap": "0",
                    "uTime": str(self.balances_updated),
                    "upl": "",
                    "uplLiab": "",
                }
            )
        return [
            {
                "adjEq": "",
                "availEq": "",
                "borrowFroz": "",
                "details": details,
                "imr": "",
                "isoEq": "0",
                "mgnRatio": "",
                "mmr": "",
                "notionalUsd": "",
                "ordFroz": "",
                "totalEq": "",
                "uTime": str(self.balances_updated),
                "upl": "",
            }
        ]

    def account_config(self, request: _Request) -> list:
        return [
            {
                "acctLv": "1",
                "autoLoan": False,
                "ctIsoMode": "automatic",
                "greeksType": "PA",
                "ip": "",
                "kycLv": "2",
                "label": "",
                "level": "Lv1",
                "levelTmp": "",
                "mainUid": str(self.uid),
                "mgnIsoMode": "automatic",
                "opAuth": "0",
                "perm": "read_only,trade",
                "posMode": "net_mode",
                "roleType": "0",
                "spotOffsetType": "",
                "spotRoleType": "0",
                "spotTraderInsts": [],
                "traderInsts": [],
                "uid": str(self.uid),
            }
        ]

    def account_positions(self, request: _Request) -> list:
        params = request.query
        inst_type = params.get("instType")
        inst_ids = set(params["instId"].split(",")) if params.get("instId") else None
        pos_ids = set(params["posId"].split(",")) if params.get("posId") else None
        result = []
        for position in sorted(self.positions.values(), key=lambda p: p.created, reverse=True):
            market = self.markets[position.symbol]
            if inst_type and self.inst_type(market) != inst_type:
                continue
            if inst_ids is not None and self.market_id(market) not in inst_ids:
                continue
            if pos_ids is not None and position.id not in pos_ids:
                continue
            if position.contracts == 0 and inst_ids is None:
                continue
            result.append(self._position_json(position, market))
        return result

    def _position_json(self, position: Position, market: Market) -> dict[str, Any]:
        size = position.contracts
        contract_size = market.contract_size or Decimal(1)
        direction = Decimal(-1) if position.side == "short" else Decimal(1)
        notional = abs(size) * contract_size * position.mark_price
        upl = (position.mark_price - position.entry_price) * size * contract_size * direction
        initial = notional / position.leverage if position.leverage else Decimal(0)
        cross = position.margin_mode == "cross"
        return {
            "adl": "1",
            "availPos": "" if cross else _plain(abs(size)),
            "avgPx": _plain(position.entry_price),
            "baseBal": "",
            "baseBorrowed": "",
            "baseInterest": "",
            "bePx": "",
            "bizRefId": "",
            "bizRefType": "",
            "cTime": str(position.created),
            "ccy": market.settle,
            "clSpotInUseAmt": "",
            "closeOrderAlgo": [],
            "deltaBS": "",
            "deltaPA": "",
            "fee": "0",
            "fundingFee": "0",
            "gammaBS": "",
            "gammaPA": "",
            "hedgedPos": "",
            "idxPx": _plain(position.mark_price),
            "imr": _plain(initial) if cross else "",
            "instId": self.market_id(market),
            "instType": self.inst_type(market),
            "interest": "",
            "last": _plain(position.mark_price),
            "lever": _plain(position.leverage),
            "liab": "",
            "liabCcy": "",
            "liqPenalty": "0",
            "liqPx": _plain(position.liquidation_price) if position.liquidation_price is not None else "",
            "margin": "" if cross else _plain(initial),
            "markPx": _plain(position.mark_price),
            "maxSpotInUseAmt": "",
            "mgnMode": position.margin_mode,
            "mgnRatio": "",
            "mmr": _plain(notional * Decimal("0.004")),
            "notionalUsd": _plain(notional),
            "optVal": "",
            "pendingCloseOrdLiabVal": "",
            "pnl": _plain(position.realized_pnl),
            "pos": _plain(size),
            "posCcy": "",
            "posId": position.id,
            "posSide": position.side,
            "quoteBal": "",
            "quoteBorrowed": "",
            "quoteInterest": "",
            "realizedPnl": _plain(position.realized_pnl),
            "spotInUseAmt": "",
            "spotInUseCcy": "",
            "thetaBS": "",
            "thetaPA": "",
            "tradeId": "",
            "uTime": str(position.updated),
            "upl": _plain(upl),
            "uplLastPx": _plain(upl),
            "uplRatio": _plain((upl / initial).quantize(Decimal("0.0001"))) if initial else "0",
            "uplRatioLastPx": _plain((upl / initial).quantize(Decimal("0.0001"))) if initial else "0",
            "usdPx": "",
            "vegaBS": "",
            "vegaPA": "",
            "nonSettleAvgPx": "",
            "settledPnl": "",
        }

    def order_details(self, request: _Request) -> list:
        params = request.query
        market = self._market_by_id(params.get("instId"))
        order_id, client_id = params.get("ordId"), params.get("clOrdId")
        if not order_id and not client_id:
            raise ApiError(200, "51003", "Either client order ID or order ID is required.")
        for order in self.orders.values():
            if order.symbol == market.symbol and (
                order.id == order_id if order_id else order.client_order_id == client_id
            ):
                return [self._order_json(order)]
        raise ApiError(200, "51603", "Order does not exist")

    def orders_pending(self, request: _Request) -> list:
        params = request.query
        inst_type = self._inst_type(params, required=False)
        state = params.get("state")
        orders = [
            o
            for o in self._orders_matching(params, inst_type)
            if o.status == "open" and (not state or self._state(o) == state)
        ]
        return self._orders_page(orders, params)

    def orders_history(self, request: _Request) -> list:
        params = request.query
        orders = self._completed(
            self._orders_matching(params, self._inst_type(params, required=True)), params
        )
        if self.retention:
            now = self.server_time()
            orders = [
                o
                for o in orders
                if now - o.updated <= 7 * DAY_MS
                and not (o.status == "canceled" and not o.filled and now - o.updated > 2 * HOUR_MS)
            ]
        return self._orders_page(orders, params)

    def orders_history_archive(self, request: _Request) -> list:
        params = request.query
        orders = self._completed(
            self._orders_matching(params, self._inst_type(params, required=True)), params
        )
        orders = [o for o in orders if not (o.status == "canceled" and not o.filled)]
        if self.retention:
            now = self.server_time()
            orders = [o for o in orders if now - o.updated <= 90 * DAY_MS]
        return self._orders_page(orders, params)

    def trade_fills(self, request: _Request) -> list:
        return self._fills_page(request.query, self._inst_type(request.query, required=False), 3 * DAY_MS)

    def trade_fills_history(self, request: _Request) -> list:
        return self._fills_page(request.query, self._inst_type(request.query, required=True), 90 * DAY_MS)

    def deposit_history(self, request: _Request) -> list:
        return [
            {
                "actualDepBlkConfirm": "2",
                "amt": _plain(t.amount),
                "areaCodeFrom": "",
                "ccy": t.currency,
                "chain": f"{t.currency}-{t.network}",
                "depId": t.id,
                "from": "",
                "fromWdId": "",
                "state": self._status_code(t),
                "to": t.address,
                "ts": str(t.timestamp),
                "txId": t.txid,
            }
            for t in self._transfers_page(self.deposits, request.query, "depId")
        ]

    def withdrawal_history(self, request: _Request) -> list:
        return [
            {
                "chain": f"{t.currency}-{t.network}",
                "fee": _plain(t.fee),
                "feeCcy": t.currency,
                "ccy": t.currency,
                "clientId": "",
                "amt": _plain(t.amount),
                "txId": t.txid,
                "from": "",
                "areaCodeFrom": "",
                "to": t.address,
                "areaCodeTo": "",
                "state": self._status_code(t),
                "ts": str(t.timestamp),
                "nonTradableAsset": False,
                "wdId": t.id,
                "note": "",
            }
            for t in self._transfers_page(self.withdrawals, request.query, "wdId")
        ]

    def _place_from_request(self, item: dict[str, Any]) -> dict[str, Any]:
        market = self._market_by_id(item.get("instId"))
        side = item.get("side")
        ord_type = item.get("ordType")
        if side not in ("buy", "sell"):
            raise ApiError(400, "51000", "Parameter side error")
        if ord_type not in ("limit", "market", "post_only"):
            raise ApiError(400, "51000", "Parameter ordType error")
        try:
            size = Decimal(str(item["sz"]))
            price = Decimal(str(item["px"])) if ord_type != "market" else None
        except (KeyError, InvalidOperation):
            raise ApiError(400, "51000", "Parameter sz error") from None
        ticker = self._ticker(market)
        fill_price = ticker.ask if side == "buy" else ticker.bid
        # A spot market buy's sz is in the quote currency unless tgtCcy says base_ccy (OKX's default).
        if ord_type == "market" and side == "buy" and not market.is_swap and item.get("tgtCcy") != "base_ccy":
            size = (size / fill_price).quantize(market.step_size)
        order = self._place(
            market.symbol,
            side,
            "market" if ord_type == "market" else "limit",
            size,
            price,
            item.get("clOrdId", ""),
            None,
            "GTC",
        )
        if ord_type == "market":
            self._insert_fill(self._fill(order, size, fill_price, None, None, False, None))
        return {
            "clOrdId": order.client_order_id,
            "ordId": order.id,
            "tag": item.get("tag", ""),
            "ts": str(order.created),
            "sCode": "0",
            "sMsg": "Order placed",
        }

    def post_order(self, request: _Request) -> list:
        return [self._place_from_request(self._body(request))]

    def post_batch_orders(self, request: _Request) -> list:
        body = self._body(request)
        return [self._place_from_request(item) for item in (body if isinstance(body, list) else [body])]

    def post_cancel_order(self, request: _Request) -> list:
        body = self._body(request)
        market = self._market_by_id(body.get("instId"))
        for order in self.orders.values():
            if order.symbol == market.symbol and (
                order.id == body.get("ordId")
                if body.get("ordId")
                else order.client_order_id == body.get("clOrdId")
            ):
                if order.status != "open":
                    raise ApiError(
                        200,
                        "51400",
                        "Order cancellation failed as the order has been filled, canceled or does not exist.",
                    )
                order.status = "canceled"
                order.updated = self.server_time()
                return [
                    {
                        "clOrdId": order.client_order_id,
                        "ordId": order.id,
                        "ts": str(order.updated),
                        "sCode": "0",
                        "sMsg": "",
                    }
                ]
        raise ApiError(
            200,
            "51400",
            "Order cancellation failed as the order has been filled, canceled or does not exist.",
        )


DIALECTS: dict[str, type[Account]] = {BINANCE: BinanceAccount, OKX: OkxAccount}


def _dialect_of(path: str) -> str | None:
    if path.startswith("/api/v5/"):
        return OKX
    if path.startswith(("/api/", "/sapi/", "/fapi/", "/dapi/", "/eapi/", "/papi/", "/futures/")):
        return BINANCE
    return None


# --------------------------------------------------------------------------------------------------------
# The server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as ccxt's requests session expects
    server_version = "ExchangeEmulator/1.0"
    timeout = 30
    # Headers and body leave in one segment: written separately, Nagle and the client's delayed ACK
    # cost ~40 ms an answer.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def _serve(self) -> None:
        emulator: EmulatorServer = self.server.emulator  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            response = emulator._dispatch(self.command, self.path, self.headers, body)
        except Exception:  # noqa: BLE001 - an emulator bug must reach the test as an answer, not a hang
            response = _Response(500, traceback.format_exc().encode(), content_type="text/plain")
        if response.reset:
            self.close_connection = True
            return
        data = response.body if isinstance(response.body, bytes) else json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is EmulatorServer.requests."""


class EmulatorServer:
    """The emulator on 127.0.0.1 at a free port, served from a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.requests: list[RequestRecord] = []
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.emulator = self  # type: ignore[attr-defined]
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="exchange-emulator",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_account(
        self,
        dialect: str,
        name: str | None = None,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        password: str | None = None,
    ) -> Account:
        """A new 'binance' or 'okx' account, served under /<name>; credentials generated unless given."""
        cls = DIALECTS[dialect]
        with self.lock:
            if name is None:
                candidates = itertools.chain([dialect], (f"{dialect}{i}" for i in itertools.count(2)))
                name = next(n for n in candidates if n not in self.accounts)
            if name in self.accounts or name in _RESERVED_NAMES or "/" in name:
                raise ValueError(f"account name {name!r} is taken or reserved")
            if dialect == OKX and password is None:
                password = "Emulator-Passphrase-1"
            account = cls(
                self,
                name,
                api_key or secrets.token_hex(32),
                secret or secrets.token_hex(32),
                password,
            )
            self.accounts[name] = account
            return account

    def account(self, name: str) -> Account:
        return self.accounts[name]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ---- serving ----

    def _dispatch(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Response:
        split = urlsplit(raw_path)
        path = split.path
        account: Account | None = None
        first, _, rest = path[1:].partition("/")
        with self.lock:
            if first in self.accounts:
                account = self.accounts[first]
                path = "/" + rest
            dialect = _dialect_of(path)
            request = _Request(method, path, split.query, body, headers)
            if dialect is None or (account is not None and account.dialect != dialect):
                response = _Response(
                    404, {"code": -1, "msg": f"the emulator serves no {method} {path}"}, code="-1"
                )
                self._record(account, request, response, None, None)
                return response
            cls = DIALECTS[dialect]
            route = cls.routes.get((method, path))
            if account is None:
                account = self._resolve(cls, route, request)
            if account is None:
                if route is not None and route[1]:
                    response = cls._unknown_key_response(request)
                else:
                    response = _Response(
                        404, {"code": -1, "msg": f"no {dialect} account is served"}, code="-1"
                    )
                self._record(None, request, response, False if route and route[1] else None, cls.key_header)
                return response
            return account._handle(route, request)

    def _resolve(
        self, cls: type[Account], route: tuple[str, bool] | None, request: _Request
    ) -> Account | None:
        candidates = [a for a in self.accounts.values() if a.dialect == cls.dialect]
        if route is not None and route[1]:
            key = request.header(cls.key_header)
            return next((a for a in candidates if a.api_key == key), None)
        return candidates[0] if candidates else None

    def _record(
        self,
        account: Account | None,
        request: _Request,
        response: _Response,
        verified: bool | None,
        key_header: str | None,
    ) -> None:
        query = dict(request.query)
        if account is not None and account.dialect == BINANCE:
            query = BinanceAccount._signed_parts(request)[0]
        query.pop("signature", None)
        record = RequestRecord(
            account=account.name if account is not None else None,
            method=request.method,
            path=request.path,
            query=query,
            verified=verified,
            api_key=request.header(key_header) if key_header else None,
            status=response.status,
            code=response.code,
            at=now_ms(),
        )
        self.requests.append(record)
        if account is not None:
            account.requests.append(record)


# --------------------------------------------------------------------------------------------------------
# ccxt wiring


@functools.cache
def _binance_api_paths() -> dict[str, str]:
    import ccxt

    paths: dict[str, str] = {}
    hosts: dict[str, str] = {}
    for key, url in ccxt.binance().describe()["urls"]["api"].items():
        parts = urlsplit(url)
        path = parts.path
        if hosts.setdefault(path, parts.hostname or "") != parts.hostname:
            # fapiData and dapiData share /futures/data on their own hosts
            path = "/" + (parts.hostname or "").split(".")[0] + path
        paths[key] = path
    return paths


def api_urls(dialect: str, base_url: str) -> dict[str, str]:
    """The value for a ccxt exchange's urls['api'], so that every endpoint it calls goes to base_url
    (server.url, or an account's url)."""
    base = base_url.rstrip("/")
    if dialect == OKX:
        return {"rest": base}
    if dialect == BINANCE:
        return {key: base + path for key, path in _binance_api_paths().items()}
    raise ValueError(f"unknown dialect {dialect!r}")


def ccxt_client(
    dialect: str,
    server: EmulatorServer | Account,
    api_key: str | None = None,
    secret: str | None = None,
    password: str | None = None,
    **options: Any,
) -> Any:
    """A sync ccxt exchange of the dialect aimed at the emulator (an account's URL, or the server's), with
    ccxt's rate limiter off; options go to exchange.options."""
    import ccxt

    config: dict[str, Any] = {
        "enableRateLimit": False,
        "timeout": 10_000,
        "urls": {"api": api_urls(dialect, server.url)},
        "options": options,
    }
    if api_key is not None:
        config["apiKey"] = api_key
    if secret is not None:
        config["secret"] = secret
    if password is not None:
        config["password"] = password
    exchange = getattr(ccxt, dialect)(config)
    exchange.session.trust_env = False  # loopback only: never through a proxy named in the environment
    return exchange
