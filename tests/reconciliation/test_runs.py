"""Reconciliation runs against the exchange emulator, through real ccxt over real HTTP: each scenario ends
with the exact discrepancies expected and, after adopting, a record equal to the exchange's."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from apps.common import redis as shared_redis
from apps.exchanges.services import exchange_register
from apps.execution.models import Order, Trade
from apps.execution.services.orders import order_upsert
from apps.reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyState, RunStatus
from apps.reconciliation.services.adopt import discrepancies_adopt, discrepancy_adopt, discrepancy_dismiss
from apps.reconciliation.services.runs import reconciliation_run
from apps.system_events.models import SystemEvent
from tests.reconciliation.emulator import BINANCE, HOUR_MS, OKX, api_urls, now_ms

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_and_clean(settings):
    settings.EXCHANGE_CCXT_THROTTLE = False  # the emulator has no limit of its own to respect
    settings.RECONCILIATION_AUTO_ADOPT = []
    shared_redis.outage_reporter.reset()
    shared_redis.get_client().flushdb()  # this run's own Redis database: the limiter's counters
    yield
    shared_redis.get_client().flushdb()


def account_for(exchange_emulator, settings, dialect):
    account = exchange_emulator.add_account(dialect)
    settings.EXCHANGE_API_URLS = {**settings.EXCHANGE_API_URLS, dialect: api_urls(dialect, account.url)}
    exchange = exchange_register(
        name=dialect, api_key=account.api_key, api_secret=account.secret, password=account.password
    )
    account.set_balance("USDT", "100000")
    account.set_balance("BTC", "2")  # so a run reads BTC/USDT even when the record has nothing of it
    return account, exchange


@pytest.fixture
def binance(exchange_emulator, settings):
    return account_for(exchange_emulator, settings, BINANCE)


@pytest.fixture
def okx(exchange_emulator, settings):
    return account_for(exchange_emulator, settings, OKX)


def run(exchange, **options):
    return reconciliation_run(exchange=exchange, trigger="command", **options)


def open_discrepancies(exchange):
    return {
        (d.kind, d.subject): d
        for d in Discrepancy.objects.filter(exchange=exchange, state=DiscrepancyState.OPEN)
    }


def record_an_order(exchange, *, order_id, status="open", filled="0", amount="0.5", client_order_id=None):
    return order_upsert(
        exchange=exchange,
        order_id=order_id,
        client_order_id=client_order_id,
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        status=status,
        amount=Decimal(amount),
        filled=Decimal(filled),
        price=Decimal("60000"),
        timestamp=now_ms() - HOUR_MS,
    ).order


def adopt_all(exchange):
    adopted, refused = discrepancies_adopt(
        discrepancies=Discrepancy.objects.filter(exchange=exchange, state=DiscrepancyState.OPEN).order_by(
            "id"
        ),
        actor="operator-1",
    )
    assert refused == {}
    return adopted


# ---- the scenarios ----------------------------------------------------------------------------------


def test_an_agent_crash_between_placing_and_recording(binance):
    """The order and its fill are on the exchange, nothing in the record: both found, both adopted."""
    account, exchange = binance
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-7")
    trade_id = account.fill(order_id, "0.5", fee="0.0005", fee_currency="BTC")

    result = run(exchange)

    assert result.status == RunStatus.OK, result.reason
    assert set(open_discrepancies(exchange)) == {
        (DiscrepancyKind.MISSING_ORDER, order_id),
        (DiscrepancyKind.MISSING_TRADE, trade_id),
    }
    assert not Order.objects.exists() and not Trade.objects.exists()  # found, never silently fixed

    assert adopt_all(exchange) == 2
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.filled, order.client_order_id) == ("filled", Decimal("0.5"), "agent-7")
    trade = Trade.objects.get(pk=trade_id)
    assert (trade.amount, trade.price, trade.fee, trade.fee_currency) == (
        Decimal("0.5"), Decimal("60000"), Decimal("0.0005"), "BTC",
    )  # fmt: skip
    assert run(exchange).status == RunStatus.OK
    assert open_discrepancies(exchange) == {}


def test_a_missed_fill_of_a_recorded_order(binance):
    account, exchange = binance
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-8")
    record_an_order(exchange, order_id=order_id, client_order_id="agent-8")
    trade_id = account.fill(order_id, "0.2")

    run(exchange)

    found = open_discrepancies(exchange)
    assert set(found) == {
        (DiscrepancyKind.ORDER_DIFFERS, order_id),
        (DiscrepancyKind.MISSING_TRADE, trade_id),
    }
    differs = found[(DiscrepancyKind.ORDER_DIFFERS, order_id)]
    assert (
        differs.differences["filled"] == ["0E-8", "0.20000000"]
        or differs.differences["filled"][1] == "0.20000000"
    )
    assert differs.differences["status"] == ["open", "partially_filled"]
    assert differs.record_version["filled"] != differs.exchange_version["filled"]

    adopt_all(exchange)
    assert Order.objects.get(pk=order_id).status == "partially_filled"
    assert Trade.objects.filter(order_id=order_id).count() == 1


def test_partial_fills_across_runs_are_found_each_time_and_the_first_resolves(binance):
    account, exchange = binance
    order_id = account.place_order("BTC/USDT", "sell", "limit", "1", "61000", client_order_id="agent-9")
    first = account.fill(order_id, "0.3")
    run(exchange)
    adopt_all(exchange)

    second = account.fill(order_id, "0.7")
    later = run(exchange)

    assert set(open_discrepancies(exchange)) == {
        (DiscrepancyKind.STALE_OPEN_ORDER, order_id),  # partially filled in the record, filled there
        (DiscrepancyKind.MISSING_TRADE, second),
    }
    assert Trade.objects.filter(pk=first).exists()
    adopt_all(exchange)
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.filled, order.remaining) == ("filled", Decimal("1"), Decimal("0"))
    assert run(exchange).status == RunStatus.OK and open_discrepancies(exchange) == {}
    assert later.counts["new"] == 2


def test_an_order_canceled_by_the_exchange(binance):
    account, exchange = binance
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "59000", client_order_id="agent-10")
    record_an_order(exchange, order_id=order_id, client_order_id="agent-10")
    account.cancel(order_id)

    run(exchange)

    (found,) = open_discrepancies(exchange).values()
    assert (found.kind, found.subject, found.differences["status"]) == (
        DiscrepancyKind.STALE_OPEN_ORDER, order_id, ["open", "canceled"],
    )  # fmt: skip
    discrepancy_adopt(discrepancy=found, actor="operator-1")
    assert Order.objects.get(pk=order_id).status == "canceled"
    event = SystemEvent.objects.get(event_type="discrepancy_adopted")
    assert event.related_order_id == order_id and "operator-1" in event.message


def test_an_order_open_in_the_record_that_the_exchange_does_not_know(binance):
    _, exchange = binance
    record_an_order(exchange, order_id="424242", client_order_id="agent-11")

    run(exchange)

    (found,) = open_discrepancies(exchange).values()
    assert (found.kind, found.exchange_version["status"]) == (DiscrepancyKind.STALE_OPEN_ORDER, "unknown")
    with pytest.raises(Exception, match="no order 424242"):
        discrepancy_adopt(discrepancy=found, actor="operator-1")
    assert Order.objects.get(pk="424242").status == "open"  # nothing changed
    discrepancy_dismiss(discrepancy=found, reason="Placed on the testnet by mistake", actor="operator-1")
    found.refresh_from_db()
    assert (found.state, found.note, found.acted_by) == (
        "dismissed",
        "Placed on the testnet by mistake",
        "operator-1",
    )


def test_a_manual_order_is_external_and_stays_so_once_adopted(binance):
    account, exchange = binance
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.1", "58000", client_order_id="web_a1b2c3d4")

    run(exchange)

    assert set(open_discrepancies(exchange)) == {(DiscrepancyKind.EXTERNAL_ORDER, order_id)}
    adopt_all(exchange)
    assert Order.objects.get(pk=order_id).decision_id is None  # recorded, and no agent's decision claims it


def test_a_maker_rebate_is_adopted_negative(okx):
    account, exchange = okx
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent12")
    trade_id = account.fill(order_id, "0.5", fee="-0.0092", fee_currency="USDT", maker=True)

    run(exchange)
    adopt_all(exchange)

    trade = Trade.objects.get(pk=trade_id)
    assert (trade.fee, trade.fee_currency) == (Decimal("-0.0092"), "USDT")


def test_5000_fills_across_pages_each_found_once(binance, settings):
    account, exchange = binance
    account.add_trades_bulk(5_000, "BTC/USDT", start=now_ms() - 2 * HOUR_MS, step_ms=1_000)

    result = run(exchange)

    assert result.status == RunStatus.OK, result.reason
    missing = Discrepancy.objects.filter(exchange=exchange, kind=DiscrepancyKind.MISSING_TRADE)
    assert missing.count() == 5_000 == missing.values("subject").distinct().count()
    assert result.counts["fills_fetched"] == 5_000
    assert len(account.requests_to("/api/v3/myTrades")) >= 5  # 1,000 a page

    # Nothing new: one page per endpoint, and no new discrepancy.
    before = len(account.requests_to("/api/v3/myTrades"))
    again = run(exchange)
    assert again.counts["new"] == 0
    assert len(account.requests_to("/api/v3/myTrades")) - before == 1


def test_the_exchange_going_down_mid_pagination_applies_nothing_and_the_next_run_resumes(binance):
    account, exchange = binance
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-13")
    record_an_order(exchange, order_id=order_id, client_order_id="agent-13")
    fills = account.add_trades_bulk(2_500, "BTC/USDT", start=now_ms() - 3 * HOUR_MS, step_ms=1_000)
    # load_markets (4 signed calls), open orders, balances and the order history answer; then it goes down
    # while the fills are paged.
    account.go_down(after=8, mode="unavailable")

    cut_short = run(exchange)

    assert cut_short.status == RunStatus.PARTIAL
    assert "fills of BTC/USDT" in cut_short.reason or "orders of BTC/USDT" in cut_short.reason
    assert Order.objects.get(pk=order_id).status == "open" and not Trade.objects.exists()
    assert "BTC/USDT" not in cut_short.watermarks.get("fills", {})  # the window was not read whole

    account.recover()
    resumed = run(exchange)

    assert resumed.status == RunStatus.OK, resumed.reason
    missing = Discrepancy.objects.filter(exchange=exchange, kind=DiscrepancyKind.MISSING_TRADE)
    assert set(missing.values_list("subject", flat=True)) == set(fills)  # each once, none lost


def test_an_authentication_error_fails_the_run_changes_nothing_and_leaks_no_secret(binance):
    account, exchange = binance
    record_an_order(exchange, order_id="555", client_order_id="agent-14")
    account.refuse_auth()

    result = run(exchange)

    assert result.status == RunStatus.FAILED
    assert "authentication" in result.reason.lower() or "AuthenticationError" in result.reason
    assert account.secret not in result.reason and account.api_key not in result.reason
    assert "signature=" not in result.reason.replace("signature=••••", "")
    assert not Discrepancy.objects.exists()
    assert Order.objects.get(pk="555").status == "open"  # an unreadable exchange is not "no orders"


def test_a_storm_of_429s_makes_the_run_partial_then_the_next_one_completes(binance):
    account, exchange = binance
    account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-15")
    record_an_order(exchange, order_id="999", client_order_id="agent-999")
    account.rate_limit_storm(200)

    stormy = run(exchange)

    assert stormy.status in (RunStatus.PARTIAL, RunStatus.FAILED)
    assert "RateLimitExceeded" in stormy.reason or "DDoSProtection" in stormy.reason
    assert Order.objects.get(pk="999").status == "open"
    account.recover()
    assert run(exchange).status == RunStatus.OK


def test_a_skewed_clock_is_no_failure(binance):
    account, exchange = binance
    account.skew_clock(9_000)  # the exchange's clock 9 s ahead: Binance refuses requests outside recvWindow
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-16")

    result = run(exchange)

    assert result.status == RunStatus.OK, result.reason
    assert (DiscrepancyKind.MISSING_ORDER, order_id) in open_discrepancies(exchange)


def test_the_credentials_used_are_the_decrypted_ones_and_every_request_asked_the_limiter(binance):
    account, exchange = binance
    run(exchange)

    private = [r for r in account.requests if r.verified is not None]
    assert private and all(r.verified for r in private)
    assert {r.api_key for r in private} == {account.api_key}
    counted = shared_redis.get_client().keys("ratelimit:binance:*")
    assert any("myTrades" in key for key in counted) and any("openOrders" in key for key in counted)


def test_a_balance_that_moved_without_a_recorded_fill_differs(binance, settings):
    account, exchange = binance
    account.set_balance("BTC", "1")
    first = run(exchange)
    assert first.balances["total"]["BTC"] == "1.00000000"

    account.set_balance("BTC", "0.9")  # 0.1 BTC left the account with no fill and no withdrawal
    run(exchange)

    found = open_discrepancies(exchange)
    assert set(found) == {(DiscrepancyKind.BALANCE_DIFFERS, "BTC")}
    assert found[(DiscrepancyKind.BALANCE_DIFFERS, "BTC")].differences["total"] == [
        "1.00000000",
        "0.90000000",
    ]


def test_a_withdrawal_explains_a_balance_and_a_fill_moves_both_assets(binance):
    account, exchange = binance
    account.set_balance("BTC", "1")
    run(exchange)

    account.add_withdrawal("BTC", "0.2", fee="0.0005")
    account.set_balance("BTC", "0.7995")
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.1", "60000", client_order_id="agent-17")
    account.fill(order_id, "0.1", fee="0", fee_currency="BTC")
    account.set_balance("BTC", "0.8995")
    account.set_balance("USDT", "94000")
    run(exchange)
    adopt_all(exchange)  # the order and its fill
    result = run(exchange)

    assert not any(k == DiscrepancyKind.BALANCE_DIFFERS for k, _ in open_discrepancies(exchange)), (
        result.counts
    )


def test_deposits_and_withdrawals_read_become_cash_flows_once_each(binance):
    from apps.portfolio.models import CashFlow

    account, exchange = binance
    account.set_balance("USDT", "1000")
    account.set_balance("BTC", "1")
    run(exchange)  # the anchor: flows are read from here on
    # Binance dates a withdrawal to the second (applyTime); ccxt drops one dated before the anchor's moment.
    time.sleep(1.05)
    deposit = account.add_deposit("USDT", "500", txid="aa" * 32)
    withdrawal = account.add_withdrawal("BTC", "0.2", fee="0.0005")
    account.add_deposit("USDT", "70", status="pending")  # not credited yet: not a flow
    account.set_balance("USDT", "1500")
    account.set_balance("BTC", "0.7995")

    result = run(exchange)
    run(exchange)  # read again: nothing recorded twice

    flows = {f.external_id: f for f in CashFlow.objects.filter(exchange=exchange)}
    assert result.counts["cash_flows_recorded"] == 2
    assert set(flows) == {deposit, withdrawal}
    assert (flows[deposit].kind, flows[deposit].amount, flows[deposit].currency) == (
        "deposit", Decimal("500"), "USDT",
    )  # fmt: skip
    assert flows[deposit].source == "exchange" and flows[deposit].txid == "aa" * 32
    assert (flows[withdrawal].kind, flows[withdrawal].amount, flows[withdrawal].fee) == (
        "withdrawal", Decimal("0.2"), Decimal("0.0005"),
    )  # fmt: skip


def test_a_position_on_the_exchange_the_record_lacks(okx):
    account, exchange = okx
    account.set_position("BTC/USDT:USDT", contracts="3", entry_price="60000")

    result = run(exchange)

    assert result.status == RunStatus.OK, result.reason
    found = open_discrepancies(exchange)
    assert set(found) == {(DiscrepancyKind.POSITION_DIFFERS, "BTC/USDT:USDT")}
    adopt_all(exchange)
    assert run(exchange).status == RunStatus.OK and open_discrepancies(exchange) == {}


def test_auto_adopt_takes_missing_fills_and_terminal_statuses_and_nothing_else(binance, settings):
    settings.RECONCILIATION_AUTO_ADOPT = ["missing_trade", "terminal_status"]
    account, exchange = binance
    recorded = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-18")
    record_an_order(exchange, order_id=recorded, client_order_id="agent-18")
    trade_id = account.fill(recorded, "0.5")
    manual = account.place_order("BTC/USDT", "sell", "limit", "0.1", "70000", client_order_id="web_zzz")

    result = run(exchange)

    assert result.counts["adopted"] == 2
    assert Order.objects.get(pk=recorded).status == "filled"
    assert Trade.objects.filter(pk=trade_id).exists()
    assert set(open_discrepancies(exchange)) == {
        (DiscrepancyKind.EXTERNAL_ORDER, manual)
    }  # waits for a person


def test_a_dry_run_writes_nothing(binance, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    account, exchange = binance
    account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-19")

    call_command("reconcile_exchanges", "--dry-run", "-v", "0")

    assert not Discrepancy.objects.exists()
    assert not exchange.reconciliation_runs.exists()
