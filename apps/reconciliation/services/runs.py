"""A reconciliation run: one exchange account fetched, compared with the record, its differences kept.

The run never changes the record by itself. It writes runs and discrepancies; the record changes only when a
discrepancy is adopted (by an operator, or by RECONCILIATION_AUTO_ADOPT for missing fills and terminal
statuses), through the services the API uses. A fetch that fails makes the run partial (or failed when
nothing could be read) and what it would have shown is not compared: missing data never reads as
"no orders" or "flat". Each symbol's fills are read window by window; the watermark moves past a window
only once it was read whole, so a run cut off in the middle of pagination resumes there next time.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.common.clock import from_ms, now_ms, to_ms
from apps.common.jsonenc import json_bytes
from apps.exchanges.client import ExchangeCallError, exchange_client
from apps.exchanges.models import Exchange
from apps.execution.models import Order, Position, Trade
from apps.portfolio.services.flows import cash_flows_from_exchange

from ..models import Discrepancy, DiscrepancyKind, DiscrepancyState, ReconciliationRun, RunStatus, RunTrigger
from . import compare
from .adopt import ACTOR, discrepancies_auto_adopt
from .exchange_view import ExchangeReader

logger = logging.getLogger("tradeoffice.reconciliation")

FINDINGS_BATCH = 5_000
RESOLVE_BATCH = 2_000
# Batches handed to the writer and not yet written: the run waits for the oldest past this many.
WRITES_AHEAD = 2
RECORDED_ORDER_KINDS = (DiscrepancyKind.MISSING_ORDER, DiscrepancyKind.EXTERNAL_ORDER)
# The arrays travel in binary (%b). Followed by the SELECT that reads what it did: a count, or each row when
# a batch holds a difference twice.
DISCREPANCIES_UPSERT = """
    WITH upserted AS (
        INSERT INTO reconciliation_discrepancies AS d
               (exchange_id, run_id, last_seen_run_id, state, kind, subject, symbol,
                exchange_version, record_version, differences)
        SELECT %s, %s, %s, 'open', f.kind, f.subject, f.symbol,
               f.exchange_version::jsonb, f.record_version::jsonb, f.differences::jsonb
          FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[])
               AS f(kind, subject, symbol, exchange_version, record_version, differences)
         -- A difference an operator dismissed stays dismissed while it is the same difference.
         WHERE NOT EXISTS (
               SELECT 1 FROM reconciliation_discrepancies x
                WHERE x.exchange_id = %s AND x.kind = f.kind AND x.subject = f.subject
                  AND x.state = 'dismissed' AND x.differences = f.differences::jsonb)
            ON CONFLICT (exchange_id, kind, subject) WHERE state = 'open' DO UPDATE
           SET last_seen_run_id = excluded.last_seen_run_id, symbol = excluded.symbol,
               exchange_version = excluded.exchange_version, record_version = excluded.record_version,
               differences = excluded.differences
        RETURNING d.kind, d.subject, d.xmax = 0 AS inserted
    )
"""
DISCREPANCY_SEEN_AGAIN = """
    UPDATE reconciliation_discrepancies
       SET last_seen_run_id = %s, symbol = %s, exchange_version = %s::jsonb, record_version = %s::jsonb,
           differences = %s::jsonb
     WHERE exchange_id = %s AND kind = %s AND subject = %s AND state = 'open'
"""
# Fills are read up to a little past this machine's clock: an exchange's clock may run ahead of it. The
# watermark stays at this machine's time, so the overlap reads that stretch again next time.
CLOCK_SLACK_MS = 60_000


class ReconciliationBusy(Exception):
    """Another run holds this exchange's lock."""


def _json(value: Any) -> str | None:
    """ccxt's structures (floats, Decimals, nested info) as JSON text for a JSONB column; None is SQL NULL,
    as the JSONField writes it."""
    return None if value is None else json_bytes(value).decode()


def _row(key: tuple[str, str], finding: compare.Finding) -> tuple:
    """A finding as the upsert's columns: kind, subject, symbol and its three JSON values."""
    return (
        *key,
        finding.symbol or "",
        _json(finding.exchange_version),
        _json(finding.record_version),
        _json(finding.differences),
    )


@contextmanager
def _bound_cursor():
    """A cursor on Django's connection (its transaction) that binds parameters on the server, so arrays
    travel in binary: Django's cursors bind in the client, quoting each element with a regular expression
    (seconds for a batch of JSON values). Its statements are never prepared (prepare=False), as Django's
    are not, so PgBouncer in transaction mode sees nothing new."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _recorded(model, ids: list[str]) -> set[str]:
    """Which of `ids` the table holds: one array parameter, where pk__in sends a placeholder per id."""
    if not ids:
        return set()
    table, column = model._meta.db_table, model._meta.pk.column
    with _bound_cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%b)", [ids], prepare=False)
        return {pk for (pk,) in cursor.fetchall()}


@contextmanager
def exchange_lock(exchange: Exchange):
    """A session-level advisory lock per exchange account: two runs of one account never overlap."""
    digest = hashlib.sha256(f"tradeoffice:reconcile:{exchange.pk}".encode()).digest()[:8]
    key = int.from_bytes(digest, "big") - (1 << 63)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        if not cursor.fetchone()[0]:
            raise ReconciliationBusy(
                f"A reconciliation of {exchange.name} is already running; try again later."
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _previous(exchange: Exchange) -> ReconciliationRun | None:
    return (
        ReconciliationRun.objects.filter(exchange=exchange, status__in=[RunStatus.OK, RunStatus.PARTIAL])
        .order_by("-started_at", "-id")
        .first()
    )


def _anchor(exchange: Exchange) -> ReconciliationRun | None:
    """The last run that read the balances: the expected balances start from what it read."""
    return (
        ReconciliationRun.objects.filter(exchange=exchange, status__in=[RunStatus.OK, RunStatus.PARTIAL])
        .exclude(balances={})
        .order_by("-started_at", "-id")
        .first()
    )


class _Writer:
    """Writes batches of findings in order, in a thread with a database connection of its own, while the
    run goes on fetching and comparing: PostgreSQL inserting a batch and this process encoding the next
    take the time of the longer instead of the sum. At most WRITES_AHEAD batches wait, so memory stays
    that of a few batches. A write that fails is raised in the run at its next batch, or at `close()`, and
    no batch after it is written: what stays is what was found before it, as when the run writes inline.

    Only for a run on a connection in autocommit: each batch is its own transaction either way, and one
    inside a transaction (a dry run, a test) could not be seen, nor rolled back, from another connection.
    """

    def __init__(self, write: Callable[[list[compare.Finding]], None]) -> None:
        self._write = write
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciliation-writer")
        self._pending: deque[Future] = deque()
        self._failed = False

    def _write_in_turn(self, findings: list[compare.Finding]) -> None:
        if self._failed:  # a batch before this one failed: the run stops at that failure
            return
        try:
            self._write(findings)
        except BaseException:
            self._failed = True
            raise

    def put(self, findings: list[compare.Finding]) -> None:
        while len(self._pending) >= WRITES_AHEAD:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._write_in_turn, findings))

    def close(self) -> None:
        """Every batch handed over written (or the first failure raised), then the thread stopped and its
        connection closed."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.submit(connections.close_all).result()
            self._pool.shutdown()


class _Run:
    """The work of one run, step by step; `execute()` returns the finished run."""

    def __init__(self, *, run: ReconciliationRun, client, progress: Callable[[str], None]) -> None:
        self.run = run
        self.exchange = run.exchange
        # This process's clock, not the transaction's (a dry run's transaction began before the fetches).
        self.now_ms = now_ms()
        self.reader = ExchangeReader(client, now_ms=self.now_ms + CLOCK_SLACK_MS)
        self.progress = progress
        previous = _previous(self.exchange)
        self.watermarks: dict[str, dict[str, int]] = {
            "fills": dict((previous.watermarks or {}).get("fills", {})) if previous else {},
        }
        self.default_since_ms = to_ms(run.since)
        self.overlap_ms = settings.RECONCILIATION_OVERLAP_SECONDS * 1000
        self.explicit_since = False
        self.counts: dict[str, int] = {
            "orders_fetched": 0,
            "fills_fetched": 0,
            "found": 0,
            "new": 0,
            "resolved": 0,
            "adopted": 0,
        }
        self.checked: dict[str, set[str] | None] = {}  # kind -> the subjects compared completely (None: all)
        self.fills_complete: set[str] = set()
        self.writer: _Writer | None = None

    # --- steps ---------------------------------------------------------------------------------

    def execute(self) -> ReconciliationRun:
        reader = self.reader
        if not reader.load_markets():
            return self._finish()
        if not connection.in_atomic_block:
            self.writer = _Writer(self._write)
        try:
            reader.open_orders()
            reader.balances()
            symbols = self._symbols()
            for symbol in symbols:
                self._symbol(symbol)
            self._orders()
            self._stale_open_orders()
            self._balances(symbols)
            self._positions()
        finally:
            if self.writer is not None:
                self.writer.close()  # what follows reads the discrepancies written
        self._resolve()
        if settings.RECONCILIATION_AUTO_ADOPT and not self.run.dry_run:
            self._auto_adopt()
        return self._finish()

    def _symbols(self) -> list[str]:
        """What to read fills and orders of: every symbol the record has on this account, those with open
        orders on the exchange, RECONCILIATION_SYMBOLS, and the spot markets whose base the account holds
        against a quote currency the record uses or RECONCILIATION_QUOTE_CURRENCIES names."""
        markets = self.reader.view.markets or {}
        recorded = set(
            Order.objects.filter(exchange=self.exchange).values_list("symbol", flat=True).distinct()
        ) | set(Trade.objects.filter(exchange=self.exchange).values_list("symbol", flat=True).distinct())
        recorded |= set(Position.objects.filter(exchange=self.exchange).values_list("symbol", flat=True))
        from_orders = {o.get("symbol") for o in (self.reader.view.open_orders or {}).values()}
        held = {asset for asset, total in (self.reader.view.balances or {}).items() if total}
        quotes = {symbol.partition("/")[2] for symbol in recorded if "/" in symbol}
        quotes |= set(settings.RECONCILIATION_QUOTE_CURRENCIES)
        from_balances = {
            symbol
            for symbol, market in markets.items()
            if market.get("spot") and market.get("base") in held - quotes and market.get("quote") in quotes
        }
        wanted = recorded | from_orders | from_balances | set(settings.RECONCILIATION_SYMBOLS)
        return sorted(s for s in wanted if s in markets)

    def _since(self, symbol: str) -> int:
        mark = self.watermarks["fills"].get(symbol)
        if mark is None or self.explicit_since:
            return self.default_since_ms
        return max(0, mark - self.overlap_ms)

    def _symbol(self, symbol: str) -> None:
        since = self._since(symbol)
        self.progress(f"{symbol}: orders and fills since {from_ms(since):%Y-%m-%d %H:%M} UTC")
        self.reader.orders_since(symbol, since, self._compare_orders)
        complete_to = None
        for window_end, trades in self.reader.trade_windows(symbol, since):
            self.counts["fills_fetched"] += len(trades)
            recorded = _recorded(Trade, [str(t["id"]) for t in trades])
            findings = compare.compare_trades(trades, recorded)
            self._keep(findings)
            complete_to = window_end
        if complete_to is not None:
            self.watermarks["fills"][symbol] = min(complete_to, self.now_ms)
            if complete_to >= self.now_ms:
                self.fills_complete.add(symbol)

    def _compare_orders(self, orders: list[dict] | dict[str, dict]) -> None:
        remote = orders if isinstance(orders, dict) else {o["id"]: o for o in orders}
        recorded = {o.pk: o for o in Order.objects.filter(pk__in=list(remote))}
        self._keep(compare.compare_orders(remote, recorded))

    def _orders(self) -> None:
        """The open orders (the history was compared page by page as it was read)."""
        self._compare_orders(self.reader.view.open_orders or {})
        compared = set(self.reader.view.order_ids)
        self.counts["orders_fetched"] = len(compared)
        for kind in (
            DiscrepancyKind.MISSING_ORDER,
            DiscrepancyKind.EXTERNAL_ORDER,
            DiscrepancyKind.ORDER_DIFFERS,
        ):
            self._checked(kind, compared)

    def _stale_open_orders(self) -> None:
        open_remote = self.reader.view.open_orders
        if open_remote is None:  # not known which orders are open: nothing to say about ours
            return
        ours = Order.objects.filter(exchange=self.exchange, status__in=compare.OPEN_STATUSES).exclude(
            pk__in=list(open_remote)
        )
        checked = set()
        for order in ours.exclude(pk__in=list(self.reader.view.order_ids)).iterator():
            # Not among the orders read since the watermark (those were compared already): ask for it.
            remote = self.reader.order(order.pk, order.symbol)
            if remote is None:  # the lookup failed: recorded as a failure, compared next time
                continue
            checked.add(order.pk)
            finding = compare.stale_open_order(order, remote)
            if finding is not None:
                self._keep([finding])
        self._checked(DiscrepancyKind.STALE_OPEN_ORDER, checked | self.reader.view.order_ids)

    def _balances(self, symbols: list[str]) -> None:
        view = self.reader.view
        anchor = _anchor(self.exchange)
        if view.balances is None:
            return
        if anchor is None or not (anchor.balances or {}).get("total"):
            return  # the first reading: it becomes the anchor, there is nothing yet to compare it with
        if set(symbols) - self.fills_complete:
            return  # some fills are unread: the expected balance would be wrong, so none is compared
        since_ms = int(anchor.balances["at"])
        self.reader.cash_flows(since_ms)
        if (self.reader.has("fetchDeposits") and view.deposits is None) or (
            self.reader.has("fetchWithdrawals") and view.withdrawals is None
        ):
            return
        # Every completed deposit and withdrawal read becomes a cash flow (once each, by its transaction id),
        # so returns are measured net of it (docs/metrics.md, "Cash flows").
        self.counts["cash_flows_recorded"] = cash_flows_from_exchange(
            exchange=self.exchange, deposits=view.deposits or [], withdrawals=view.withdrawals or []
        )
        until_ms = view.balances_at or self.now_ms
        fills = Trade.objects.filter(
            exchange=self.exchange, timestamp__gt=since_ms, timestamp__lte=until_ms
        ).only("symbol", "side", "amount", "cost", "fee", "fee_currency")

        def within(flows: list[dict] | None) -> list[dict]:
            return [f for f in flows or [] if since_ms < (f.get("timestamp") or 0) <= until_ms]

        deposits, withdrawals = within(view.deposits), within(view.withdrawals)
        anchor_totals = {asset: Decimal(total) for asset, total in anchor.balances["total"].items()}
        findings = compare.compare_balances(
            anchor=anchor_totals,
            effects=[compare.fills_effect(fills.iterator()), compare.flows_effect(deposits, withdrawals)],
            actual=view.balances,
        )
        self._keep(findings)
        self._checked(DiscrepancyKind.BALANCE_DIFFERS, None)

    def _positions(self) -> None:
        markets = self.reader.view.markets or {}
        recorded = {
            p.symbol: p
            for p in Position.objects.filter(exchange=self.exchange, is_open=True)
            if markets.get(p.symbol, {}).get("contract")
        }
        if not recorded and self.exchange.name not in settings.RECONCILIATION_FETCH_POSITIONS:
            return  # a spot account: its holdings are balances
        self.reader.positions()
        if self.reader.view.positions is None:
            return
        remote = [p for p in self.reader.view.positions if markets.get(p.get("symbol"), {}).get("contract")]
        self._keep(compare.compare_positions(remote, recorded))
        self._checked(DiscrepancyKind.POSITION_DIFFERS, {p["symbol"] for p in remote} | set(recorded))

    # --- discrepancies ----------------------------------------------------------------------------

    def _checked(self, kind: str, subjects: set[str] | None) -> None:
        self.checked[kind] = subjects

    def _keep(self, findings: list[compare.Finding]) -> None:
        """Write findings as discrepancies: a difference already open is updated (seen again), a new one
        created. In batches, each its own transaction, so a run cut short keeps what it found."""
        self.counts["found"] += len(findings)
        for start in range(0, len(findings), FINDINGS_BATCH):
            batch = findings[start : start + FINDINGS_BATCH]
            if self.writer is not None:
                self.writer.put(batch)
            else:
                self._write(batch)

    @transaction.atomic
    def _write(self, findings: list[compare.Finding]) -> None:
        # One INSERT ... ON CONFLICT per batch, the JSON encoded once. A model instance per row, bulk_create's
        # placeholders and a JSON round trip per value cost more than fetching the findings did; and looking
        # the open ones up first read every open row of the account per batch while the table grew within
        # the run (its statistics still said empty, so the planner took the queue index).
        first: dict[tuple[str, str], compare.Finding] = {}
        last: dict[tuple[str, str], compare.Finding] = {}
        for finding in findings:
            key = (finding.kind, finding.subject[:120])
            (last if key in first else first)[key] = finding
        columns: list[list] = [[], [], [], [], [], []]
        for key, finding in first.items():
            for column, value in zip(columns, _row(key, finding), strict=True):
                column.append(value)
        with _bound_cursor() as cursor:
            # Lost only if PostgreSQL itself crashes before the run's last write, which is synchronous
            # and flushes these: the watermark is not saved then, and the next run finds them again.
            cursor.execute("SET LOCAL synchronous_commit TO off", prepare=False)
            cursor.execute("SET LOCAL work_mem TO '64MB'", prepare=False)  # the batch stays in memory
            parameters = [self.exchange.pk, self.run.pk, self.run.pk, *columns, self.exchange.pk]
            if not last:
                cursor.execute(
                    DISCREPANCIES_UPSERT + "SELECT count(*) FILTER (WHERE inserted) FROM upserted",
                    parameters,
                    prepare=False,
                )
                self.counts["new"] += cursor.fetchone()[0]
                return
            cursor.execute(
                DISCREPANCIES_UPSERT + "SELECT kind, subject, inserted FROM upserted",
                parameters,
                prepare=False,
            )
            inserted = {(kind, subject): new for kind, subject, new in cursor.fetchall()}
            # A difference found twice in one batch: a new discrepancy keeps the first, an open one
            # found again takes the last (as one pass over the findings does).
            for key, finding in last.items():
                if key in inserted and not inserted[key]:  # absent: a dismissed difference, left so
                    _, _, *values = _row(key, finding)
                    cursor.execute(
                        DISCREPANCY_SEEN_AGAIN, [self.run.pk, *values, self.exchange.pk, *key], prepare=False
                    )
            self.counts["new"] += sum(inserted.values())

    def _resolve(self) -> None:
        """Open discrepancies this run no longer finds where it checked: resolved (the difference is gone)."""
        open_ones = (
            Discrepancy.objects.filter(exchange=self.exchange, state=DiscrepancyState.OPEN)
            .exclude(last_seen_run=self.run)
            .order_by()
            .values_list("pk", "kind", "subject")
        )
        resolved = []
        batch: list[tuple[int, str, str]] = []

        def resolve(batch: list[tuple[int, str, str]]) -> None:
            # Whether a missing fill or order is in the record now: one query per batch, not per row.
            trades = [subject for _, kind, subject in batch if kind == DiscrepancyKind.MISSING_TRADE]
            orders = [subject for _, kind, subject in batch if kind in RECORDED_ORDER_KINDS]
            recorded_trades, recorded_orders = _recorded(Trade, trades), _recorded(Order, orders)
            for pk, kind, subject in batch:
                if kind == DiscrepancyKind.MISSING_TRADE:
                    gone = subject in recorded_trades
                elif kind in RECORDED_ORDER_KINDS:
                    gone = subject in recorded_orders
                elif kind in self.checked:
                    subjects = self.checked[kind]
                    gone = subjects is None or subject in subjects
                else:
                    gone = False
                if gone:
                    resolved.append(pk)

        for row in open_ones.iterator(chunk_size=RESOLVE_BATCH):
            batch.append(row)
            if len(batch) == RESOLVE_BATCH:
                resolve(batch)
                batch = []
        if batch:
            resolve(batch)
        if resolved:
            Discrepancy.objects.filter(pk__in=resolved).update(
                state=DiscrepancyState.RESOLVED,
                note=f"Run {self.run.pk} found no difference any more.",
                acted_by=ACTOR,
                acted_at=timezone.now(),
            )
        self.counts["resolved"] = len(resolved)

    def _auto_adopt(self) -> None:
        self.counts["adopted"] = discrepancies_auto_adopt(exchange=self.exchange)

    # --- the end ------------------------------------------------------------------------------------

    def _finish(self) -> ReconciliationRun:
        view = self.reader.view
        run = self.run
        if view.markets is None or view.authentication_refused:
            run.status = RunStatus.FAILED
        elif view.failures:
            run.status = RunStatus.PARTIAL
        else:
            run.status = RunStatus.OK
        run.reason = "\n".join(str(f) for f in view.failures)[:10_000]
        run.finished_at = timezone.now()
        run.counts = {**self.counts, "failures": len(view.failures)}
        run.watermarks = self.watermarks if run.status != RunStatus.FAILED else run.watermarks
        if view.balances is not None and run.status != RunStatus.FAILED:
            run.balances = {
                "at": view.balances_at,
                "total": {asset: str(total) for asset, total in sorted(view.balances.items()) if total},
            }
        run.save(update_fields=["status", "reason", "finished_at", "counts", "watermarks", "balances"])
        logger.info("Reconciliation of %s: %s, %s", self.exchange.name, run.status, run.counts)
        return run


def reconciliation_run(
    *,
    exchange: Exchange,
    trigger: RunTrigger | str,
    triggered_by: str = "",
    since: datetime | None = None,
    dry_run: bool = False,
    client=None,
    progress: Callable[[str], None] | None = None,
) -> ReconciliationRun:
    """Reconcile one exchange account; the finished run (its discrepancies written, none applied unless a
    setting auto-adopts them). Raises ReconciliationBusy while another run of the account holds its lock."""
    with exchange_lock(exchange):
        first_run_start = timezone.now() - timedelta(days=settings.RECONCILIATION_FIRST_RUN_DAYS)
        run = ReconciliationRun.objects.create(
            exchange=exchange,
            trigger=RunTrigger(trigger),
            triggered_by=triggered_by[:150],
            dry_run=dry_run,
            # Where a symbol without a watermark starts; one with a watermark starts there, less the overlap.
            since=since or first_run_start,
        )
        run.refresh_from_db(fields=["started_at"])
        try:
            client = client or exchange_client(exchange=exchange)
        except ExchangeCallError as error:
            run.status, run.reason, run.finished_at = RunStatus.FAILED, str(error), timezone.now()
            run.save(update_fields=["status", "reason", "finished_at"])
            return run
        work = _Run(run=run, client=client, progress=progress or (lambda message: None))
        work.explicit_since = since is not None
        return work.execute()


def reconciliation_run_all(
    *, exchanges: Iterable[Exchange], trigger: RunTrigger | str, **options: Any
) -> list[ReconciliationRun | ReconciliationBusy]:
    """Each account in turn; one that is busy is reported, the others still run."""
    results: list[ReconciliationRun | ReconciliationBusy] = []
    for exchange in exchanges:
        try:
            results.append(reconciliation_run(exchange=exchange, trigger=trigger, **options))
        except ReconciliationBusy as busy:
            results.append(busy)
    return results
