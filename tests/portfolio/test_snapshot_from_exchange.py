"""snapshot_portfolio --from-exchange: cash and holdings from the exchange's own balances through real ccxt
(against the exchange emulator on loopback), valued with its tickers, and the source recorded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.common import redis as shared_redis
from apps.exchanges.services import exchange_register
from apps.portfolio.models import PortfolioSnapshot
from apps.system_events.models import SystemEvent
from tests.factories import PositionFactory
from tests.reconciliation.emulator import BINANCE, EmulatorServer, api_urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def binance(settings):
    settings.EXCHANGE_CCXT_THROTTLE = False
    settings.REPORTING_CURRENCY = "USDT"
    shared_redis.get_client().flushdb()
    with EmulatorServer() as server:
        account = server.add_account(BINANCE)
        settings.EXCHANGE_API_URLS = {BINANCE: api_urls(BINANCE, account.url)}
        exchange = exchange_register(name=BINANCE, api_key=account.api_key, api_secret=account.secret)
        yield account, exchange
    shared_redis.get_client().flushdb()


def snapshot(*args: str) -> str:
    out = StringIO()
    call_command("snapshot_portfolio", "--date", date.today().isoformat(), *args, stdout=out)
    return out.getvalue()


def test_cash_and_holdings_come_from_the_exchange_valued_with_its_tickers(binance):
    account, exchange = binance
    account.set_balance("USDT", "12500.5")
    account.set_balance("BTC", "0.25", used="0.05")
    account.set_balance("ETH", "2")
    account.set_ticker("BTC/USDT", "60000")
    account.set_ticker("ETH/USDT", "3000.25")
    PositionFactory(exchange=exchange, symbol="SOL/USDT")  # the record's position is not what is counted

    output = snapshot("--from-exchange")

    row = PortfolioSnapshot.objects.get(exchange=exchange)
    assert row.cash == Decimal("12500.5")
    assert row.positions_value == Decimal("0.3") * 60000 + Decimal("2") * Decimal("3000.25")
    assert row.total_value == row.cash + row.positions_value
    assert {(p["symbol"], p["amount"], p["source"]) for p in row.positions} == {
        ("BTC/USDT", "0.30000000", "exchange"),
        ("ETH/USDT", "2.00000000", "exchange"),
    }
    assert "the exchange's balances" in output
    event = SystemEvent.objects.get(event_type="portfolio_snapshot_from_exchange")
    assert {s: Decimal(p) for s, p in event.data["prices"].items()} == {
        "BTC/USDT": Decimal("60000"),
        "ETH/USDT": Decimal("3000.25"),
    }
    assert event.data["reporting_currency"] == "USDT"


def test_an_asset_without_a_price_in_the_reporting_currency_is_an_error_and_nothing_is_written(binance):
    account, _ = binance
    account.set_balance("USDT", "100")
    account.set_balance("XYZ", "5")  # no XYZ/USDT market

    with pytest.raises(CommandError, match="XYZ"):
        snapshot("--from-exchange")

    assert not PortfolioSnapshot.objects.exists()


def test_an_exchange_that_refuses_the_key_is_an_error_without_the_secret(binance):
    account, _ = binance
    account.refuse_auth()

    with pytest.raises(CommandError) as refused:
        snapshot("--from-exchange")

    assert account.secret not in str(refused.value) and account.api_key not in str(refused.value)
    assert not PortfolioSnapshot.objects.exists()


def test_cash_given_and_from_the_exchange_together_are_refused(binance):
    with pytest.raises(CommandError, match="not both"):
        snapshot("--from-exchange", "--cash", "binance=100")
