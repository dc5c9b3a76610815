"""Realized PnL by average cost (apps/execution/services/realized.py) against hand-computed ledgers.

Each ledger writes its arithmetic beside the fills. Fills are recorded through trade_record, positions
opened and closed through the position services, as the agent does.
"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.common.clock import to_ms
from apps.execution.models import Position
from apps.execution.services.positions import position_close, position_open_or_update
from apps.execution.services.realized import (
    Reason,
    average_cost_step,
    realized_pnl_compute,
    realized_pnl_update,
)
from apps.execution.services.trades import trade_record
from tests.factories import ExchangeFactory, PositionFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
D = Decimal


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def binance():
    return ExchangeFactory(name="binance")


class Ledger:
    """Fills of one symbol on one exchange, numbered in the order they are recorded."""

    def __init__(self, exchange, symbol="BTC/USDT"):
        self.exchange, self.symbol, self.count = exchange, symbol, 0

    def fill(self, side, amount, price, minute, fee=None, fee_currency="USDT", **extra):
        self.count += 1
        return trade_record(
            exchange=self.exchange,
            trade_id=f"{self.exchange.name}-{self.symbol}-{self.count}",
            symbol=self.symbol,
            side=side,
            price=D(price),
            amount=D(amount),
            timestamp=to_ms(at(minute)),
            fee=D(fee) if fee is not None else None,
            fee_currency=fee_currency if fee is not None else None,
            **extra,
        ).trade

    def open(self, side, amount, price, minute):
        return position_open_or_update(
            exchange=self.exchange,
            symbol=self.symbol,
            side=side,
            amount=D(amount),
            entry_price=D(price),
            current_price=D(price),
            opened_at=at(minute),
        ).position

    def close(self, position, minute, price=None):
        return position_close(
            position=position, closed_at=at(minute), current_price=D(price) if price else None
        ).position


def realized_now(position, minute):
    """The open position's figures as compute_realized_pnl would find them at that minute."""
    return realized_pnl_compute(position_ids=[position.pk], now=at(minute))[position.pk]


# --- The ledgers ---------------------------------------------------------------------------------------


def test_a_long_opened_and_closed(binance):
    """The closed BTC long of the report: in at 65,447, out at 53,911, 0.1% fees in USDT."""
    btc = Ledger(binance)
    position = btc.open("buy", "0.5", "65447", minute=0)
    btc.fill("buy", "0.5", "65447", minute=0, fee="32.7235")  # 0.5 x 65,447 = 32,723.50; fee 0.1%
    btc.fill("sell", "0.5", "53911", minute=60, fee="26.9555")  # 0.5 x 53,911 = 26,955.50; fee 0.1%

    closed = btc.close(position, minute=60, price="53911")

    # (53,911 - 65,447) x 0.5 = -5,768; fees 32.7235 + 26.9555 = 59.679; -5,768 - 59.679
    assert closed.realized_pnl == D("-5827.67900000")
    assert closed.realized_fees == D("59.67900000")
    assert (closed.realized_other_fees, closed.realized_note) == (None, None)
    assert closed.realized_at is not None
    stored = Position.objects.get(pk=position.pk)
    assert (stored.realized_pnl, stored.realized_fees) == (D("-5827.679"), D("59.679"))
    # The fills at exactly opened_at and closed_at are the position's: both ends are included.


def test_scaling_in_at_several_prices_moves_the_average(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "4", "117.5", minute=0)
    btc.fill("buy", "1", "100", minute=1)  # held 1, cost 100
    btc.fill("buy", "2", "130", minute=2)  # held 3, cost 100 + 260 = 360
    btc.fill("buy", "1", "110", minute=3)  # held 4, cost 470: average 117.50
    assert realized_now(position, 4).realized_pnl == D("0")  # nothing reduced yet, no fees: a real 0

    btc.fill("sell", "4", "125", minute=5)  # (125 - 117.50) x 4 = 30
    assert btc.close(position, minute=5).realized_pnl == D("30")


def test_partial_closes_realize_partially(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "2", "100", minute=0)
    btc.fill("buy", "2", "100", minute=1)  # held 2 at 100
    btc.fill("sell", "0.5", "120", minute=2)  # (120 - 100) x 0.5 = 10; held 1.5 at 100
    position = btc.open("buy", "1.5", "100", minute=2)
    assert realized_now(position, 3).realized_pnl == D("10")

    btc.fill("buy", "0.5", "140", minute=4)  # held 2, cost 150 + 70 = 220: average 110
    btc.fill("sell", "1", "90", minute=5)  # (90 - 110) x 1 = -20; realized 10 - 20 = -10; held 1 at 110
    position = btc.open("buy", "1", "110", minute=5)
    assert realized_now(position, 6).realized_pnl == D("-10")

    btc.fill("sell", "1", "115", minute=7)  # (115 - 110) x 1 = 5; realized -10 + 5 = -5
    closed = btc.close(position, minute=7)
    # Check by cash: bought 200 + 70 = 270, sold 60 + 90 + 115 = 265: -5.
    assert closed.realized_pnl == D("-5")


def test_fees_in_the_quote_currency_and_a_maker_rebate(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "1", "100", minute=0)
    btc.fill("buy", "1", "100", minute=0, fee="0.1")  # taker fee 0.1 USDT
    btc.fill("sell", "1", "105", minute=1, fee="-0.0525")  # maker rebate: the exchange pays 0.0525 USDT

    closed = btc.close(position, minute=1)

    # (105 - 100) x 1 = 5; fees 0.1 - 0.0525 = 0.0475; 5 - 0.0475
    assert closed.realized_pnl == D("4.9525")
    assert closed.realized_fees == D("0.0475")


def test_a_fee_in_the_base_currency_changes_the_amount_held(binance):
    btc = Ledger(binance)
    # Bought 1 BTC, the exchange kept 0.001 BTC of it as the fee: the account holds 0.999.
    btc.fill("buy", "1", "100", minute=0, fee="0.001", fee_currency="BTC")  # fee worth 0.001 x 100 = 0.1
    position = btc.open("buy", "0.999", "100", minute=0)
    assert realized_now(position, 1).realized_pnl == D("-0.1")  # held 0.999 at 100; the fee is realized

    btc.fill("sell", "0.999", "110", minute=2, fee="0.10989")  # 0.999 x 110 = 109.89; fee 0.1% in USDT
    closed = btc.close(position, minute=2)

    # (110 - 100) x 0.999 = 9.99; fees 0.1 + 0.10989 = 0.20989; 9.99 - 0.20989 = 9.78011.
    # Check by cash: paid 100 USDT, received 109.89 - 0.10989 = 109.78011.
    assert closed.realized_pnl == D("9.78011")
    assert closed.realized_fees == D("0.20989")


def test_a_fee_in_a_third_currency_is_reported_apart_and_not_converted(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "1", "100", minute=0)
    btc.fill("buy", "1", "100", minute=0, fee="0.00015", fee_currency="BNB")
    btc.fill("sell", "1", "110", minute=1, fee="0.000165", fee_currency="bnb")  # any case

    closed = btc.close(position, minute=1)

    assert closed.realized_pnl == D("10")  # (110 - 100) x 1; the BNB is not in it
    assert closed.realized_fees == D("0")
    assert closed.realized_other_fees == {"BNB": "0.00031500"}  # 0.00015 + 0.000165
    assert "BNB" in closed.realized_note and "not converted" in closed.realized_note


def test_a_fee_without_a_currency_is_reported_apart(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "1", "100", minute=0)
    btc.fill("buy", "1", "100", minute=0, fee="0.2", fee_currency=None)
    btc.fill("sell", "1", "101", minute=1)

    closed = btc.close(position, minute=1)

    assert (closed.realized_pnl, closed.realized_other_fees) == (D("1"), {"unknown": "0.20000000"})


def test_a_reversal_closes_the_long_and_opens_a_short_with_the_rest(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "2", "100", minute=0)
    btc.fill("buy", "2", "100", minute=0)  # long 2 at 100
    btc.fill("sell", "3", "110", minute=1)  # closes the long: (110 - 100) x 2 = 20; opens short 1 at 110
    position = btc.open("sell", "1", "110", minute=1)  # the same row, its side updated (the services)
    assert realized_now(position, 2).realized_pnl == D("20")

    btc.fill("buy", "1", "95", minute=3)  # covers the short: (110 - 95) x 1 = 15; realized 35
    closed = btc.close(position, minute=3)

    # Check by cash: -200 + 330 - 95 = 35.
    assert closed.realized_pnl == D("35")


def test_a_short(binance):
    eth = Ledger(binance, "ETH/USDT")
    position = eth.open("sell", "3", "52", minute=0)
    eth.fill("sell", "2", "50", minute=0, fee="0.1")  # short 2 at 50
    eth.fill("sell", "1", "56", minute=1, fee="0.056")  # short 3, proceeds 156: average 52
    eth.fill("buy", "1.5", "48", minute=2, fee="0.072")  # (52 - 48) x 1.5 = 6; short 1.5 at 52
    position = eth.open("sell", "1.5", "52", minute=2)
    # 6 realized, less the fees so far 0.1 + 0.056 + 0.072 = 0.228
    assert realized_now(position, 3).realized_pnl == D("5.772")

    eth.fill("buy", "1.5", "54", minute=4, fee="0.081")  # (52 - 54) x 1.5 = -3; trading 6 - 3 = 3
    closed = eth.close(position, minute=4)

    # fees 0.228 + 0.081 = 0.309; 3 - 0.309. By cash: 100 + 56 - 72 - 81 = 3.
    assert closed.realized_pnl == D("2.691")
    assert closed.realized_fees == D("0.309")


def test_closed_and_reopened_starts_fresh(binance):
    btc = Ledger(binance)
    first = btc.open("buy", "1", "100", minute=0)
    btc.fill("buy", "1", "100", minute=0)
    btc.fill("sell", "1", "120", minute=10)  # +20, at the very instant the next position opens
    first = btc.close(first, minute=10)
    second = btc.open("buy", "2", "90", minute=10)  # reopened at the same instant
    btc.fill("buy", "2", "90", minute=11)
    btc.fill("sell", "2", "80", minute=12)  # (80 - 90) x 2 = -20
    second = btc.close(second, minute=12)

    # The sell at minute 10 is the first position's (it closes then), not the second's.
    assert (first.realized_pnl, second.realized_pnl) == (D("20"), D("-20"))
    assert first.pk != second.pk
    # Recomputing every position finds the same.
    realized_pnl_update()
    assert list(Position.objects.order_by("opened_at", "pk").values_list("realized_pnl", flat=True)) == [
        D("20"),
        D("-20"),
    ]


def test_no_fills_keeps_realized_null_with_the_reason(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "1", "100", minute=0)

    closed = btc.close(position, minute=5, price="105")

    assert closed.realized_pnl is None and closed.realized_fees is None  # unknown, never 0
    assert "No fills of BTC/USDT" in closed.realized_note
    assert closed.unrealized_pnl == D("5")  # the close itself went through as before


# --- When the fills do not explain the position --------------------------------------------------------


def test_a_fill_before_opened_at_is_not_the_positions(binance):
    btc = Ledger(binance)
    btc.fill("buy", "1", "100", minute=-1)  # recorded before the position says it opened
    position = btc.open("buy", "1", "100", minute=0)
    btc.fill("sell", "1", "110", minute=5)

    closed = btc.close(position, minute=5)

    assert closed.realized_pnl is None
    assert "The fills leave 1 BTC short at the close" in closed.realized_note
    assert realized_pnl_compute(position_ids=[position.pk])[position.pk].reason == Reason.NOT_FLAT


def test_an_open_position_its_fills_do_not_explain(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "1.5", "100", minute=0)
    btc.fill("buy", "1", "100", minute=1)

    result = realized_now(position, 2)

    assert (result.realized_pnl, result.reason) == (None, Reason.HOLDING_DIFFERS)
    assert "hold 1 BTC long; the position says 1.5 BTC long" in result.realized_note


def test_overlapping_lives_are_not_told_apart(binance):
    btc = Ledger(binance)
    first = btc.open("buy", "1", "100", minute=0)
    btc.fill("buy", "1", "100", minute=1)
    btc.fill("sell", "1", "101", minute=3)
    btc.close(first, minute=10)
    second = btc.open("buy", "1", "100", minute=2)  # says it opened before the first closed
    btc.close(second, minute=12)

    results = realized_pnl_compute(exchange=binance)

    assert {r.reason for r in results.values()} == {Reason.OVERLAP}
    assert f"overlaps that of position {second.pk}" in results[first.pk].realized_note


def test_a_position_without_an_exchange_or_an_end_is_null_with_the_reason(binance):
    orphan = PositionFactory(exchange=None, symbol="BTC/USDT")
    endless = PositionFactory(exchange=binance, symbol="ETH/USDT", is_open=False, closed_at=None)

    results = realized_pnl_compute(position_ids=[orphan.pk, endless.pk])

    assert (results[orphan.pk].reason, results[endless.pk].reason) == (Reason.NO_EXCHANGE, Reason.NO_END)
    assert results[endless.pk].realized_note.endswith("its life has no end.")


def test_a_result_beyond_numeric_20_8_is_null_naming_it(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "10", "1", minute=0)
    btc.fill("buy", "10", "1", minute=0)
    btc.fill("sell", "10", "999999999999", minute=1, cost=D("1"))  # 10 x 999,999,999,999 - 10 >= 10^12

    closed = btc.close(position, minute=1)

    assert closed.realized_pnl is None
    assert closed.realized_note.startswith("realized_pnl 9999999999980.00000000 is out of range")


def test_fills_of_other_symbols_and_exchanges_are_not_counted(binance):
    btc = Ledger(binance)
    position = btc.open("buy", "1", "100", minute=0)
    btc.fill("buy", "1", "100", minute=0)
    Ledger(binance, "ETH/USDT").fill("sell", "5", "3000", minute=1)
    Ledger(ExchangeFactory(name="okx")).fill("sell", "1", "500", minute=1)
    btc.fill("sell", "1", "90", minute=2)

    assert btc.close(position, minute=2).realized_pnl == D("-10")


# --- The method against its plain statement ------------------------------------------------------------


def reference(fills):
    """Average cost stated fill by fill, as docs/metrics.md does: what is realized at each fill."""
    held = cost = realized = D(0)  # cost: the average cost of one unit held
    for side, amount, price in fills:
        quantity = amount if side == "buy" else -amount
        if held == 0 or (held > 0) == (quantity > 0):
            cost = (abs(held) * cost + amount * price) / (abs(held) + amount)
            held += quantity
            continue
        reduced = min(amount, abs(held))
        realized += (price - cost) * reduced * (1 if held > 0 else -1)
        held += quantity
        if held and (held > 0) == (quantity > 0):  # reversed: the rest opened at this price
            cost = price
    return held, realized


@pytest.mark.parametrize("seed", range(6))
def test_random_ledgers_match_average_cost_fill_by_fill(binance, seed):
    rng = random.Random(seed)
    btc = Ledger(binance, f"C{seed}/USDT")
    fills, held = [], D(0)
    for minute in range(40):
        side = "buy" if rng.random() < 0.5 else "sell"
        amount = D(rng.randint(1, 400)) / 100
        price = D(rng.randint(9_000, 11_000)) / 100
        fills.append((side, amount, price))
        btc.fill(side, str(amount), str(price), minute=minute + 1)
        held += amount if side == "buy" else -amount
    expected_held, expected = reference(fills)
    assert expected_held == held
    if held:
        position = btc.open("buy" if held > 0 else "sell", str(abs(held)), "100", minute=0)
        result = realized_now(position, 100)
    else:
        position = btc.close(btc.open("buy", "1", "100", minute=0), minute=41)
        result = realized_pnl_compute(position_ids=[position.pk])[position.pk]
    assert result.reason is None, result.realized_note
    assert abs(result.realized_pnl - expected) <= D("0.00000001")


def test_average_cost_step():
    # long 2 at 100 (basis 200); sell 3 at 110: the long closes, short 1 at 110 (basis -110)
    assert average_cost_step(D(2), D(200), D(-3), D(110)) == (D(-1), D(-110))
    # long 2 at 100; sell 0.5: 1.5 left at the same average (basis 150)
    assert average_cost_step(D(2), D(200), D("-0.5"), D(120)) == (D("1.5"), D("150"))
    # flat; sell 1 at 50: short 1 (basis -50)
    assert average_cost_step(D(0), D(0), D(-1), D(50)) == (D(-1), D(-50))


# --- compute_realized_pnl ------------------------------------------------------------------------------


def closed_long(exchange, symbol="BTC/USDT"):
    ledger = Ledger(exchange, symbol)
    position = ledger.open("buy", "1", "100", minute=0)
    ledger.fill("buy", "1", "100", minute=1)
    ledger.fill("sell", "1", "130", minute=2)
    return ledger.close(position, minute=3)


def test_the_command_fills_existing_rows(binance):
    position = closed_long(binance)
    Position.objects.update(realized_pnl=None, realized_fees=None, realized_at=None)  # as before 0005
    out = io.StringIO()

    call_command("compute_realized_pnl", stdout=out)

    position.refresh_from_db()
    assert position.realized_pnl == D("30") and position.realized_at is not None
    assert "1 position, 2 fills: realized PnL for 1; 1 changed." in out.getvalue()


def test_the_command_dry_run_changes_nothing_and_exchange_narrows(binance):
    btc = closed_long(binance)
    okx = closed_long(ExchangeFactory(name="okx"))
    Position.objects.update(realized_pnl=None, realized_fees=None)
    out = io.StringIO()

    call_command("compute_realized_pnl", "--dry-run", stdout=out)
    assert set(Position.objects.values_list("realized_pnl", flat=True)) == {None}
    assert "[dry run, nothing changed] 2 positions" in out.getvalue()

    call_command("compute_realized_pnl", "--exchange", "OKX", stdout=io.StringIO())
    btc.refresh_from_db()
    okx.refresh_from_db()
    assert (btc.realized_pnl, okx.realized_pnl) == (None, D("30"))


def test_the_command_counts_the_reasons_and_changes_only_what_moved(binance):
    closed_long(binance)
    Ledger(binance, "ETH/USDT").close(Ledger(binance, "ETH/USDT").open("buy", "1", "10", minute=0), minute=1)
    out = io.StringIO()

    call_command("compute_realized_pnl", stdout=out)

    assert "2 positions, 2 fills: realized PnL for 1, NULL for 1 (1 no fills); 0 changed." in out.getvalue()


def test_the_command_refuses_an_unknown_exchange(binance):
    with pytest.raises(Exception, match="Unknown exchange: kraken"):
        call_command("compute_realized_pnl", "--exchange", "kraken", stdout=io.StringIO())
