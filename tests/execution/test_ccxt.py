"""apps.execution.ccxt: ccxt's words in the seed's, and the refusals, as every reader of ccxt gets them."""

from decimal import Decimal

import pytest

from apps.execution import ccxt
from apps.execution.models import OrderStatus, OrderType, Side

D = Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("open", OrderStatus.OPEN),
        ("closed", OrderStatus.FILLED),
        ("canceled", OrderStatus.CANCELED),
        ("cancelled", OrderStatus.CANCELED),
        ("expired", OrderStatus.EXPIRED),
        ("rejected", OrderStatus.REJECTED),
        ("NEW", OrderStatus.OPEN),
        ("partially-filled", OrderStatus.PARTIALLY_FILLED),
        (" Partially Filled ", OrderStatus.PARTIALLY_FILLED),
        ("pending", OrderStatus.PENDING),
    ],
)
def test_statuses(value, expected):
    assert ccxt.order_status(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("limit", OrderType.LIMIT),
        ("market", OrderType.MARKET),
        ("limit_maker", OrderType.LIMIT),
        ("post_only", OrderType.LIMIT),
        ("stop-loss", OrderType.STOP_LOSS),
        ("stop_market", OrderType.STOP_LOSS),
        ("stop-limit", OrderType.STOP_LOSS_LIMIT),
        ("take_profit_market", OrderType.TAKE_PROFIT),
        ("take-profit-limit", OrderType.TAKE_PROFIT_LIMIT),
    ],
)
def test_order_types(value, expected):
    assert ccxt.order_type(value) == expected


def test_sides_and_position_sides():
    assert ccxt.side("BUY") == Side.BUY and ccxt.side("sell") == Side.SELL
    assert ccxt.position_side("long") == Side.BUY and ccxt.position_side("short") == Side.SELL
    with pytest.raises(ccxt.VocabularyError, match=r"^'long' is not one of: buy, sell\.$"):
        ccxt.side("long")


@pytest.mark.parametrize(
    ("term", "value", "message"),
    [
        (ccxt.order_status, "sideways", "'sideways' is not one of: pending, open, partially_filled,"),
        (ccxt.order_type, "trailing_stop", "'trailing_stop' is not one of: market, limit, stop_loss,"),
        (ccxt.order_type, None, "'None' is not one of"),
        (ccxt.side, 5, "'5' is not one of: buy, sell."),
    ],
)
def test_unknown_words_are_refused_naming_what_is_accepted(term, value, message):
    with pytest.raises(ccxt.VocabularyError) as refused:
        term(value)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", None), ("", None), ("  ", None), (0, None), (None, None), ("agent-1", "agent-1"), (7, 7)],
)
def test_placeholder_client_order_ids_are_absent(value, expected):
    assert ccxt.client_order_id(value) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"fee": {"cost": 0.0012, "currency": "BNB", "rate": 0.001}}, (D("0.0012"), "BNB")),
        ({"fee": {"cost": "-0.0092", "currency": "USDT"}}, (D("-0.0092"), "USDT")),  # a maker rebate
        ({"fee": D("0.5"), "fee_currency": "USDT"}, (D("0.5"), "USDT")),
        ({"fee": {"cost": "1", "currency": "BNB"}, "fee_currency": "USDT"}, (D("1"), "USDT")),
        (
            {"fees": [{"cost": "0.1", "currency": "USDT"}, {"cost": 0.05, "currency": "USDT"}]},
            (D("0.15"), "USDT"),
        ),
        (
            {"fees": [{"cost": "0.1", "currency": "USDT"}, {"cost": "0", "currency": "BNB"}]},
            (D("0.1"), "USDT"),
        ),
        ({"fees": [{"cost": "0", "currency": "USDT"}]}, (D("0"), "USDT")),
        ({"fee": {"cost": None}, "fees": [{"cost": "0.2", "currency": "BTC"}]}, (D("0.2"), "BTC")),
        (
            {"fee": {"cost": "0.3", "currency": "BTC"}, "fees": [{"cost": "9", "currency": "ETH"}]},
            (D("0.3"), "BTC"),
        ),
        ({"fees": [{"cost": None, "currency": "USDT"}]}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_fee_and_fees_become_one_cost_and_currency(kwargs, expected):
    assert ccxt.fee(**kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"fees": [{"cost": "0.1", "currency": "USDT"}, {"cost": "0.001", "currency": "BNB"}]},
            "`fees` are in several currencies (BNB, USDT); the seed records one fee. "
            "Send `fee: {cost, currency}` with the one to record.",
        ),
        ({"fees": ["0.1"]}, "`fees` must be a list of {cost, currency}."),
        ({"fees": "0.1"}, "`fees` must be a list of {cost, currency}."),
        ({"fee": {"cost": "abc"}}, "'abc' is not a number."),
        ({"fee": True}, "'True' is not a number."),
        ({"fee": "NaN"}, "'NaN' is not a finite number."),
    ],
)
def test_fees_without_one_meaning_are_refused_saying_why(kwargs, message):
    with pytest.raises(ccxt.VocabularyError) as refused:
        ccxt.fee(**kwargs)
    assert str(refused.value) == message
