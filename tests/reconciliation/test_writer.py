"""A run outside a transaction writes its batches on a connection of its own while it goes on reading.

These tests commit (transaction=True), as `reconcile_exchanges` does: the writer is used only on a
connection in autocommit. What an operator sees must not depend on it: the same discrepancies, each
once, in the same counts, a write that fails stopping the run, and a dry run still leaving nothing.
"""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from apps.reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyState, RunStatus
from apps.reconciliation.services import runs
from apps.reconciliation.services.runs import reconciliation_run
from tests.reconciliation.emulator import BINANCE, HOUR_MS, now_ms

pytestmark = pytest.mark.django_db(transaction=True)

FILLS = 3_500
FOUND = FILLS + FILLS + 2  # each fill and its order missing, and the two open orders


@pytest.fixture
def account(emulated, clean_redis, settings, monkeypatch):
    """A Binance account with FILLS fills over three hours (each of its own order) and two open orders, none
    of them in the record; findings written in batches of 1,000 and the last day's fills read an hour at a
    time, so several batches queue at once."""
    monkeypatch.setattr(runs, "FINDINGS_BATCH", 1_000)
    settings.RECONCILIATION_WINDOW_HOURS = 1
    settings.RECONCILIATION_FIRST_RUN_DAYS = 1
    account, exchange = emulated(BINANCE)
    fills = account.add_trades_bulk(FILLS, "BTC/USDT", start=now_ms() - 3 * HOUR_MS, step_ms=2_500)
    orders = [
        account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id=f"agent-{n}")
        for n in (1, 2)
    ]
    return account, exchange, set(fills), set(orders)


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The size of each batch the run handed to its writer."""
    handed: list[int] = []
    put = runs._Writer.put

    def counting(self, findings):
        handed.append(len(findings))
        return put(self, findings)

    monkeypatch.setattr(runs._Writer, "put", counting)
    return handed


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("reconciliation-writer")]


def open_subjects(exchange, kind) -> list[str]:
    return list(
        Discrepancy.objects.filter(exchange=exchange, kind=kind, state=DiscrepancyState.OPEN).values_list(
            "subject", flat=True
        )
    )


def test_every_finding_is_written_once_by_the_writer(account, batches):
    _, exchange, fills, orders = account
    assert not connection.in_atomic_block

    result = reconciliation_run(exchange=exchange, trigger="command")

    assert result.status == RunStatus.OK, result.reason
    assert sum(batches) == FOUND  # every finding went to the writer
    assert batches.count(1_000) >= 3  # an hour's 1,440 fills are two batches
    missing_fills = open_subjects(exchange, DiscrepancyKind.MISSING_TRADE)
    assert sorted(missing_fills) == sorted(fills)  # each once, none lost
    missing_orders = open_subjects(exchange, DiscrepancyKind.MISSING_ORDER)
    assert len(missing_orders) == len(set(missing_orders)) == FILLS + 2 and orders <= set(missing_orders)
    assert result.counts["new"] == result.counts["found"] == FOUND
    assert not writer_threads()  # stopped, its connection closed

    again = reconciliation_run(exchange=exchange, trigger="command")  # reads from the watermark on

    assert again.counts["new"] == 0 and again.counts["resolved"] == 0
    assert Discrepancy.objects.filter(exchange=exchange, state=DiscrepancyState.OPEN).count() == FOUND
    seen_again = Discrepancy.objects.filter(exchange=exchange, last_seen_run=again)
    assert set(seen_again.values_list("subject", flat=True)) == orders  # the open orders


def test_a_write_that_fails_stops_the_run_and_keeps_the_batches_before_it(account, monkeypatch):
    _, exchange, _, _ = account
    write = runs._Run._write
    calls: list[int] = []
    written: list[int] = []

    def failing(self, findings):
        calls.append(len(findings))
        if len(calls) == 3:  # the third batch only: a batch written after it would be counted
            raise RuntimeError("disk full")
        write(self, findings)
        written.append(len(findings))

    monkeypatch.setattr(runs._Run, "_write", failing)

    with pytest.raises(RuntimeError, match="disk full"):
        reconciliation_run(exchange=exchange, trigger="command")

    # The two batches written before the failure stay (each was its own transaction), and none after it,
    # though the run had handed the writer more before it heard of the failure.
    assert len(calls) == 3 and len(written) == 2
    assert Discrepancy.objects.filter(exchange=exchange).count() == sum(written)
    assert not writer_threads()


def test_a_dry_run_still_writes_nothing(account, batches):
    _, exchange, _, _ = account

    call_command("reconcile_exchanges", "--dry-run", "-v", "0")

    assert batches == []  # inside the dry run's transaction, the findings are written on its connection
    assert not Discrepancy.objects.exists()
    assert not exchange.reconciliation_runs.exists()
