"""What the exchange says about one account, through ccxt: orders, fills, balances, cash flows, positions.

Each part is fetched on its own; a part whose fetch fails is marked failed with the scrubbed reason and is
left absent, never empty: a failed fetch of open orders is not "no open orders", a failed balance fetch is
not "flat". The comparison only looks at the parts that were fetched completely.

Fills are fetched per symbol in time windows of RECONCILIATION_WINDOW_HOURS from each symbol's start,
each window paginated by ccxt itself (`paginate`), and handed to the caller window by window (the next one
fetched meanwhile); the order history is handed over page by page as ccxt reads it. So memory holds two
windows of fills or one page of orders, whatever the account's history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections

from apps.exchanges.client import ExchangeCallError, exchange_call

HOUR_MS = 3_600_000
# ccxt pages through a fetch itself; its default stops after 10 requests, too few for a busy window.
PAGINATE = {"paginate": True, "paginationCalls": 10_000}
# Where an exchange keeps the order history a run reads: OKX's orders-history holds 7 days, its archive
# 3 months (the last 7 days included).
ORDER_HISTORY_PARAMS = {"okx": {"method": "privateGetTradeOrdersHistoryArchive"}}


@dataclass
class Failure:
    part: str  # e.g. "open orders", "fills of BTC/USDT"
    kind: str  # ExchangeCallError.kind
    message: str

    def __str__(self) -> str:
        return f"{self.part}: {self.message}"


@dataclass
class ExchangeView:
    """The parts fetched so far; a part left None was not fetched (or its fetch failed)."""

    markets: dict[str, Any] | None = None
    open_orders: dict[str, dict] | None = None  # by order id
    order_ids: set[str] = field(default_factory=set)  # every order handed over (open ones included)
    balances: dict[str, Decimal] | None = None  # total by asset
    balances_at: int | None = None  # epoch ms of the balance fetch
    deposits: list[dict] | None = None
    withdrawals: list[dict] | None = None
    positions: list[dict] | None = None
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0

    def failed(self, part: str, error: ExchangeCallError) -> None:
        self.failures.append(Failure(part=part, kind=error.kind, message=str(error)))

    @property
    def authentication_refused(self) -> bool:
        return any(f.kind == "authentication" for f in self.failures)


def decimal(value: Any) -> Decimal | None:
    """ccxt's number (a float parsed from the exchange's text) as the Decimal it was written as."""
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


class ExchangeReader:
    """Reads one account through a ccxt client, filling an ExchangeView part by part."""

    def __init__(self, client, *, now_ms: int) -> None:
        self.client = client
        self.now_ms = now_ms
        self.view = ExchangeView()

    def _call(self, part: str, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return exchange_call(self.client, method, *args, **kwargs)
        except ExchangeCallError as error:
            self.view.failed(part, error)
            return None

    def has(self, capability: str) -> bool:
        return bool(self.client.has.get(capability))

    def load_markets(self) -> bool:
        markets = self._call("markets", "load_markets")
        if markets is not None:
            self.view.markets = markets
        return markets is not None

    def open_orders(self) -> None:
        orders = self._call("open orders", "fetch_open_orders")
        if orders is not None:
            self.view.open_orders = {o["id"]: o for o in orders}
            self.view.order_ids.update(self.view.open_orders)

    def orders_since(self, symbol: str, since_ms: int, consume: Callable[[list[dict]], None]) -> bool:
        """Closed and canceled orders of `symbol` since `since_ms`, handed to `consume` page by page, each
        order once (an open one is not handed again); True when fetched completely.

        ccxt's paginate keeps every page until the last (a month of a busy account's orders is hundreds of
        megabytes); here each page goes to `consume` as it arrives and ccxt keeps of each order only what it
        pages and de-duplicates by, its id and timestamp. The requests are ccxt's, as many and the same.
        Orders of pages read before a failure have been handed over, as fills of windows read before one
        have."""
        method, paged = (
            ("fetch_orders", "fetchOrders")
            if self.has("fetchOrders")
            else ("fetch_closed_orders", "fetchClosedOrders")
        )
        params = {**PAGINATE, **ORDER_HISTORY_PARAMS.get(self.client.id, {})}
        fetch_page = getattr(self.client, paged)
        pages = 0
        refused: list[BaseException] = []

        def page(*args: Any, **kwargs: Any) -> list[dict]:
            # ccxt's paginator calls this for each page (and again for a page it retries).
            nonlocal pages
            if refused:
                return []  # an empty page ends ccxt's pagination
            orders = fetch_page(*args, **kwargs)
            pages += 1
            try:
                self._hand_over(orders, since_ms, consume)
            except Exception as exc:  # noqa: BLE001 - raised below, after ccxt (which retries errors) returns
                refused.append(exc)
                return []
            return [{"id": o.get("id"), "timestamp": o.get("timestamp")} for o in orders]

        shadowed = vars(self.client).get(paged)
        setattr(self.client, paged, page)
        try:
            orders = self._call(f"orders of {symbol}", method, symbol, since_ms, None, params)
        finally:
            if shadowed is None:
                delattr(self.client, paged)
            else:
                setattr(self.client, paged, shadowed)
        if refused:
            raise refused[0]
        if orders is None:
            return False
        if not pages:  # this exchange's fetch did not page through the method: what it returned
            self._hand_over(orders, since_ms, consume)
        return True

    def _hand_over(self, orders: list[dict], since_ms: int, consume: Callable[[list[dict]], None]) -> None:
        """The orders ccxt's paginate would return of this page (since `since_ms`, the first of each id),
        to `consume`."""
        new = []
        for order in orders:
            timestamp = order.get("timestamp")
            if timestamp and timestamp >= since_ms and order["id"] not in self.view.order_ids:
                self.view.order_ids.add(order["id"])
                new.append(order)
        if new:
            consume(new)

    def order(self, order_id: str, symbol: str) -> dict | str | None:
        """One order by id: its structure, "unknown" when the exchange has no such order, None on failure."""
        try:
            return exchange_call(self.client, "fetch_order", order_id, symbol)
        except ExchangeCallError as error:
            if error.kind == "not_found":
                return "unknown"
            self.view.failed(f"order {order_id}", error)
            return None

    def trade_windows(self, symbol: str, since_ms: int) -> Iterator[tuple[int, list[dict]]]:
        """(window end, fills) for each window from `since_ms` to now, oldest first; stops at a failure
        (recorded), so a caller that saw every window up to the last knows the fills are complete.

        The next window is fetched while the caller works on this one: one request at a time, in the same
        order, none after a failure; the caller's database work and ccxt's parsing overlap instead of
        adding up."""
        window = max(1, settings.RECONCILIATION_WINDOW_HOURS) * HOUR_MS
        bounds = []
        start = since_ms
        while start <= self.now_ms:
            end = min(start + window - 1, self.now_ms)
            bounds.append((start, end))
            start = end + 1
        if not bounds:
            return

        def fetch(start: int, end: int) -> list[dict] | None:
            try:
                return self._call(
                    f"fills of {symbol}", "fetch_my_trades", symbol, start, None, {"until": end, **PAGINATE}
                )
            finally:
                connections.close_all()  # this thread's own: opened only to record a Redis outage, if any

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciliation-fills") as pool:
            pending = pool.submit(fetch, *bounds[0])
            for n, (start, end) in enumerate(bounds):
                trades = pending.result()
                if trades is None:
                    return
                if n + 1 < len(bounds):
                    pending = pool.submit(fetch, *bounds[n + 1])
                yield end, [t for t in trades if start <= (t.get("timestamp") or 0) <= end]

    def balances(self) -> None:
        balance = self._call("balances", "fetch_balance")
        if balance is None:
            return
        totals = balance.get("total") or {}
        scale = Decimal("0.00000001")
        self.view.balances = {
            asset: (decimal(total) or Decimal(0)).quantize(scale) for asset, total in totals.items()
        }
        self.view.balances_at = balance.get("timestamp") or self.now_ms

    def cash_flows(self, since_ms: int) -> None:
        if self.has("fetchDeposits"):
            deposits = self._call("deposits", "fetch_deposits", None, since_ms)
            self.view.deposits = deposits
        if self.has("fetchWithdrawals"):
            withdrawals = self._call("withdrawals", "fetch_withdrawals", None, since_ms)
            self.view.withdrawals = withdrawals

    def positions(self) -> None:
        """Every open position of the account (its derivatives; spot holdings are balances)."""
        if not self.has("fetchPositions"):
            return
        positions = self._call("positions", "fetch_positions")
        if positions is not None:
            self.view.positions = positions
