"""Bad input at the model level fails cleanly: the database refuses it (CHECK lists, NOT NULL,
UNIQUE, NUMERIC precision), full_clean names the field, and a failed write leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DataError, IntegrityError, transaction

from apps.decisions.models import Decision
from apps.execution.models import Order, Position, Trade
from apps.memory.models import Experience
from apps.portfolio.models import PortfolioSnapshot
from apps.strategies.models import Strategy
from apps.system_events.models import SystemEvent
from tests.factories import (
    DecisionFactory,
    ExchangeFactory,
    ExperienceFactory,
    OrderFactory,
    PortfolioSnapshotFactory,
    PositionFactory,
    StrategyFactory,
    SystemEventFactory,
    TradeFactory,
)

pytestmark = pytest.mark.django_db


# Unsaved rows, valid except for what a test changes; their foreign keys point at saved rows.
# Computed amounts are given at the columns' 8 decimal places, as a service would round them.
def _order(**fields) -> Order:
    return OrderFactory.build(exchange=ExchangeFactory(), **fields)


def _trade(**fields) -> Trade:
    order = OrderFactory()
    return TradeFactory.build(
        **{"order": order, "exchange": order.exchange, "cost": Decimal("450.00000000"), **fields}
    )


def _position(**fields) -> Position:
    return PositionFactory.build(
        **{
            "exchange": ExchangeFactory(),
            "unrealized_pnl": Decimal("5.00000000"),
            "value": Decimal("55.00000000"),
            **fields,
        }
    )


def _snapshot(**fields) -> PortfolioSnapshot:
    return PortfolioSnapshotFactory.build(**{"exchange": ExchangeFactory(), **fields})


BUILDERS = {
    "orders": _order,
    "trades": _trade,
    "positions": _position,
    "portfolio_snapshots": _snapshot,
    "decisions": DecisionFactory.build,
    "experiences": ExperienceFactory.build,
    "strategies": StrategyFactory.build,
    "system_events": SystemEventFactory.build,
}


def _raw_save_fails(instance, error=IntegrityError) -> None:
    """Saving straight to the database (no validation) is refused, and the row is not there."""
    model = type(instance)
    before = model.objects.count()
    with pytest.raises(error), transaction.atomic():
        instance.save(force_insert=True)
    assert model.objects.count() == before


def _full_clean_names(instance, field: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    assert field in caught.value.message_dict, caught.value.message_dict
    return caught.value


@pytest.mark.parametrize("table", BUILDERS)
def test_a_valid_row_passes_full_clean_and_saves(table):
    """The control for every test below: what they change is the only thing wrong."""
    instance = BUILDERS[table]()
    instance.full_clean()
    instance.save(force_insert=True)
    assert type(instance).objects.filter(pk=instance.pk).exists()


# --- CHECK lists ---------------------------------------------------------------------------------

OUTSIDE_CHECK_LISTS = [
    ("orders", "side", "long"),
    ("orders", "type", "trailing_stop"),
    ("orders", "status", "done"),
    ("trades", "side", "BUY"),  # the lists are case-sensitive
    ("positions", "side", "short"),
    ("system_events", "severity", "debug"),
    ("experiences", "outcome", "breakeven"),
    ("decisions", "decision_layer", "operational"),
]


@pytest.mark.parametrize(("table", "field", "value"), OUTSIDE_CHECK_LISTS)
def test_a_value_outside_the_check_list_is_refused_by_the_database(table, field, value):
    _raw_save_fails(BUILDERS[table](**{field: value}))


@pytest.mark.parametrize(("table", "field", "value"), OUTSIDE_CHECK_LISTS)
def test_a_value_outside_the_check_list_fails_full_clean_on_its_field(table, field, value):
    error = _full_clean_names(BUILDERS[table](**{field: value}), field)
    assert value in " ".join(error.message_dict[field])


def test_the_check_constraint_message_lists_the_allowed_values():
    with pytest.raises(ValidationError) as caught:
        _order(status="done").validate_constraints()
    assert "status must be one of: pending, open, partially_filled, filled" in str(caught.value)


# --- NOT NULL ------------------------------------------------------------------------------------

NOT_NULL = [
    ("orders", "symbol"),
    ("orders", "amount"),
    ("orders", "datetime"),
    ("trades", "price"),
    ("trades", "cost"),
    ("positions", "entry_price"),
    ("positions", "opened_at"),
    ("portfolio_snapshots", "cash"),
    ("portfolio_snapshots", "snapshot_date"),
    ("decisions", "input_context"),
    ("decisions", "thought_process"),
    ("experiences", "situation"),
    ("experiences", "decision_reasoning"),
    ("strategies", "config"),
    ("system_events", "message"),
    ("system_events", "timestamp"),
]


def _without(table: str, field: str):
    instance = BUILDERS[table]()
    setattr(instance, field, None)
    return instance


@pytest.mark.parametrize(("table", "field"), NOT_NULL)
def test_null_where_the_seed_says_not_null_is_refused_by_the_database(table, field):
    _raw_save_fails(_without(table, field))


@pytest.mark.parametrize(("table", "field"), NOT_NULL)
def test_null_where_the_seed_says_not_null_fails_full_clean_on_its_field(table, field):
    _full_clean_names(_without(table, field), field)


def test_an_exchange_without_credentials_is_refused_by_the_database():
    exchange = ExchangeFactory.build(name="nocreds", api_key_encrypted=None)
    _raw_save_fails(exchange)


# --- UNIQUE --------------------------------------------------------------------------------------


def test_a_duplicate_client_order_id_is_refused():
    first = OrderFactory(client_order_id="cli-dup")
    duplicate = _order(client_order_id="cli-dup")
    _raw_save_fails(duplicate)
    _full_clean_names(duplicate, "client_order_id")
    assert list(Order.objects.filter(client_order_id="cli-dup")) == [first]


def test_a_duplicate_strategy_version_is_refused_but_a_new_version_is_not():
    StrategyFactory(name="mean-reversion", version="1.0.0")
    duplicate = StrategyFactory.build(name="mean-reversion", version="1.0.0")
    _raw_save_fails(duplicate)
    error = _full_clean_names(duplicate, NON_FIELD_ERRORS)
    assert "Name and Version already exists" in str(error)

    StrategyFactory(name="mean-reversion", version="1.1.0")
    assert Strategy.objects.filter(name="mean-reversion").count() == 2


def test_a_second_snapshot_for_the_same_exchange_and_day_is_refused():
    first = PortfolioSnapshotFactory(snapshot_date=date(2026, 2, 1))
    duplicate = PortfolioSnapshotFactory.build(exchange=first.exchange, snapshot_date=date(2026, 2, 1))
    _raw_save_fails(duplicate)
    _full_clean_names(duplicate, NON_FIELD_ERRORS)
    # The same day on another exchange is a different snapshot.
    PortfolioSnapshotFactory(snapshot_date=date(2026, 2, 1))
    assert PortfolioSnapshot.objects.filter(snapshot_date=date(2026, 2, 1)).count() == 2


def test_a_second_open_position_for_the_same_exchange_and_symbol_is_refused():
    first = PositionFactory(symbol="BTC/USDT")
    second = PositionFactory.build(exchange=first.exchange, symbol="BTC/USDT")
    _raw_save_fails(second)
    error = _full_clean_names(second, NON_FIELD_ERRORS)
    assert "An open position for this exchange and symbol already exists." in str(error)
    # The same symbol on another exchange is another position.
    PositionFactory(symbol="BTC/USDT")


def test_closed_positions_for_the_same_exchange_and_symbol_may_repeat():
    """The seed's UNIQUE(exchange_id, symbol, is_open) would refuse the second closed position."""
    exchange = ExchangeFactory()
    closed_at = datetime(2026, 1, 2, tzinfo=UTC)
    for _ in range(2):
        closed = _position(exchange=exchange, symbol="ETH/USDT", is_open=False, closed_at=closed_at)
        closed.full_clean()
        closed.save()
    PositionFactory(exchange=exchange, symbol="ETH/USDT")
    assert Position.objects.filter(exchange=exchange, symbol="ETH/USDT").count() == 3


# --- Ranges and NUMERIC precision -----------------------------------------------------------------


@pytest.mark.parametrize("score", [Decimal("1.01"), Decimal("-0.01"), Decimal("5")])
def test_importance_score_outside_zero_to_one_fails_full_clean(score):
    _full_clean_names(ExperienceFactory.build(importance_score=score), "importance_score")


@pytest.mark.parametrize("score", [Decimal("0"), Decimal("0.5"), Decimal("1")])
def test_importance_score_bounds_are_allowed(score):
    experience = ExperienceFactory.build(importance_score=score)
    experience.full_clean()
    experience.save()
    assert Experience.objects.get(pk=experience.pk).importance_score == score


@pytest.mark.parametrize(
    ("table", "field", "value"),
    [
        ("orders", "amount", Decimal(10**13)),  # NUMERIC(20, 8): at most 12 digits before the point
        ("orders", "price", Decimal(10**12)),
        ("positions", "unrealized_pnl_percentage", Decimal(10**6)),  # NUMERIC(10, 4)
        ("strategies", "win_rate", Decimal(1000)),  # NUMERIC(5, 2)
        ("experiences", "importance_score", Decimal(10)),  # NUMERIC(3, 2)
    ],
)
def test_a_number_too_large_for_its_column_is_refused(table, field, value):
    _raw_save_fails(BUILDERS[table](**{field: value}), error=DataError)
    _full_clean_names(BUILDERS[table](**{field: value}), field)


def test_the_largest_amount_the_column_holds_is_kept_exactly():
    largest = Decimal("999999999999.99999999")
    order = _order(amount=largest)
    order.full_clean()
    order.save()
    assert Order.objects.get(pk=order.pk).amount == largest


def test_more_decimal_places_than_the_column_keeps_fails_full_clean():
    """The database would round 0.123456789 to 0.12345679 without a word; validation says so."""
    _full_clean_names(_order(amount=Decimal("0.123456789")), "amount")


# --- Nothing half-written -------------------------------------------------------------------------


def test_a_batch_whose_last_row_is_bad_leaves_no_row():
    exchange = ExchangeFactory()
    batch = [
        OrderFactory.build(exchange=exchange, id="batch-1", client_order_id="batch-cli-1"),
        OrderFactory.build(exchange=exchange, id="batch-2", client_order_id="batch-cli-2"),
        OrderFactory.build(exchange=exchange, id="batch-3", client_order_id="batch-cli-3", side="long"),
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        for order in batch:
            order.save(force_insert=True)
    assert not Order.objects.filter(id__startswith="batch-").exists()


def test_a_bulk_create_whose_last_row_is_bad_leaves_no_row():
    exchange = ExchangeFactory()
    batch = [
        OrderFactory.build(exchange=exchange, id=f"bulk-{n}", client_order_id=f"bulk-cli-{n}")
        for n in range(3)
    ]
    batch[-1].status = "done"
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.bulk_create(batch)
    assert not Order.objects.filter(id__startswith="bulk-").exists()


def test_a_write_across_tables_that_fails_at_the_end_leaves_nothing():
    """A decision, its order and the fill, where the fill overflows its column."""
    exchange = ExchangeFactory()
    with pytest.raises(DataError), transaction.atomic():
        decision = DecisionFactory(id="dec-atomic")
        order = OrderFactory(exchange=exchange, id="ord-atomic", decision_id=decision.id)
        TradeFactory(order=order, id="trd-atomic", cost=Decimal(10**13))
    assert not Decision.objects.filter(id="dec-atomic").exists()
    assert not Order.objects.filter(id="ord-atomic").exists()
    assert not Trade.objects.filter(id="trd-atomic").exists()


@pytest.mark.django_db(transaction=True)
def test_a_dangling_foreign_key_fails_the_commit_and_leaves_nothing():
    """Foreign keys are checked at commit (DEFERRABLE INITIALLY DEFERRED): the whole transaction
    goes, not only the bad row."""
    exchange = ExchangeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(exchange=exchange, id="fk-1", client_order_id="fk-cli-1")
        OrderFactory(exchange=exchange, id="fk-2", client_order_id="fk-cli-2")
        SystemEventFactory(id="fk-event")
        trade = _trade(id="fk-trade")
        trade.order_id = "no-such-order"
        trade.save(force_insert=True)
    assert not Order.objects.exists()
    assert not SystemEvent.objects.filter(id="fk-event").exists()
    assert not Trade.objects.filter(id="fk-trade").exists()
