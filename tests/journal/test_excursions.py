"""R-multiples and excursions of closed positions, with the price path fetched through real ccxt from the
loopback exchange emulator (Binance's GET /api/v3/klines) and kept."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.common.clock import to_ms
from apps.journal.models import Candle, PositionExcursion
from apps.journal.services.excursions import position_excursion_compute, timeframe_for
from tests.factories import OrderFactory, PositionFactory

pytestmark = pytest.mark.django_db
D = Decimal
OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLOSED = OPENED + timedelta(hours=3)


def minute_bars(lowest=("10:15", "59100"), highest=("11:40", "61500")) -> list[tuple]:
    """1m bars over 08:59..12:01 around 60,000; one bar dips to `lowest`, one reaches `highest`."""
    bars = []
    for n in range(-1, 182):
        at = OPENED + timedelta(minutes=n)
        low, high = D("59900"), D("60300")
        if at.strftime("%H:%M") == lowest[0]:
            low = D(lowest[1])
        if at.strftime("%H:%M") == highest[0]:
            high = D(highest[1])
        bars.append((to_ms(at), D("60000"), high, low, D("60100"), D("3.5")))
    return bars


@pytest.fixture
def binance(emulated, clean_redis):
    account, exchange = emulated("binance")
    account.add_candles("BTC/USDT", "1m", minute_bars())
    return account, exchange


def long_position(exchange, *, stop="58800", pnl="600"):
    OrderFactory(exchange=exchange, symbol="BTC/USDT", side="buy", status="filled", amount=D("0.5"),
                 filled=D("0.5"), price=D("60000"), average=D("60000"), stop_loss_price=stop and D(stop),
                 datetime=OPENED - timedelta(seconds=5))  # fmt: skip
    return PositionFactory(exchange=exchange, symbol="BTC/USDT", side="buy", amount=D("0.5"),
                           entry_price=D("60000"), current_price=D("61200"), is_open=False, opened_at=OPENED,
                           closed_at=CLOSED, realized_pnl=D(pnl))  # fmt: skip


def test_r_mae_and_mfe_of_a_long_from_the_planned_stop_and_the_path(binance):
    account, exchange = binance
    position = long_position(exchange)
    excursion = position_excursion_compute(position=position)
    # 1 R = (60,000 - 58,800) x 0.5 = 600; +600 realized is +1 R.
    assert (excursion.risk_amount, excursion.r_multiple) == (D("600"), D("1.0000"))
    # Worst low 59,100: 900 against per unit (0.75 R); best high 61,500: 1,500 for (1.25 R).
    assert (excursion.mae, excursion.mfe) == (D("900"), D("1500"))
    assert (excursion.mae_r, excursion.mfe_r) == (D("0.7500"), D("1.2500"))
    assert (excursion.timeframe, excursion.candles, excursion.note) == ("1m", 181, "")
    assert Candle.objects.filter(exchange=exchange, timeframe="1m").count() == 181  # kept
    assert len(account.requests_to("/api/v3/klines")) == 1

    # Computed again from the kept bars: the exchange is not asked twice.
    again = position_excursion_compute(position=position)
    assert again.mae == D("900") and len(account.requests_to("/api/v3/klines")) == 1


def test_a_short_without_a_stop_has_excursions_but_no_r(binance):
    _, exchange = binance
    OrderFactory(exchange=exchange, symbol="BTC/USDT", side="sell", status="filled", amount=D("0.5"),
                 filled=D("0.5"), stop_loss_price=None, datetime=OPENED)  # fmt: skip
    position = PositionFactory(exchange=exchange, symbol="BTC/USDT", side="sell", amount=D("0.5"),
                               entry_price=D("60000"), current_price=D("60000"), is_open=False,
                               opened_at=OPENED, closed_at=CLOSED, realized_pnl=D("-150"))  # fmt: skip
    excursion = position_excursion_compute(position=position)
    assert (
        excursion.r_multiple is None and "has no stop_loss_price: no planned risk, so no R." in excursion.note
    )
    # Against a short: the high (61,500) is adverse, the low (59,100) favourable.
    assert (excursion.mae, excursion.mfe, excursion.mae_r) == (D("1500"), D("900"), None)


def test_an_exchange_that_is_down_leaves_the_path_empty_and_says_why(binance):
    account, exchange = binance
    position = long_position(exchange)
    account.go_down(mode="maintenance")
    excursion = position_excursion_compute(position=position)
    assert excursion.r_multiple == D("1.0000")  # the stop is the record's: R does not need the exchange
    assert excursion.mae is None and "The price path could not be fetched (unavailable)" in excursion.note
    assert account.secret not in excursion.note


def test_an_open_position_is_refused(db):
    with pytest.raises(ValueError, match="still open"):
        position_excursion_compute(position=PositionFactory(is_open=True))


def test_the_timeframe_is_the_finest_that_fits():
    assert timeframe_for(OPENED, OPENED + timedelta(hours=3)) == ("1m", 60)
    assert timeframe_for(OPENED, OPENED + timedelta(days=2)) == ("5m", 300)
    assert timeframe_for(OPENED, OPENED + timedelta(days=30)) == ("1h", 3600)


def test_the_command_computes_each_closed_position_once(binance):
    _, exchange = binance
    long_position(exchange)
    out = io.StringIO()
    call_command("compute_excursions", "--exchange", "binance", stdout=out)
    assert "1 closed position(s): 1 with an R-multiple, 1 with MAE/MFE" in out.getvalue()
    out = io.StringIO()
    call_command("compute_excursions", stdout=out)
    assert "0 closed position(s)" in out.getvalue()
    assert PositionExcursion.objects.count() == 1
    with pytest.raises(CommandError, match="kraken"):
        call_command("compute_excursions", "--exchange", "kraken", stdout=io.StringIO())


def test_the_position_page_shows_its_r_and_excursions(binance, root_client):
    from django.urls import reverse

    _, exchange = binance
    position = long_position(exchange)
    url = reverse("admin:execution_position_change", args=[position.pk])
    assert "Not computed yet (manage.py compute_excursions" in root_client.get(url).content.decode()
    position_excursion_compute(position=position)
    html = root_client.get(url).content.decode()
    assert '1 R = <span class="num-pos">600.00 USDT</span> (stop 58,800.00' in html
    assert "R-multiple 1.0000; MAE 900.00 (0.7500 R), MFE 1,500.00 (1.2500 R); 181 1m bars." in html
