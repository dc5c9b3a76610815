"""order_upsert: the state machine, derived remaining, identity checks, status-change events."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.execution.models import Order, OrderStatus
from apps.execution.services.orders import OrderConflict, order_upsert
from apps.system_events.models import Severity, SystemEvent
from tests.factories import ExchangeFactory, OrderFactory

pytestmark = pytest.mark.django_db

T0 = 1_767_225_600_000


@pytest.fixture
def exchange():
    return ExchangeFactory(name="binance")


def upsert(exchange, **overrides):
    values = {
        "exchange": exchange,
        "order_id": "o-1",
        "client_order_id": "c-1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "status": "open",
        "amount": Decimal("1"),
        "price": Decimal("100"),
        "timestamp": T0,
        "actor": "trader",
    }
    values.update(overrides)
    return order_upsert(**values)


def test_create_derives_remaining_and_records_the_first_status(exchange):
    result = upsert(exchange, filled=Decimal("0.25"))

    assert result.outcome == "created"
    order = Order.objects.get(pk="o-1")
    assert (order.status, order.remaining, order.cost) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.75"), 0)
    event = SystemEvent.objects.get(related_order_id="o-1")
    assert (event.data["from"], event.data["to"], event.data["agent"]) == (None, "partially_filled", "trader")


def test_without_a_client_order_id_the_exchange_id_is_the_key(exchange):
    upsert(exchange, client_order_id=None)
    again = upsert(exchange, client_order_id=None, status="filled", filled=Decimal("1"))

    assert again.outcome == "updated"
    assert Order.objects.get().client_order_id == "o-1"


@pytest.mark.parametrize("placeholder", ["0", ""])
def test_a_placeholder_client_order_id_is_no_key(exchange, placeholder):
    # ccxt's Kraken orders placed without a client id all arrive with clientOrderId "0"
    upsert(exchange, order_id="OQCLML-1", client_order_id=placeholder)
    upsert(exchange, order_id="OB5VMB-2", client_order_id=placeholder)

    assert sorted(Order.objects.values_list("id", "client_order_id")) == [
        ("OB5VMB-2", "OB5VMB-2"),
        ("OQCLML-1", "OQCLML-1"),
    ]


def test_an_order_recorded_under_the_placeholder_earlier_is_the_same_order(exchange):
    OrderFactory(id="OQCLML-1", client_order_id="0", exchange=exchange, symbol="BTC/USDT", side="buy")

    result = upsert(exchange, order_id="OQCLML-1", client_order_id="0", status="filled", filled=Decimal("1"))

    assert (result.outcome, result.previous_status) == ("updated", "open")
    order = Order.objects.get()
    assert (order.client_order_id, order.status) == ("OQCLML-1", OrderStatus.FILLED)
    assert upsert(exchange, order_id="OB5VMB-2", client_order_id="0").outcome == "created"


def test_the_forward_path_and_an_unchanged_repeat(exchange):
    upsert(exchange, status="pending")
    upsert(exchange, status="open")
    upsert(exchange, status="open", filled=Decimal("0.5"))
    done = upsert(exchange, status="filled", filled=Decimal("1"), average=Decimal("99.5"))
    repeat = upsert(exchange, status="filled", filled=Decimal("1"), average=Decimal("99.5"))

    assert (done.outcome, done.previous_status) == ("updated", "partially_filled")
    assert repeat.outcome == "unchanged"
    assert SystemEvent.objects.filter(related_order_id="o-1").count() == 4
    assert Order.objects.get().remaining == 0


def test_none_in_an_update_keeps_the_recorded_value(exchange):
    upsert(exchange, average=Decimal("101"), fee=Decimal("0.1"), fee_currency="USDT")

    upsert(exchange, filled=Decimal("0.1"))

    order = Order.objects.get()
    assert (order.average, order.fee, order.fee_currency) == (Decimal("101"), Decimal("0.1"), "USDT")


@pytest.mark.parametrize("terminal", ["filled", "canceled", "rejected", "expired"])
def test_terminal_states_are_final(exchange, terminal):
    upsert(exchange, status=terminal, filled=Decimal("1") if terminal == "filled" else Decimal("0"))

    with pytest.raises(OrderConflict, match="final state"):
        upsert(exchange, status="open")

    assert Order.objects.get().status == terminal


def test_the_filled_amount_never_decreases(exchange):
    upsert(exchange, filled=Decimal("0.6"))

    with pytest.raises(OrderConflict, match="never decreases") as caught:
        upsert(exchange, filled=Decimal("0.5"))

    assert caught.value.field == "filled"
    assert Order.objects.get().filled == Decimal("0.6")


def test_no_going_back_to_an_earlier_state(exchange):
    upsert(exchange, status="open")

    with pytest.raises(OrderConflict, match="cannot go back"):
        upsert(exchange, status="pending")


def test_a_terminal_order_keeps_its_amount(exchange):
    upsert(exchange, status="canceled")

    with pytest.raises(OrderConflict, match="amount"):
        upsert(exchange, status="canceled", amount=Decimal("2"))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"order_id": "o-2"}, "is order o-1"),
        ({"symbol": "ETH/USDT"}, "cannot make it"),
        ({"side": "sell"}, "cannot make it"),
    ],
)
def test_a_client_order_id_names_one_order(exchange, overrides, match):
    upsert(exchange)

    with pytest.raises(OrderConflict, match=match):
        upsert(exchange, **overrides)


def test_the_same_exchange_id_under_another_client_order_id_is_a_conflict(exchange):
    upsert(exchange)

    with pytest.raises(OrderConflict, match="already recorded with client_order_id"):
        upsert(exchange, client_order_id="c-other")

    assert Order.objects.count() == 1


def test_another_exchange_is_a_conflict(exchange):
    upsert(exchange)

    with pytest.raises(OrderConflict, match="recorded on binance"):
        upsert(ExchangeFactory(name="okx"))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": Decimal("0")}, "amount"),
        ({"filled": Decimal("-1")}, "filled"),
        ({"filled": Decimal("2")}, "filled"),
        ({"status": "partially_filled", "filled": Decimal("0")}, "status"),
    ],
)
def test_inconsistent_amounts_are_refused(exchange, overrides, field):
    with pytest.raises(ValidationError) as caught:
        upsert(exchange, **overrides)

    assert field in caught.value.message_dict
    assert not Order.objects.exists()


def test_rejected_and_expired_are_warnings(exchange):
    upsert(exchange, status="rejected")

    assert SystemEvent.objects.get().severity == Severity.WARNING
