"""position_open_or_update and position_close: one open position per (exchange, symbol)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.execution.models import Position
from apps.execution.services.positions import position_close, position_open_or_update
from tests.factories import ExchangeFactory

pytestmark = pytest.mark.django_db

OPENED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def exchange():
    return ExchangeFactory(name="binance")


def open_or_update(exchange, **overrides):
    values = {
        "exchange": exchange,
        "symbol": "BTC/USDT",
        "side": "buy",
        "amount": Decimal("2"),
        "entry_price": Decimal("100"),
        "current_price": Decimal("110"),
        "opened_at": OPENED,
    }
    values.update(overrides)
    return position_open_or_update(**values)


def test_long_and_short_pnl_are_derived(exchange):
    long = open_or_update(exchange).position
    short = open_or_update(exchange, symbol="ETH/USDT", side="sell").position

    assert (long.unrealized_pnl, long.unrealized_pnl_percentage, long.value) == (
        Decimal("20"),
        Decimal("10"),
        Decimal("220"),
    )
    assert (short.unrealized_pnl, short.unrealized_pnl_percentage) == (Decimal("-20"), Decimal("-10"))


def test_given_figures_win_over_derived_ones(exchange):
    position = open_or_update(exchange, unrealized_pnl=Decimal("19.5"), value=Decimal("219")).position

    assert (position.unrealized_pnl, position.value) == (Decimal("19.5"), Decimal("219"))


def test_the_open_position_is_updated_not_duplicated(exchange):
    open_or_update(exchange)

    result = open_or_update(exchange, current_price=Decimal("90"))
    unchanged = open_or_update(exchange, current_price=Decimal("90"))

    assert (result.outcome, unchanged.outcome) == ("updated", "unchanged")
    assert Position.objects.count() == 1
    assert Position.objects.get().unrealized_pnl == Decimal("-20")


def test_close_sets_closed_at_and_a_new_position_can_open(exchange):
    first = open_or_update(exchange).position

    closed = position_close(
        position=first, current_price=Decimal("120"), closed_at=OPENED + timedelta(days=1)
    )
    again = position_close(position=first)
    reopened = open_or_update(exchange)

    assert (closed.outcome, again.outcome, reopened.outcome) == ("closed", "unchanged", "created")
    first.refresh_from_db()
    assert (first.is_open, first.closed_at, first.unrealized_pnl) == (
        False,
        OPENED + timedelta(days=1),
        Decimal("40"),
    )
    assert Position.objects.filter(is_open=True).count() == 1


def test_refusals(exchange):
    with pytest.raises(ValidationError, match="close the position"):
        open_or_update(exchange, amount=Decimal("0"))
    position = open_or_update(exchange).position
    with pytest.raises(ValidationError, match="before it opened"):
        position_close(position=position, closed_at=OPENED - timedelta(days=1))
    with pytest.raises(ValidationError, match="out of range"):
        open_or_update(exchange, symbol="X/Y", amount=Decimal("99999999"), current_price=Decimal("999999999"))
