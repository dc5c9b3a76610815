"""manage.py reconcile_exchanges against emulated accounts: non-zero while drift is open (saying how much and
where to review it), a summary line when there is none, bad arguments refused before anything is written,
one run per account, and a dry run that leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from apps.exchanges.models import Exchange
from apps.execution.models import Order
from apps.execution.services.orders import order_upsert
from apps.reconciliation.models import Discrepancy, DiscrepancyKind, ReconciliationRun
from apps.reconciliation.services.adopt import discrepancy_dismiss
from tests.reconciliation.conftest import other_session_holding_reconciliation_lock
from tests.reconciliation.emulator import BINANCE, OKX, now_ms

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile_exchanges", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_open_drift_exits_non_zero_naming_the_count_and_where_to_review(emulated):
    account, exchange = emulated(BINANCE)
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-1")
    account.fill(order_id, "0.5")

    with pytest.raises(CommandError) as failure:
        reconcile()

    message = str(failure.value)
    assert "2 discrepancies are open" in message
    assert "Reconciliation > Discrepancies" in message and "/api/v1/reconciliation/discrepancies/" in message
    run = ReconciliationRun.objects.get()
    assert (run.exchange, run.status, run.trigger) == (exchange, "ok", "command")
    assert set(Discrepancy.objects.values_list("kind", flat=True)) == {"missing_order", "missing_trade"}
    assert not Order.objects.exists()  # found, not applied


def test_the_exit_code_is_one_from_the_command_line(emulated):
    account, _ = emulated(BINANCE)
    account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-2")
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "reconcile_exchanges", "-v", "0"]).execute()

    assert exit_.value.code == 1


def test_no_drift_succeeds_with_a_summary_line(emulated):
    emulated(BINANCE)

    output = reconcile()

    assert "binance: ok, 0 orders and 0 fills read, 0 new discrepancies" in output
    assert "Reconciled 1 of 1 accounts; 0 discrepancies open." in output
    assert ReconciliationRun.objects.get().status == "ok"


def test_a_dismissed_difference_does_not_come_back_open(emulated):
    account, _ = emulated(BINANCE)
    account.place_order("BTC/USDT", "buy", "limit", "0.1", "58000", client_order_id="web_manual")
    with pytest.raises(CommandError, match="1 discrepancies are open"):
        reconcile()
    discrepancy_dismiss(
        discrepancy=Discrepancy.objects.get(), reason="Placed by hand; not the agent's", actor="olivia"
    )

    output = reconcile()  # the same order, unchanged on the exchange

    assert "0 discrepancies open" in output
    assert not Discrepancy.objects.filter(state="open").exists()
    assert Discrepancy.objects.get().state == "dismissed"


def test_a_dismissed_difference_that_changes_opens_again(emulated):
    account, exchange = emulated(BINANCE)
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-1")
    record = order_upsert(
        exchange=exchange, order_id=order_id, client_order_id="agent-1", symbol="BTC/USDT", side="buy",
        type="limit", status="open", amount=Decimal("0.5"), price=Decimal("60000"), timestamp=now_ms(),
    ).order  # fmt: skip
    account.fill(order_id, "0.1")
    with pytest.raises(CommandError):
        reconcile()
    differs = Discrepancy.objects.get(kind="order_differs")
    discrepancy_dismiss(discrepancy=differs, reason="Looked at it; the agent records it soon", actor="olivia")

    account.fill(order_id, "0.1")  # now 0.2 filled: another difference than the one dismissed
    with pytest.raises(CommandError):
        reconcile()

    reopened = Discrepancy.objects.get(kind="order_differs", state="open")
    assert reopened.pk != differs.pk and reopened.differences["filled"] == ["0.00000000", "0.20000000"]
    assert record.pk == reopened.subject


def test_an_unknown_exchange_names_the_registered_ones_and_writes_nothing(emulated):
    account, _ = emulated(BINANCE)
    emulated(OKX)

    with pytest.raises(CommandError, match=r"Unknown exchange: nosuch\. Registered: binance, okx\."):
        reconcile("--exchange", "nosuch")

    assert not ReconciliationRun.objects.exists() and not Discrepancy.objects.exists()
    assert account.requests == []


def test_with_no_exchange_registered_it_says_how_to_add_one(db):
    with pytest.raises(CommandError, match="No active exchange to reconcile; register one with add_exchange"):
        reconcile()


@pytest.mark.parametrize("since", ["2026-13-01", "yesterday", "2026-02-30"])
def test_a_since_that_is_no_date_is_refused_by_argparse(emulated, since):
    account, _ = emulated(BINANCE)

    with pytest.raises(CommandError, match=rf"argument --since: '{since}' is not a date; use YYYY-MM-DD"):
        reconcile("--since", since)

    assert not ReconciliationRun.objects.exists() and account.requests == []


def test_a_since_in_the_future_is_refused(emulated):
    """A run reading from tomorrow would read no fill and compare no balance, and still say ok."""
    account, _ = emulated(BINANCE)

    with pytest.raises(CommandError, match="in the future"):
        reconcile("--since", "2999-01-01")

    assert not ReconciliationRun.objects.exists() and account.requests == []


def test_since_reads_from_that_day(emulated):
    account, _ = emulated(BINANCE)

    day = datetime.now(UTC).date() - timedelta(days=2)

    reconcile("--since", day.isoformat())

    run = ReconciliationRun.objects.get()
    assert run.since == datetime(day.year, day.month, day.day, tzinfo=UTC)
    first_window = account.requests_to("/api/v3/myTrades")[0]  # a day's window, paged back from its end
    assert int(first_window.query["endTime"]) == int(run.since.timestamp() * 1000) + 24 * 3_600_000 - 1


def test_two_accounts_in_one_call_each_get_a_run(emulated):
    binance_account, _ = emulated(BINANCE)
    okx_account, okx = emulated(OKX)
    order_id = okx_account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent3")

    with pytest.raises(CommandError) as failure:
        reconcile("--exchange", "binance", "--exchange", "OKX")

    runs = {run.exchange.name: run for run in ReconciliationRun.objects.select_related("exchange")}
    assert set(runs) == {"binance", "okx"}
    assert {run.status for run in runs.values()} == {"ok"}
    assert "Reconciled 2 of 2 accounts; 1 discrepancies open." in str(failure.value)
    (drift,) = Discrepancy.objects.all()
    assert (drift.exchange, drift.kind, drift.subject) == (okx, DiscrepancyKind.MISSING_ORDER, order_id)
    assert binance_account.requests and okx_account.requests


def test_a_busy_account_is_reported_and_the_other_still_runs(emulated):
    _, binance = emulated(BINANCE)
    emulated(OKX)

    with other_session_holding_reconciliation_lock(binance), pytest.raises(CommandError) as failure:
        reconcile()

    assert "A reconciliation of binance is already running" in str(failure.value)
    assert "Reconciled 1 of 2 accounts" in str(failure.value)
    assert list(ReconciliationRun.objects.values_list("exchange__name", flat=True)) == ["okx"]


def test_a_failed_run_exits_non_zero_with_its_reason_and_no_secret(emulated):
    account, _ = emulated(BINANCE)
    account.refuse_auth()

    with pytest.raises(CommandError) as failure:
        reconcile()

    message = str(failure.value)
    assert "binance run" in message and "is failed" in message
    assert account.api_key not in message and account.secret not in message


def test_an_account_whose_credentials_no_key_decrypts_fails_and_the_others_still_run(emulated):
    _, binance = emulated(BINANCE)
    emulated(OKX)
    stranger = Fernet(Fernet.generate_key())
    Exchange.objects.filter(pk=binance.pk).update(api_secret_encrypted=stranger.encrypt(b"old").decode())

    with pytest.raises(CommandError) as failure:
        reconcile()

    assert "binance run" in str(failure.value) and "cannot be decrypted" in str(failure.value)
    statuses = dict(ReconciliationRun.objects.values_list("exchange__name", "status"))
    assert statuses == {"binance": "failed", "okx": "ok"}


def test_a_dry_run_leaves_no_run_and_no_discrepancy(emulated):
    account, _ = emulated(BINANCE)
    account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-4")

    output = reconcile("--dry-run")

    assert "[dry run, nothing changed]" in output
    assert "1 new discrepancies" in output  # the report is real
    assert not ReconciliationRun.objects.exists() and not Discrepancy.objects.exists()
    assert account.requests  # it did read the exchange
