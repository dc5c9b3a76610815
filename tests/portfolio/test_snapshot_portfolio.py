"""snapshot_portfolio: the day's snapshot per exchange, from cash and open positions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.execution.models import Side
from apps.portfolio.models import PortfolioSnapshot
from tests.factories import ExchangeFactory, PortfolioSnapshotFactory, PositionFactory, TradeFactory
from tests.operations.locks import other_session_holding_lock

pytestmark = pytest.mark.django_db

D = Decimal


def snapshot(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("snapshot_portfolio", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def binance():
    exchange = ExchangeFactory(name="binance")
    PositionFactory(exchange=exchange, symbol="BTC/USDT", amount=D("0.5"), current_price=D("40000"))
    PositionFactory(exchange=exchange, symbol="ETH/USDT", amount=D("2"), current_price=D("2500"))
    PositionFactory(exchange=exchange, symbol="SOL/USDT", is_open=False)
    return exchange


def test_first_snapshot_takes_the_given_cash_and_the_open_positions(binance):
    today = timezone.now().date()
    output = snapshot("--cash", "binance=10000")

    row = PortfolioSnapshot.objects.get(exchange=binance, snapshot_date=today)
    assert row.cash == D("10000")
    assert row.positions_value == D("25000")  # 0.5 x 40000 + 2 x 2500; the closed position is left out
    assert row.total_value == D("35000")
    assert (row.total_pnl, row.total_return, row.daily_pnl) == (D(0), D(0), None)
    assert {p["symbol"] for p in row.positions} == {"BTC/USDT", "ETH/USDT"}
    assert "1 written, 0 replaced" in output


def test_cash_is_carried_forward_and_moved_by_the_trades_since(binance):
    yesterday = timezone.now().date() - timedelta(days=1)
    previous = PortfolioSnapshotFactory(
        exchange=binance,
        snapshot_date=yesterday,
        cash=D("10000"),
        total_value=D("34000"),
        datetime=timezone.now() - timedelta(days=1),
    )
    PortfolioSnapshotFactory(
        exchange=binance, snapshot_date=yesterday - timedelta(days=5), total_value=D("30000")
    )
    later = previous.datetime + timedelta(hours=1)
    # buy 0.1 BTC for 4000 + 4 USDT fee; sell 1 ETH for 2500 with the fee in BNB (no quote cash)
    TradeFactory(
        order__exchange=binance, order__symbol="BTC/USDT", order__side=Side.BUY, price=D("40000"),
        amount=D("0.1"), fee=D("4"), fee_currency="USDT", datetime=later,
    )
    TradeFactory(
        order__exchange=binance, order__symbol="ETH/USDT", order__side=Side.SELL, price=D("2500"),
        amount=D("1"), fee=D("0.01"), fee_currency="BNB", datetime=later,
    )
    # a trade before the previous snapshot is already in its cash
    TradeFactory(
        order__exchange=binance, order__side=Side.SELL, datetime=previous.datetime - timedelta(hours=1)
    )

    snapshot()

    row = PortfolioSnapshot.objects.get(exchange=binance, snapshot_date=timezone.now().date())
    assert row.cash == D("10000") - D("4000") - D("4") + D("2500")
    assert row.total_value == row.cash + D("25000")
    assert row.daily_pnl == row.total_value - D("34000")
    assert row.total_pnl == row.total_value - D("30000")  # measured from the first snapshot
    assert row.total_return == ((row.total_value - D("30000")) / D("30000") * 100).quantize(D("0.0001"))


def test_rerun_of_a_day_replaces_its_snapshot(binance):
    snapshot("--cash", "binance=10000")
    output = snapshot("--cash", "binance=12000")
    assert PortfolioSnapshot.objects.filter(exchange=binance).count() == 1
    assert PortfolioSnapshot.objects.get(exchange=binance).cash == D("12000")
    assert "0 written, 1 replaced" in output


def test_dry_run_writes_nothing(binance):
    output = snapshot("--cash", "binance=10000", "--dry-run")
    assert PortfolioSnapshot.objects.count() == 0
    assert "dry run" in output and "1 written" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exchange", "kraken"], "Unknown exchange: kraken"),
        ([], "no earlier snapshot"),  # first snapshot without cash
        (["--cash", "binance=-5"], "must not be negative"),
        (["--cash", "okx=5"], "not being snapshotted"),
        (["--cash", "binance=10", "--date", (date.today() + timedelta(days=3)).isoformat()], "in the future"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(binance, args, message):
    ExchangeFactory(name="okx", is_active=False)
    with pytest.raises(CommandError, match=message):
        snapshot(*args)
    assert PortfolioSnapshot.objects.count() == 0


def test_one_failing_exchange_writes_none(binance):
    ExchangeFactory(name="okx")  # active, no snapshot, no cash given
    with pytest.raises(CommandError, match="okx has no earlier snapshot"):
        snapshot("--cash", "binance=10000")
    assert PortfolioSnapshot.objects.count() == 0


def test_a_second_run_refuses_while_one_holds_the_lock(binance):
    with other_session_holding_lock("snapshot_portfolio"), pytest.raises(CommandError, match="Another"):
        snapshot("--cash", "binance=10000")
    assert PortfolioSnapshot.objects.count() == 0
