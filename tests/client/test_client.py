"""tradeoffice-client against a live TradeOffice over real HTTP: every family answers, writes carry an
Idempotency-Key, 503s are waited out, refusals are raised with the API's field errors, money stays exact."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from tradeoffice_client import (
    AsyncTradeOffice,
    AuthenticationError,
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    RetryPolicy,
    TradeOffice,
    Unreachable,
    ValidationError,
)

from apps.decisions.models import Decision
from apps.execution.models import Order, Trade
from apps.memory.models import Experience
from tests.factories import (
    DiscrepancyFactory,
    PerformanceMetricsFactory,
    PositionFactory,
    StrategyFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

DECISION = {
    "decision_layer": "tactical",
    "input_context": {"symbol": "BTC/USDT", "price": "45000.1", "rsi_1h": 27.5},
    "thought_process": "RSI oversold and funding negative.",
    "decision": "Buy 0.012 BTC at 45000.1",
}


def ccxt_order(order_id: str, **fields):
    return {
        "id": order_id,
        "clientOrderId": f"c-{order_id}",
        "timestamp": 1767225600000,
        "status": "open",
        "symbol": "BTC/USDT",
        "type": "limit",
        "side": "buy",
        "price": Decimal("45000.1"),
        "amount": Decimal("0.012"),
        "filled": Decimal("0"),
        **fields,
    }


def ccxt_trade(trade_id: str, order_id: str, amount: str):
    return {
        "id": trade_id,
        "order": order_id,
        "timestamp": 1767225630000,
        "symbol": "BTC/USDT",
        "side": "buy",
        "price": "45000.1",
        "amount": amount,
        "fee": {"cost": "0.000001", "currency": "BTC"},
    }


@pytest.fixture
def office(live_server, agent):
    with TradeOffice(live_server.url, agent.token, retry=RetryPolicy(retries=2, backoff=0.05)) as client:
        yield client


def test_a_decision_is_recorded_once_whatever_the_retries(office):
    first = office.decisions.create(DECISION, id="dec-1", idempotency_key="k-1")
    again = office.decisions.create(DECISION, id="dec-1", idempotency_key="k-1")

    assert again == first
    assert Decision.objects.filter(pk="dec-1").count() == 1
    with pytest.raises(IdempotencyKeyReused) as refused:
        office.decisions.create({**DECISION, "decision": "Sell"}, id="dec-1", idempotency_key="k-1")
    assert refused.value.status == 409
    assert office.decisions.get("dec-1")["decision"] == DECISION["decision"]


def test_bad_input_is_raised_with_the_apis_field_errors_and_nothing_is_recorded(office, binance):
    with pytest.raises(ValidationError) as refused:
        office.decisions.create(DECISION, decision_layer="sideways")
    assert "decision_layer" in refused.value.field_errors
    assert "sideways" in str(refused.value.field_errors["decision_layer"])

    with pytest.raises(ValidationError) as batch:
        office.orders.record(
            [ccxt_order("1"), ccxt_order("2", side="hold"), ccxt_order("3", amount="-1")], exchange="binance"
        )
    assert set(batch.value.field_errors) == {"1", "2"}
    assert "side" in batch.value.field_errors["1"]
    assert "amount" in batch.value.field_errors["2"]
    assert Order.objects.count() == 0 and Decision.objects.count() == 0


def test_orders_and_trades_in_batches_keep_every_digit(office, binance):
    office.decisions.create(DECISION, id="dec-b")
    created = office.orders.record(
        [ccxt_order("11"), ccxt_order("12")], exchange="binance", decision_id="dec-b"
    )
    assert (created["created"], created["updated"]) == (2, 0)

    # Five fills sent in chunks of two: one answer, the counts summed.
    office.batch_size = 2
    trades = [ccxt_trade(f"t{i}", "11", "0.002") for i in range(5)]
    answer = office.trades.record(trades, exchange="binance")
    assert answer["created"] == 5 and len(answer["results"]) == 5
    assert office.trades.record(trades, exchange="binance")["unchanged"] == 5
    assert Trade.objects.filter(order_id="11").count() == 5

    closed = office.orders.record(
        ccxt_order("11", status="closed", filled=0.01, cost=450.001, average=45000.1), exchange="binance"
    )
    assert closed["status"] == "filled"
    order = Order.objects.get(pk="11")
    assert order.decision_id == "dec-b"
    assert order.filled == Decimal("0.01") and order.cost == Decimal("450.001")
    with pytest.raises(Conflict) as late:
        office.orders.record(ccxt_order("11", status="open"), exchange="binance")
    assert "status" in late.value.field_errors


def test_pages_are_followed_to_the_end(office):
    for n in range(5):
        office.decisions.create(DECISION, id=f"dec-p{n}")
    seen = [d["id"] for d in office.decisions.iterate(page_size=2)]
    assert sorted(seen) == [f"dec-p{n}" for n in range(5)]


def test_every_read_family_answers(office, binance):
    StrategyFactory(name="rsi_mean_reversion", is_active=True)
    PerformanceMetricsFactory()
    PositionFactory(exchange=binance, symbol="ETH/USDT")
    DiscrepancyFactory(exchange=binance)

    assert office.health()["status"] in ("ok", "degraded")
    assert [e["name"] for e in office.exchanges.list()["results"]] == ["binance"]
    assert office.exchanges.get("binance")["name"] == "binance"
    assert office.strategies.active("rsi_mean_reversion")["is_active"] is True
    assert office.performance_metrics.list()["results"]
    assert office.positions.current(exchange="binance")["results"][0]["symbol"] == "ETH/USDT"
    assert office.reconciliation.discrepancies(state="open")["count"] == 1
    assert office.system_events.list()["results"] is not None
    with pytest.raises(NotFound):
        office.strategies.active("no_such_strategy")


def test_positions_snapshots_and_experiences(office, binance):
    opened = office.positions.upsert(
        exchange="binance",
        symbol="SOL/USDT",
        side="buy",
        amount="3",
        entry_price="100.5",
        current_price="101",
    )
    assert opened["amount"] == "3.00000000"
    closed = office.positions.close(exchange="binance", symbol="SOL/USDT", current_price="102")
    assert closed["closed_at"] is not None
    snapshot = office.portfolio_snapshots.record(
        exchange="binance", total_value="100562.70", cash="100000", positions_value="562.70"
    )
    assert snapshot["total_value"] == "100562.70000000"

    office.experiences.create(
        id="exp-1",
        symbol="BTC/USDT",
        situation="BTC oversold after a sharp drop, funding negative",
        decision="Long 0.012 BTC",
        decision_reasoning="Oversold bounces have worked.",
        outcome="success",
        pnl=Decimal("22.79"),
        tags=["btc", "oversold"],
        importance_score=0.8,
    )
    assert Experience.objects.get(pk="exp-1").pnl == Decimal("22.79")
    reviewed = office.experiences.review("exp-1", reflection="Entry was early.")
    assert reviewed["reflection"] == "Entry was early."
    with pytest.raises(ValidationError) as fixed:
        office.experiences.review("exp-1", outcome="failure")
    assert "outcome" in fixed.value.field_errors
    hits = office.memory.recall("BTC oversold, funding negative", tags=["btc"], limit=3)["results"]
    assert [hit["experience"]["id"] for hit in hits] == ["exp-1"]


def test_short_term_memory(office):
    office.memory.set_market_context("BTC/USDT", {"trend": "down", "rsi_1h": Decimal("27.5")})
    assert office.memory.market_context("BTC/USDT")["context"] == {"trend": "down", "rsi_1h": "27.5"}
    office.memory.set_tickers({"BTC/USDT": {"last": "45000.1"}, "ETH/USDT": {"last": "2500"}})
    assert set(office.memory.tickers(["BTC/USDT", "ETH/USDT"])["tickers"]) == {"BTC/USDT", "ETH/USDT"}
    office.memory.push_prices("BTC/USDT", "1h", ["45210.5", "45000.1"])
    assert office.memory.prices("BTC/USDT", "1h", limit=2)["prices"]
    decisions = [office.memory.rate_limit("binance", "create_order", limit=2, window=30) for _ in range(3)]
    assert [d["allowed"] for d in decisions] == [True, True, False]
    assert decisions[2]["retry_after"] > 0
    with pytest.raises(NotFound):
        office.memory.market_context("DOGE/USDT")


def test_a_wrong_token_is_refused_and_never_shown(live_server, agent):
    secret = "not-the-token-" + "x" * 30
    client = TradeOffice(live_server.url, secret, retry=RetryPolicy(retries=0))
    with pytest.raises(AuthenticationError) as refused:
        client.exchanges.list()
    assert refused.value.status == 401
    assert secret not in str(refused.value) and secret not in repr(refused.value)
    assert secret not in repr(client) and agent.token not in repr(TradeOffice(live_server.url, agent.token))
    client.close()


def test_503_is_retried_as_retry_after_says(gate, agent):
    office = TradeOffice(gate.url, agent.token, retry=RetryPolicy(retries=3))
    gate.busy(2)
    started = time.monotonic()
    office.decisions.create(DECISION, id="dec-busy")
    assert time.monotonic() - started >= 2.0  # Retry-After: 1, twice
    assert gate.busy_served == 2
    assert Decision.objects.filter(pk="dec-busy").count() == 1

    gate.mode = "down"
    with pytest.raises(Unreachable):
        TradeOffice(gate.url, agent.token, retry=RetryPolicy(retries=1, backoff=0.01)).exchanges.list()
    office.close()


def test_the_async_client(live_server, agent, binance):
    async def scenario():
        async with AsyncTradeOffice(live_server.url, agent.token) as office:
            await office.decisions.create(DECISION, id="dec-async")
            await office.orders.record(ccxt_order("21"), exchange="binance", decision_id="dec-async")
            seen = [o["id"] async for o in office.orders.iterate(decision_id="dec-async")]
            with pytest.raises(ValidationError) as refused:
                await office.orders.record(ccxt_order("22", side="hold"), exchange="binance")
            return seen, refused.value.field_errors

    seen, errors = asyncio.run(scenario())
    assert seen == ["21"]
    assert "side" in errors
    assert Order.objects.get(pk="21").decision_id == "dec-async"
