"""trade_record: one row per trade id, a repeat is a no-op, the order must be recorded first."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.execution.models import Trade
from apps.execution.services.trades import TradeConflict, trade_record
from tests.factories import ExchangeFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def exchange():
    return ExchangeFactory(name="binance")


def record(exchange, **overrides):
    values = {
        "exchange": exchange,
        "trade_id": "t-1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "price": Decimal("100"),
        "amount": Decimal("0.5"),
        "timestamp": 1_767_225_600_000,
    }
    values.update(overrides)
    return trade_record(**values)


def test_cost_is_derived_and_the_order_linked(exchange):
    OrderFactory(id="o-1", exchange=exchange)

    result = record(exchange, order_id="o-1", fee=Decimal("0.01"), fee_currency="")

    assert result.outcome == "created"
    trade = Trade.objects.get()
    assert (trade.cost, trade.order_id, trade.fee_currency) == (Decimal("50"), "o-1", None)


def test_a_repeat_changes_nothing(exchange):
    record(exchange)

    again = record(exchange, price=Decimal("999"))

    assert again.outcome == "unchanged"
    assert Trade.objects.get().price == Decimal("100")


def test_the_same_id_for_another_exchange_or_symbol_is_a_conflict(exchange):
    record(exchange)

    with pytest.raises(TradeConflict):
        record(ExchangeFactory(name="okx"))
    with pytest.raises(TradeConflict):
        record(exchange, symbol="ETH/USDT")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"order_id": "missing"}, "order"),
        ({"amount": Decimal("0")}, "amount"),
        ({"price": Decimal("-1")}, "price"),
    ],
)
def test_refusals(exchange, overrides, field):
    with pytest.raises(ValidationError) as caught:
        record(exchange, **overrides)

    assert field in caught.value.message_dict
    assert not Trade.objects.exists()


def test_an_order_on_another_exchange_is_refused(exchange):
    OrderFactory(id="o-9", exchange=ExchangeFactory(name="kraken"))

    with pytest.raises(ValidationError, match="another exchange"):
        record(exchange, order_id="o-9")
