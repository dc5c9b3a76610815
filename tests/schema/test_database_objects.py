"""The SQL the migrations add beside the tables: updated_at triggers, the two views,
calculate_win_rate, and the database-level defaults, exercised with raw SQL as other writers would."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction

from apps.exchanges.models import Exchange
from apps.execution.models import CurrentPosition, Order, Position, TodayTrade, Trade
from apps.memory.models import Experience, Outcome
from apps.strategies.models import Strategy
from tests.factories import (
    ExchangeFactory,
    ExperienceFactory,
    OrderFactory,
    PositionFactory,
    StrategyFactory,
    TradeFactory,
)

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _one(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _transaction_start() -> datetime:
    """CURRENT_TIMESTAMP: the start of the current transaction, what the trigger writes."""
    return _one("SELECT CURRENT_TIMESTAMP")


# --- updated_at triggers --------------------------------------------------------------------------

# table, a factory for a row whose updated_at is far in the past, a raw UPDATE of another column
TRIGGER_CASES = {
    "orders": (
        lambda: OrderFactory(updated_at=LONG_AGO),
        "UPDATE orders SET status = 'filled' WHERE id = %s",
    ),
    "positions": (
        lambda: PositionFactory(updated_at=LONG_AGO),
        "UPDATE positions SET current_price = 120 WHERE id = %s",
    ),
    "experiences": (
        lambda: ExperienceFactory(updated_at=LONG_AGO),
        "UPDATE experiences SET reflection = 'Revisited.' WHERE id = %s",
    ),
    "strategies": (
        lambda: StrategyFactory(updated_at=LONG_AGO),
        "UPDATE strategies SET description = 'Tuned.' WHERE id = %s",
    ),
    "exchanges": (
        lambda: ExchangeFactory(updated_at=LONG_AGO),
        "UPDATE exchanges SET is_active = FALSE WHERE id = %s",
    ),
}


@pytest.mark.parametrize("table", TRIGGER_CASES)
def test_raw_sql_update_moves_updated_at(table):
    make_row, update = TRIGGER_CASES[table]
    row = make_row()
    assert _one(f"SELECT updated_at FROM {table} WHERE id = %s", [row.pk]) == LONG_AGO

    with connection.cursor() as cursor:
        cursor.execute(update, [row.pk])

    assert _one(f"SELECT updated_at FROM {table} WHERE id = %s", [row.pk]) == _transaction_start()


def test_an_update_that_sets_updated_at_itself_is_overruled():
    """The database owns updated_at: a writer cannot back-date it."""
    order = OrderFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders SET updated_at = %s WHERE id = %s", [LONG_AGO, order.pk])
    assert _one("SELECT updated_at FROM orders WHERE id = %s", [order.pk]) == _transaction_start()


def test_insert_does_not_fire_the_trigger():
    order = OrderFactory(updated_at=LONG_AGO)
    assert Order.objects.get(pk=order.pk).updated_at == LONG_AGO


@pytest.mark.django_db(transaction=True)
def test_updated_at_moves_past_created_at_in_a_later_transaction():
    order = OrderFactory()  # committed: autocommit, no surrounding transaction
    created = Order.objects.get(pk=order.pk)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE orders SET status = 'canceled' WHERE id = %s", [order.pk])
    updated = Order.objects.get(pk=order.pk)
    assert updated.updated_at > created.updated_at
    assert updated.updated_at > created.created_at
    assert updated.created_at == created.created_at


def test_updated_at_never_precedes_created_at_within_one_transaction():
    """An order recorded and then filled inside one transaction (a service, a test) must not read
    as updated before it was created: both columns must use the same clock."""
    order = OrderFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders SET status = 'filled' WHERE id = %s", [order.pk])
    order = Order.objects.get(pk=order.pk)
    assert order.updated_at >= order.created_at


# --- current_positions --------------------------------------------------------------------------


def test_current_positions_returns_exactly_the_open_positions():
    exchange = ExchangeFactory()
    open_positions = [
        PositionFactory(exchange=exchange, symbol="BTC/USDT"),
        PositionFactory(exchange=exchange, symbol="ETH/USDT"),
    ]
    # ETH/USDT closed twice before the current one: the deviation's point.
    PositionFactory(exchange=exchange, symbol="ETH/USDT", is_open=False, closed_at=LONG_AGO)
    PositionFactory(exchange=exchange, symbol="ETH/USDT", is_open=False, closed_at=LONG_AGO)
    PositionFactory(exchange=ExchangeFactory(), symbol="BTC/USDT", is_open=False, closed_at=LONG_AGO)

    expected = {p.pk for p in open_positions}
    assert set(CurrentPosition.objects.values_list("pk", flat=True)) == expected
    assert {row.symbol for row in CurrentPosition.objects.all()} == {"BTC/USDT", "ETH/USDT"}
    assert all(row.is_open for row in CurrentPosition.objects.all())


def test_current_positions_follows_a_close_at_once():
    position = PositionFactory()
    assert CurrentPosition.objects.filter(pk=position.pk).exists()
    Position.objects.filter(pk=position.pk).update(is_open=False, closed_at=LONG_AGO)
    assert not CurrentPosition.objects.filter(pk=position.pk).exists()


def test_current_positions_carries_every_column_of_positions():
    position = PositionFactory(stop_loss=Decimal("90.00000000"), take_profit=Decimal("130.00000000"))
    row = CurrentPosition.objects.select_related("exchange").get(pk=position.pk)
    assert row.exchange == position.exchange
    assert (row.amount, row.entry_price, row.current_price) == (
        position.amount,
        position.entry_price,
        position.current_price,
    )
    assert (row.stop_loss, row.take_profit) == (Decimal("90.00000000"), Decimal("130.00000000"))


# --- today_trades -------------------------------------------------------------------------------


def _database_today() -> date:
    """CURRENT_DATE as the view sees it (UTC: Django sets the session time zone)."""
    return _one("SELECT CURRENT_DATE")


def test_today_trades_returns_exactly_todays_trades():
    today = _database_today()
    midnight = datetime.combine(today, time.min, tzinfo=UTC)
    todays = [
        TradeFactory(datetime=midnight),
        TradeFactory(datetime=midnight + timedelta(hours=12)),
        TradeFactory(datetime=midnight + timedelta(days=1) - timedelta(microseconds=1)),
    ]
    TradeFactory(datetime=midnight - timedelta(microseconds=1))  # yesterday's last moment
    TradeFactory(datetime=midnight + timedelta(days=1))  # tomorrow's first moment
    TradeFactory(datetime=midnight - timedelta(days=30))

    assert set(TodayTrade.objects.values_list("pk", flat=True)) == {t.pk for t in todays}
    assert _one("SELECT count(*) FROM today_trades") == 3


def test_today_trades_agrees_with_the_seeds_date_test():
    """The range form returns the rows DATE(datetime) = CURRENT_DATE would."""
    today = _database_today()
    midnight = datetime.combine(today, time.min, tzinfo=UTC)
    for hours in (-25, -1, 0, 5, 23, 24, 48):
        TradeFactory(datetime=midnight + timedelta(hours=hours))
    by_seed = _one("SELECT array_agg(id ORDER BY id) FROM trades WHERE DATE(datetime) = CURRENT_DATE")
    by_view = _one("SELECT array_agg(id ORDER BY id) FROM today_trades")
    assert by_view == by_seed
    assert len(by_view) == 3


def test_today_trades_reads_its_order_and_exchange():
    order = OrderFactory()
    trade = TradeFactory(order=order, datetime=datetime.combine(_database_today(), time(9), tzinfo=UTC))
    row = TodayTrade.objects.select_related("order", "exchange").get(pk=trade.pk)
    assert row.order == order
    assert row.exchange == order.exchange
    assert row.cost == trade.cost
    assert Trade.objects.filter(pk=row.pk).exists()


# --- calculate_win_rate ---------------------------------------------------------------------------


def _experience_at(moment: datetime, outcome: Outcome) -> Experience:
    return ExperienceFactory(datetime=moment, outcome=outcome)


def _win_rate(start: date, end: date) -> Decimal:
    return _one("SELECT calculate_win_rate(%s, %s)", [start, end])


def test_calculate_win_rate_matches_a_hand_count_with_inclusive_boundaries():
    start, end = date(2026, 3, 1), date(2026, 3, 3)
    first_moment = datetime(2026, 3, 1, tzinfo=UTC)
    last_moment = datetime(2026, 3, 3, 23, 59, 59, 999999, tzinfo=UTC)
    inside = [
        _experience_at(first_moment, Outcome.SUCCESS),
        _experience_at(datetime(2026, 3, 2, 12, tzinfo=UTC), Outcome.SUCCESS),
        _experience_at(datetime(2026, 3, 2, 13, tzinfo=UTC), Outcome.FAILURE),
        _experience_at(last_moment, Outcome.SUCCESS),
    ]
    # Just outside on both sides, all failures, so counting them would change the rate.
    _experience_at(first_moment - timedelta(microseconds=1), Outcome.FAILURE)
    _experience_at(last_moment + timedelta(microseconds=1), Outcome.FAILURE)

    wins = sum(1 for e in inside if e.outcome == Outcome.SUCCESS)
    assert _win_rate(start, end) == Decimal(wins * 100) / len(inside) == Decimal("75")


def test_calculate_win_rate_of_a_single_day_and_of_thirds():
    day = date(2026, 4, 10)
    noon = datetime(2026, 4, 10, 12, tzinfo=UTC)
    _experience_at(noon, Outcome.SUCCESS)
    _experience_at(noon, Outcome.FAILURE)
    _experience_at(noon, Outcome.FAILURE)
    assert _win_rate(day, day).quantize(Decimal("0.0001")) == Decimal("33.3333")


def test_calculate_win_rate_is_zero_for_an_empty_range():
    _experience_at(datetime(2026, 5, 1, tzinfo=UTC), Outcome.SUCCESS)
    assert _win_rate(date(2026, 6, 1), date(2026, 6, 30)) == 0
    assert _win_rate(date(2026, 5, 2), date(2026, 5, 1)) == 0  # start after end: nothing in it


def test_calculate_win_rate_is_zero_when_every_experience_failed():
    _experience_at(datetime(2026, 7, 1, tzinfo=UTC), Outcome.FAILURE)
    assert _win_rate(date(2026, 7, 1), date(2026, 7, 1)) == 0


# --- database-level defaults --------------------------------------------------------------------


def _insert(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _recent(moment: datetime | None) -> bool:
    return moment is not None and abs(datetime.now(tz=UTC) - moment) < timedelta(minutes=5)


def test_orders_written_by_raw_sql_get_the_seeds_defaults():
    pk = _insert(
        "INSERT INTO orders (id, client_order_id, symbol, side, type, status, amount, timestamp, datetime) "
        "VALUES ('raw-1', 'raw-cli-1', 'BTC/USDT', 'buy', 'market', 'pending', 1, 0, now()) RETURNING id",
        [],
    )
    order = Order.objects.get(pk=pk)
    assert (order.filled, order.cost) == (Decimal("0"), Decimal("0"))
    assert _recent(order.created_at)
    assert _recent(order.updated_at)
    assert order.remaining is None  # no default in the seed


def test_experiences_written_by_raw_sql_get_the_seeds_defaults():
    pk = _insert(
        "INSERT INTO experiences (id, situation, decision, decision_reasoning, outcome, timestamp, datetime) "
        "VALUES ('raw-exp', 'Quiet market.', 'Wait.', 'No edge.', 'success', 0, now()) RETURNING id",
        [],
    )
    experience = Experience.objects.get(pk=pk)
    assert experience.importance_score == Decimal("0.50")
    assert _recent(experience.created_at)
    assert _recent(experience.updated_at)


def test_positions_written_by_raw_sql_are_open():
    exchange = ExchangeFactory()
    pk = _insert(
        "INSERT INTO positions (exchange_id, symbol, side, amount, entry_price, current_price, opened_at) "
        "VALUES (%s, 'SOL/USDT', 'buy', 1, 100, 100, now()) RETURNING id",
        [exchange.pk],
    )
    position = Position.objects.get(pk=pk)
    assert position.is_open is True
    assert _recent(position.updated_at)
    assert CurrentPosition.objects.filter(pk=pk).exists()


def test_exchanges_and_strategies_written_by_raw_sql_get_the_seeds_defaults():
    exchange_pk = _insert(
        "INSERT INTO exchanges (name, api_key_encrypted, api_secret_encrypted) "
        "VALUES ('rawex', 'x', 'y') RETURNING id",
        [],
    )
    exchange = Exchange.objects.get(pk=exchange_pk)
    assert (exchange.testnet, exchange.is_active) == (False, True)
    assert _recent(exchange.created_at)

    strategy_pk = _insert(
        "INSERT INTO strategies (name, version, config) VALUES ('raw', '1', '{}') RETURNING id", []
    )
    strategy = Strategy.objects.get(pk=strategy_pk)
    assert (strategy.is_active, strategy.total_trades) == (False, 0)
    assert _recent(strategy.created_at)


def test_rows_created_through_the_orm_get_the_database_defaults_back():
    """db_default values come back on the instance, not as an unevaluated expression."""
    order = Order.objects.create(
        id="orm-1",
        client_order_id="orm-cli-1",
        symbol="BTC/USDT",
        side="buy",
        type="market",
        status="pending",
        amount=Decimal("1"),
        timestamp=0,
        datetime=datetime.now(tz=UTC),
    )
    assert (order.filled, order.cost) == (Decimal("0"), Decimal("0"))
    assert _recent(order.created_at)
