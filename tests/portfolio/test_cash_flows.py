"""Cash flows and one reporting currency: flows recorded once, snapshots valued in one currency with the rates
they used, and returns net of every deposit and withdrawal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.portfolio.models import CashFlow, PortfolioSnapshot
from apps.portfolio.services.flows import cash_flow_record, cash_flow_transfer
from apps.portfolio.services.snapshots import portfolio_snapshot_take
from apps.strategies.services.performance import performance_metrics_compute
from tests.factories import ExchangeFactory, PositionFactory, StrategyFactory, TradeFactory

pytestmark = pytest.mark.django_db

DAY1 = date(2026, 3, 1)


def at(day: date, hour: int = 23) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def binance():
    return ExchangeFactory(name="binance")


def take(exchange, day, **kwargs):
    return portfolio_snapshot_take(exchange=exchange, snapshot_date=day, moment=at(day), **kwargs).snapshot


def test_a_deposit_is_not_a_return(binance):
    take(binance, DAY1, cash=D("10000"))
    cash_flow_record(
        exchange=binance,
        kind="deposit",
        currency="USDT",
        amount=D("5000"),
        source="api",
        moment=at(DAY1 + timedelta(days=1), 10),
    )
    second = take(binance, DAY1 + timedelta(days=1))

    assert second.cash == D("15000")  # carried forward and moved by the deposit
    assert second.net_flow == D("5000")
    assert second.daily_pnl == D("0") and second.total_pnl == D("0")
    assert second.total_return == D("0")  # the owner added money; the account earned nothing
    assert second.reporting_currency == "USDT"


def test_a_withdrawal_and_its_fee_move_cash_and_only_the_fee_is_a_loss(binance):
    take(binance, DAY1, cash=D("10000"))
    cash_flow_record(
        exchange=binance,
        kind="withdrawal",
        currency="USDT",
        amount=D("1000"),
        fee=D("1"),
        source="admin",
        moment=at(DAY1 + timedelta(days=1), 9),
    )
    second = take(binance, DAY1 + timedelta(days=1))

    assert second.cash == D("8999")
    assert second.net_flow == D("-1000")
    assert second.daily_pnl == D("-1")  # the fee is a cost of the account
    assert second.total_return == D("-0.0100")  # -1 on 10,000, in percent


def test_time_weighted_total_return_chains_the_days_around_a_flow(binance):
    take(binance, DAY1, cash=D("1000"))
    take(binance, DAY1 + timedelta(days=1), cash=D("1100"))  # +10%
    cash_flow_record(
        exchange=binance,
        kind="deposit",
        currency="USDT",
        amount=D("900"),
        source="api",
        moment=at(DAY1 + timedelta(days=2), 8),
    )
    third = take(binance, DAY1 + timedelta(days=2), cash=D("1800"))  # 1,100 + 900 deposited - 200 lost
    # (1800 - 900) / 1100 - 1 = -18.18%; chained with +10%: 1.1 x 0.8181... - 1 = -10%.
    assert third.daily_pnl == D("-200")
    assert third.total_return == D("-10.0000")
    assert third.total_pnl == D("-100")


def test_a_position_quoted_in_another_currency_is_converted_at_a_recorded_rate(binance):
    PositionFactory(exchange=binance, symbol="ETH/BTC", amount=D("10"), current_price=D("0.05"), value=None)
    TradeFactory(
        order__exchange=binance,
        order__symbol="BTC/USDT",
        price=D("60000"),
        amount=D("0.01"),
        datetime=at(DAY1, 20),
    )
    row = take(binance, DAY1, cash=D("100"))

    (position,) = row.positions
    assert position["quote_value"] == "0.50000000" and position["value"] == "30000.00000000"
    assert row.total_value == D("30100")
    assert row.rates["BTC"]["rate"] == "60000.00000000"
    assert (
        row.rates["BTC"]["source"].startswith("fill ") and "BTC/USDT on binance" in row.rates["BTC"]["source"]
    )


def test_a_missing_rate_is_an_error_naming_the_currency_and_writes_nothing(binance):
    PositionFactory(exchange=binance, symbol="ETH/BTC", amount=D("10"), current_price=D("0.05"), value=None)
    with pytest.raises(ValidationError) as refused:
        take(binance, DAY1, cash=D("100"))
    message = refused.value.message_dict["exchange"][0]
    assert "ETH/BTC" in message and "no USDT rate for BTC" in message and "--rate BTC=PRICE" in message
    assert not PortfolioSnapshot.objects.exists()

    out = StringIO()
    call_command(
        "snapshot_portfolio",
        "--date",
        DAY1.isoformat(),
        "--cash",
        "binance=100",
        "--rate",
        "BTC=50000",
        stdout=out,
        stderr=StringIO(),
    )
    row = PortfolioSnapshot.objects.get()
    assert row.total_value == D("25100") and row.rates["BTC"] == {"rate": "50000", "source": "given"}
    assert "rates BTC 50000 (given)" in out.getvalue()


def test_the_command_refuses_a_rate_that_is_not_positive(binance):
    with pytest.raises(CommandError, match="must be positive"):
        call_command("snapshot_portfolio", "--cash", "binance=100", "--rate", "BTC=0", stderr=StringIO())


def test_a_btc_deposit_is_valued_at_the_snapshots_rate(binance):
    take(binance, DAY1, cash=D("1000"), rates={"BTC": D("60000")})
    cash_flow_record(
        exchange=binance,
        kind="deposit",
        currency="BTC",
        amount=D("0.1"),
        source="api",
        moment=at(DAY1 + timedelta(days=1), 5),
    )
    second = take(binance, DAY1 + timedelta(days=1), rates={"BTC": D("61000")})
    assert second.net_flow == D("6100")
    assert second.cash == D("1000")  # the BTC is a holding, not cash


def test_flows_are_recorded_once_per_external_id_and_bad_ones_are_refused(binance):
    first = cash_flow_record(
        exchange=binance, kind="deposit", currency="usdt", amount="100", source="api", external_id="tx-1"
    )
    again = cash_flow_record(
        exchange=binance, kind="deposit", currency="USDT", amount="100", source="api", external_id="tx-1"
    )
    assert first.created and not again.created and CashFlow.objects.count() == 1
    assert first.flow.currency == "USDT"
    for bad, field in (
        ({"amount": "-5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"kind": "gift"}, "kind"),
        ({"currency": " "}, "currency"),
        ({"fee": "1"}, "fee"),  # a deposit carries no fee
        ({"moment": timezone.now() + timedelta(days=1)}, "datetime"),
    ):
        arguments = {
            "exchange": binance,
            "kind": "deposit",
            "currency": "USDT",
            "amount": "10",
            "source": "api",
            **bad,
        }
        with pytest.raises(ValidationError) as refused:
            cash_flow_record(**arguments)
        assert field in refused.value.message_dict
    assert CashFlow.objects.count() == 1


def test_a_transfer_between_accounts_leaves_the_portfolio_flat(binance):
    okx = ExchangeFactory(name="okx")
    out, into = cash_flow_transfer(
        from_exchange=binance, to_exchange=okx, currency="USDT", amount=D("300"), fee=D("1"), source="admin"
    )
    assert (out.kind, into.kind, out.transfer_group) == ("transfer_out", "transfer_in", into.transfer_group)
    assert out.fee == D("1") and into.fee is None
    with pytest.raises(ValidationError):
        cash_flow_transfer(
            from_exchange=binance, to_exchange=binance, currency="USDT", amount=D("1"), source="api"
        )


def test_performance_metrics_are_net_of_flows(binance):
    strategy = StrategyFactory(name="flows", version="1", config={})
    take(binance, DAY1, cash=D("1000"))
    take(binance, DAY1 + timedelta(days=1), cash=D("1100"))
    cash_flow_record(
        exchange=binance,
        kind="deposit",
        currency="USDT",
        amount=D("10000"),
        source="api",
        moment=at(DAY1 + timedelta(days=2), 1),
    )
    take(binance, DAY1 + timedelta(days=2), cash=D("11210"))  # +1% on 11,100... of the 1,100 it had: +10%
    row = performance_metrics_compute(
        strategy=strategy, start_date=DAY1, end_date=DAY1 + timedelta(days=2)
    ).row
    # Returns: +10%, then (11210 - 10000) / 1100 - 1 = +10%: 21% in all, not the 1,021% of the raw values.
    assert row.total_return == D("21.0000")
    assert row.max_drawdown == D("0")
    conventions = row.daily_returns["conventions"]
    assert conventions["flows"] == [
        {"date": (DAY1 + timedelta(days=2)).isoformat(), "net_flow": "10000.00000000"}
    ]
    assert conventions["null_reasons"]["sortino_ratio"].startswith("no day returned less than the target")
    assert conventions["null_reasons"]["calmar_ratio"].startswith("no drawdown")
    assert conventions["null_reasons"]["win_rate"] == "no trade with a PnL in the range"
