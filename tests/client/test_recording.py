"""The recording ccxt wrapper against the exchange emulator (real ccxt over loopback) and a live
TradeOffice: orders and fills recorded as the exchange returned them, linked to their decision, and
nothing lost, reordered or doubled when TradeOffice is unreachable for a while."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from tradeoffice_client import AsyncTradeOffice, RetryPolicy, TradeOffice, ValidationError

from apps.decisions.models import Decision
from apps.execution.models import Order, Trade
from apps.system_events.models import SystemEvent
from tests.reconciliation.emulator import EmulatorServer, api_urls

pytestmark = pytest.mark.django_db(transaction=True)

SYMBOL = "BTC/USDT"
DECISION = {
    "decision_layer": "tactical",
    "input_context": {"symbol": SYMBOL, "price": "45000.1", "rsi_1h": 27.5},
    "thought_process": "RSI oversold and funding negative; similar setups bounced.",
    "decision": "Buy 0.012 BTC at 45000.1",
    "model_used": "gpt-4o",
}


@pytest.fixture(scope="module")
def emulator():
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def account(emulator):
    account = emulator.add_account("binance", name=f"acct{len(emulator.accounts) + 1}")
    account.set_balance("USDT", "100000")
    account.set_ticker(SYMBOL, "45000.1")
    return account


def office_at(url: str, token: str, spool) -> TradeOffice:
    return TradeOffice(url, token, retry=RetryPolicy(retries=0), spool_path=str(spool))


def statuses_of(order_id: str) -> list[str]:
    events = SystemEvent.objects.filter(related_order_id=order_id, event_type="order_status_changed")
    return [e.data["to"] for e in events.order_by("timestamp", "id")]


def test_orders_and_fills_are_recorded_and_linked_to_their_decision(
    live_server, agent, binance, account, tmp_path
):
    office = office_at(live_server.url, agent.token, tmp_path / "spool.sqlite3")
    exchange = office.record(account.client(), exchange_name="binance")

    with office.decision(DECISION) as decision:
        placed = exchange.create_order(SYMBOL, "limit", "buy", 0.012, 45000.1)
    market = exchange.create_market_buy_order(SYMBOL, 0.001)  # outside the block: no decision

    recorded = Order.objects.get(pk=placed["id"])
    assert recorded.decision_id == decision.id
    assert Decision.objects.get(pk=decision.id).decision == DECISION["decision"]
    assert recorded.client_order_id == placed["clientOrderId"]  # the wrapper's own, sent to the exchange
    assert (recorded.status, recorded.price, recorded.amount) == (
        "open",
        Decimal("45000.1"),
        Decimal("0.012"),
    )
    assert Order.objects.get(pk=market["id"]).status == "filled"
    assert Order.objects.get(pk=market["id"]).decision_id is None

    account.fill(placed["id"], "0.005", "45000.1", fee="0.000005", fee_currency="BTC")
    exchange.fetch_order(placed["id"], SYMBOL)
    recorded.refresh_from_db()
    assert (recorded.status, recorded.filled) == ("partially_filled", Decimal("0.005"))

    # A fill of an order placed on the exchange by hand, never recorded: refused by TradeOffice (the
    # order must be recorded first) and set aside with the API's reason; the others are recorded.
    stray = account.place_order(SYMBOL, "sell", "limit", "0.002", "46000")
    account.fill(stray, "0.002", "46000")
    trades = exchange.fetch_my_trades(SYMBOL)
    assert len(trades) == 3
    assert Trade.objects.filter(order_id=placed["id"]).count() == 1
    assert Trade.objects.filter(order_id=market["id"]).count() == 1
    (refused,) = office.recorder.refused()
    assert refused.kind == "trades" and refused.status == 400
    assert "order" in str(refused.error["details"])

    exchange.cancel_order(placed["id"], SYMBOL)
    assert Order.objects.get(pk=placed["id"]).status == "canceled"
    assert statuses_of(placed["id"]) == ["open", "partially_filled", "canceled"]
    assert len(office.recorder.spool) == 0
    office.close()


def test_a_refused_decision_is_raised_before_anything_is_placed(
    live_server, agent, binance, account, tmp_path
):
    office = office_at(live_server.url, agent.token, tmp_path / "spool.sqlite3")
    exchange = office.record(account.client(), exchange_name="binance")

    with pytest.raises(ValidationError) as refused, office.decision(DECISION, decision_layer="sideways"):
        exchange.create_order(SYMBOL, "limit", "buy", 0.012, 45000.1)

    assert "decision_layer" in refused.value.field_errors
    assert account.orders == {}  # the block never ran
    assert Decision.objects.count() == 0
    office.close()


def test_an_outage_loses_nothing_keeps_the_order_and_doubles_nothing(gate, agent, binance, account, tmp_path):
    spool = tmp_path / "spool.sqlite3"
    office = office_at(gate.url, agent.token, spool)
    exchange = office.record(account.client(), exchange_name="binance")

    # The decision reaches TradeOffice, but its answer is lost: it stays in the spool, to be sent again.
    gate.mode = "lose_answers"
    with office.decision(DECISION) as decision:
        gate.mode = "down"
        started = time.monotonic()
        first = exchange.create_order(SYMBOL, "limit", "buy", 0.012, 45000.1)
        account.fill(first["id"], "0.012", "45000.1", fee="0.000012", fee_currency="BTC")
        exchange.fetch_order(first["id"], SYMBOL)
        exchange.fetch_my_trades(SYMBOL)
        second = exchange.create_order(SYMBOL, "limit", "buy", 0.01, 44000)
        exchange.cancel_order(second["id"], SYMBOL)
        trading = time.monotonic() - started
    assert trading < 10  # the exchange's answers came back at once; nothing waited for TradeOffice

    assert Decision.objects.filter(pk=decision.id).count() == 1  # recorded before the answer was lost
    assert Order.objects.count() == 0 and Trade.objects.count() == 0
    assert [e.kind for e in office.recorder.spool.pending()] == [
        "decision",
        "order",
        "order",
        "trades",
        "order",
        "order",
    ]
    office.close()

    # The agent restarts while TradeOffice is still away; TradeOffice comes back; the new process replays.
    gate.mode = "up"
    restarted = office_at(gate.url, agent.token, spool)
    result = restarted.flush()

    assert (result.sent, result.refused, result.pending) == (6, 0, 0)
    assert Decision.objects.filter(pk=decision.id).count() == 1
    assert Order.objects.count() == 2
    assert Order.objects.get(pk=first["id"]).status == "filled"
    assert Order.objects.get(pk=second["id"]).status == "canceled"
    assert set(Order.objects.values_list("decision_id", flat=True)) == {decision.id}
    assert Trade.objects.filter(order_id=first["id"]).count() == 1
    # In the order they happened: an open after the fill would have been refused as a step back.
    assert statuses_of(first["id"]) == ["open", "filled"]
    assert statuses_of(second["id"]) == ["open", "canceled"]

    assert restarted.flush().sent == 0
    assert Order.objects.count() == 2 and Trade.objects.count() == 1
    restarted.close()


def test_the_async_wrapper_records_ccxt_async_support(live_server, agent, binance, account, tmp_path):
    async def scenario():
        exchange = ccxt_async.binance(
            {
                "apiKey": account.api_key,
                "secret": account.secret,
                "enableRateLimit": False,
                "urls": {"api": api_urls("binance", account.url)},
            }
        )
        async with AsyncTradeOffice(
            live_server.url, agent.token, spool_path=str(tmp_path / "s.sqlite3")
        ) as office:
            recording = office.record(exchange, exchange_name="binance")
            try:
                async with office.decision(DECISION) as decision:
                    placed = await recording.create_order(SYMBOL, "limit", "buy", 0.02, 45000.1)
                account.fill(placed["id"], "0.02", "45000.1")
                await recording.fetch_my_trades(SYMBOL)
                await recording.fetch_order(placed["id"], SYMBOL)
            finally:
                await exchange.close()
            return decision.id, placed["id"], len(office.recorder.spool)

    decision_id, order_id, pending = asyncio.run(scenario())
    order = Order.objects.get(pk=order_id)
    assert (order.decision_id, order.status, order.filled) == (decision_id, "filled", Decimal("0.02"))
    assert Trade.objects.filter(order_id=order_id).count() == 1
    assert pending == 0


def test_records_spooled_in_an_outage_reach_tradeoffice_by_themselves_when_it_is_back(
    gate, agent, binance, account, tmp_path
):
    office = TradeOffice(gate.url, agent.token, spool_path=str(tmp_path / "spool.sqlite3"), replay_every=0.2)
    exchange = office.record(account.client(), exchange_name="binance")
    gate.mode = "down"
    order = exchange.create_order(SYMBOL, "limit", "buy", 0.01, 44000)
    assert len(office.recorder.spool) == 1 and Order.objects.count() == 0

    gate.mode = "up"  # and the agent records nothing more
    deadline = time.monotonic() + 20  # the back-off after the failure, then a replay round (0.2 s apart)
    while Order.objects.filter(pk=order["id"]).count() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Order.objects.filter(pk=order["id"]).count() == 1
    assert len(office.recorder.spool) == 0
    office.close()
    assert office.recorder._replayer is None  # closing stopped the replay


def test_okx_answers_with_ids_only_and_the_record_is_completed(live_server, agent, emulator, tmp_path):
    from tests.factories import ExchangeFactory

    ExchangeFactory(name="okx")
    account = emulator.add_account("okx", name=f"okx{len(emulator.accounts) + 1}")
    account.set_balance("USDT", "100000")
    account.set_ticker(SYMBOL, "45000.1")
    office = office_at(live_server.url, agent.token, tmp_path / "spool.sqlite3")
    exchange = office.record(account.client(), exchange_name="okx")

    with office.decision(DECISION) as decision:
        placed = exchange.create_order(SYMBOL, "limit", "buy", 0.012, 45000.1)
    assert placed.get("symbol") in (None, SYMBOL) and placed["id"]  # OKX's answer: the ids, little else
    recorded = Order.objects.get(pk=placed["id"])
    assert (recorded.exchange.name, recorded.symbol, recorded.side, recorded.type) == (
        "okx",
        SYMBOL,
        "buy",
        "limit",
    )
    assert (recorded.amount, recorded.price, recorded.status) == (
        Decimal("0.012"),
        Decimal("45000.1"),
        "open",
    )
    assert recorded.decision_id == decision.id

    exchange.cancel_order(placed["id"], SYMBOL)  # answered with ids only too
    recorded.refresh_from_db()
    assert recorded.status == "canceled" and recorded.symbol == SYMBOL
    assert statuses_of(placed["id"]) == ["open", "canceled"]
    office.close()
