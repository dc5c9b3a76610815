"""The exchange client (apps/exchanges/client.py): secrets scrubbed from every error text, sandbox for a
testnet account, credentials that never print, and the shared limiter before every request, failing closed
when Redis cannot count. Real ccxt against the exchange emulator on loopback; real Redis."""

from __future__ import annotations

import ccxt
import pytest
from cryptography.fernet import Fernet

from apps.common import redis as shared_redis
from apps.exchanges.client import SCRUBBED, ExchangeCallError, exchange_call, exchange_client, scrub
from apps.exchanges.services import Credentials, exchange_register
from apps.system_events.models import SystemEvent
from tests.factories import ExchangeFactory
from tests.reconciliation.emulator import BINANCE, OKX, EmulatorServer, api_urls

pytestmark = pytest.mark.django_db

KEY = "AKIA-live-key-7f3c9e21b4d8"
SECRET = "live-secret-0c8e2f7a9b6d4e1f"
PASSWORD = "trading-passphrase-5521"
CREDENTIALS = Credentials(api_key=KEY, api_secret=SECRET, password=PASSWORD)


@pytest.fixture(autouse=True)
def limiter_counts_from_zero(settings):
    settings.EXCHANGE_CCXT_THROTTLE = False  # the emulator has no limit of its own to respect
    shared_redis.outage_reporter.reset()
    shared_redis.get_client().flushdb()  # this run's own Redis database: the limiter's counters
    yield
    shared_redis.outage_reporter.reset()
    shared_redis.reset_client()  # a test may have pointed REDIS_URL at a closed port


@pytest.fixture
def emulator():
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def account_of(emulator, settings):
    """`account_of("binance")`: an emulated account and its Exchange row, ccxt pointed at it."""

    def make(dialect: str):
        account = emulator.add_account(dialect)
        account.set_balance("USDT", "1000")
        settings.EXCHANGE_API_URLS = {dialect: api_urls(dialect, account.url)}
        exchange = exchange_register(
            name=dialect, api_key=account.api_key, api_secret=account.secret, password=account.password
        )
        return account, exchange

    return make


def refused(client, method: str, *args) -> ExchangeCallError:
    with pytest.raises(ExchangeCallError) as caught:
        exchange_call(client, method, *args)
    return caught.value


# ---- scrub ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"binance {{'code': -2015, 'msg': 'key {KEY} refused'}}",
        f"okx secret={SECRET} passphrase {PASSWORD}",
        f"{KEY}:{SECRET}:{PASSWORD}",
    ],
)
def test_scrub_masks_the_accounts_key_secret_and_password(text):
    scrubbed = scrub(text, CREDENTIALS)

    for secret in (KEY, SECRET, PASSWORD):
        assert secret not in scrubbed
    assert SCRUBBED in scrubbed


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        (
            "ExchangeNotAvailable: binance GET https://api.binance.com/api/v3/account?timestamp=1767225600000"
            "&recvWindow=10000&signature=9f2c4e1a7b 503 Service Unavailable",
            ["9f2c4e1a7b", "timestamp=1767225600000"],
            ["https://api.binance.com/api/v3/account?" + SCRUBBED, "503 Service Unavailable"],
        ),
        (
            "NetworkError: http://127.0.0.1:8123/binance/sapi/v1/capital/config/getall?signature=abc123"
            " timed out",
            ["abc123"],
            ["http://127.0.0.1:8123/binance/sapi/v1/capital/config/getall?" + SCRUBBED, "timed out"],
        ),
        ('binance {"signature": "a1b2c3", "apiKey": "k9k9k9"}', ["a1b2c3", "k9k9k9"], ['"signature": "']),
        ("body symbol=BTCUSDT&side=BUY&timestamp=1&signature=deadbeef", ["deadbeef"], ["symbol=BTCUSDT"]),
        ("X-MBX-APIKEY: abcdef0123 sent", ["abcdef0123"], ["X-MBX-APIKEY: " + SCRUBBED]),
        (
            "headers {'X-MBX-APIKEY': 'abcdef0123', 'OK-ACCESS-SIGN': 'Zm9v/YmFy+==',"
            " 'OK-ACCESS-KEY': 'k-55'}",
            ["abcdef0123", "Zm9v/YmFy+==", "k-55"],
            ["'X-MBX-APIKEY': '" + SCRUBBED],
        ),
        (
            '{"OK-ACCESS-PASSPHRASE": "pp-1", "OK-ACCESS-SIGN": "c2lnbg=="}',
            ["pp-1", "c2lnbg=="],
            ["OK-ACCESS-PASSPHRASE"],
        ),
    ],
)
def test_scrub_masks_signed_urls_and_signature_fields_without_credentials(text, gone, kept):
    scrubbed = scrub(text)

    for secret in gone:
        assert secret not in scrubbed, scrubbed
    for part in kept:
        assert part in scrubbed, scrubbed


def test_scrub_leaves_an_exchanges_plain_message_readable():
    text = (
        'AuthenticationError: binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'
    )

    assert scrub(text, CREDENTIALS) == text


# ---- building a client ------------------------------------------------------------------------------


def test_a_testnet_account_gets_a_client_in_ccxts_sandbox_mode(settings):
    settings.EXCHANGE_API_URLS = {}
    testnet = ExchangeFactory(name="binance", testnet=True)
    live = ExchangeFactory(name="okx", testnet=False)

    sandboxed = exchange_client(exchange=testnet)

    assert sandboxed.isSandboxModeEnabled is True
    assert sandboxed.urls["api"] == ccxt.binance().urls["test"]  # the testnet's hosts, not the live ones
    assert all("testnet" in url for url in sandboxed.urls["api"].values() if "api.binance.com" not in url)
    assert exchange_client(exchange=live).isSandboxModeEnabled is False


@pytest.mark.parametrize("name", ["bitfinex", "bitflyer"])
def test_a_testnet_account_of_an_exchange_without_a_sandbox_is_refused_as_not_supported(name):
    exchange = ExchangeFactory(name=name, testnet=True)

    with pytest.raises(ExchangeCallError) as caught:
        exchange_client(exchange=exchange)

    assert caught.value.kind == "not_supported" and caught.value.method == "exchange_client"
    assert f"ccxt has no sandbox (testnet) for {name}" in str(caught.value)
    exchange.testnet = False  # its live account is reached as usual
    assert exchange_client(exchange=exchange).isSandboxModeEnabled is False


def test_the_client_holds_the_decrypted_credentials_and_settings(settings):
    settings.EXCHANGE_TIMEOUT = 2.5
    exchange = exchange_register(name="okx", api_key=KEY, api_secret=SECRET, password=PASSWORD)

    client = exchange_client(exchange=exchange)

    assert (client.apiKey, client.secret, client.password) == (KEY, SECRET, PASSWORD)
    assert client.timeout == 2500 and client.options["adjustForTimeDifference"] is True
    assert isinstance(client, ccxt.okx)


@pytest.mark.parametrize("name", ["mybroker", "exchange", "base"])
def test_a_name_ccxt_does_not_know_is_refused_as_invalid(name):
    exchange = ExchangeFactory(name=name)

    with pytest.raises(ExchangeCallError) as caught:
        exchange_client(exchange=exchange)

    assert caught.value.kind == "invalid" and caught.value.method == "exchange_client"
    assert f"'{name}' is not a ccxt exchange id" in str(caught.value)


def test_credentials_no_key_decrypts_are_a_refusal_not_a_crash():
    stranger = Fernet(Fernet.generate_key())
    exchange = ExchangeFactory(
        name="binance",
        api_key_encrypted=stranger.encrypt(KEY.encode()).decode(),
        api_secret_encrypted=stranger.encrypt(SECRET.encode()).decode(),
    )

    with pytest.raises(ExchangeCallError) as caught:
        exchange_client(exchange=exchange)

    assert caught.value.kind == "authentication"
    assert "FIELD_ENCRYPTION_KEYS" in str(caught.value)


def test_neither_the_credentials_nor_the_client_print_a_secret():
    exchange = exchange_register(name="okx", api_key=KEY, api_secret=SECRET, password=PASSWORD)
    client = exchange_client(exchange=exchange)
    credentials = client.tradeoffice_credentials

    shown = [repr(credentials), str(credentials), f"{credentials}", repr(client), str(client)]

    for text in shown:
        for secret in (SECRET, PASSWORD, KEY[:-4]):
            assert secret not in text, text
    assert repr(credentials) == "Credentials(api_key='••••b4d8', api_secret='••••', password='••••')"


# ---- the shared limiter -------------------------------------------------------------------------------


def test_with_redis_unreachable_no_request_is_made(account_of, settings):
    account, exchange = account_of(BINANCE)
    client = exchange_client(exchange=exchange)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # a closed loopback port
    shared_redis.reset_client()

    error = refused(client, "fetch_balance")

    assert error.kind == "rate_limited" and error.method == "fetch_balance"
    assert "Redis is unreachable" in str(error)
    assert [r for r in account.requests if r.verified is not None] == []  # fails closed: nothing private
    assert account.requests == []  # nor anything else
    assert SystemEvent.objects.filter(event_type="redis_unavailable").exists()  # and the outage is told


def test_past_the_shared_limit_the_next_call_is_refused_naming_the_endpoint(account_of, settings):
    settings.EXCHANGE_RATE_LIMIT_PER_MINUTE = 2
    settings.EXCHANGE_RATE_LIMIT_MAX_WAIT = 0
    account, exchange = account_of(BINANCE)
    client = exchange_client(exchange=exchange)
    exchange_call(client, "load_markets")

    exchange_call(client, "fetch_balance")
    exchange_call(client, "fetch_balance")
    error = refused(client, "fetch_balance")

    assert error.kind == "rate_limited"
    assert "private:account" in str(error) and "EXCHANGE_RATE_LIMIT_MAX_WAIT" in str(error)
    assert len(account.requests_to("/api/v3/account")) == 2
    # The limit is the account's, whatever process or client asks: another client is refused as well.
    other = exchange_client(exchange=exchange)
    other.set_markets(client.markets, client.currencies)
    assert "private:account" in str(refused(other, "fetch_balance"))
    assert len(account.requests_to("/api/v3/account")) == 2
    assert shared_redis.get_client().get("ratelimit:binance:private:account") == "4"


def test_every_page_of_a_paginated_fetch_asks_the_limiter(account_of, settings):
    settings.EXCHANGE_RATE_LIMIT_PER_MINUTE = 3
    settings.EXCHANGE_RATE_LIMIT_MAX_WAIT = 0
    account, exchange = account_of(BINANCE)
    account.add_trades_bulk(5_000, "BTC/USDT", start=account.server_time() - 7_200_000, step_ms=1_000)
    client = exchange_client(exchange=exchange)
    exchange_call(client, "load_markets")

    error = refused(client, "fetch_my_trades", "BTC/USDT", None, None, {"paginate": True})

    assert error.kind == "rate_limited" and "private:myTrades" in str(error)
    assert len(account.requests_to("/api/v3/myTrades")) == 3  # 1,000 a page: stopped at the limit


# ---- errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", [BINANCE, OKX])
def test_an_authentication_failure_is_kind_authentication_and_leaks_no_credential(account_of, dialect):
    account, exchange = account_of(dialect)
    account.refuse_auth()

    error = refused(exchange_client(exchange=exchange), "fetch_balance")

    assert error.kind == "authentication", error
    for secret in (account.api_key, account.secret, account.password):
        if secret:
            assert secret not in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # the unscrubbed original stays behind


def test_an_unknown_key_is_kind_authentication(emulator, settings):
    account = emulator.add_account(BINANCE)
    settings.EXCHANGE_API_URLS = {BINANCE: api_urls(BINANCE, emulator.url)}  # resolved by the key sent
    exchange = exchange_register(name=BINANCE, api_key="not-" + account.api_key, api_secret=account.secret)

    error = refused(exchange_client(exchange=exchange), "fetch_balance")

    assert error.kind == "authentication" and "-2015" in str(error)
    assert account.api_key not in str(error) and account.secret not in str(error)


def test_an_outage_answer_is_unavailable_and_its_signed_url_is_scrubbed(account_of):
    account, exchange = account_of(BINANCE)
    client = exchange_client(exchange=exchange)
    exchange_call(client, "load_markets")
    account.go_down(mode="unavailable")

    error = refused(client, "fetch_balance")

    assert error.kind == "unavailable", error
    assert f"/api/v3/account?{SCRUBBED} 503" in str(error)  # ccxt's text names the signed URL, masked
    assert "signature=" not in str(error) and "timestamp=" not in str(error)
    assert account.api_key not in str(error) and account.secret not in str(error)
