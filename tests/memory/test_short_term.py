"""Short-term memory against the real Redis: exact key names and TTLs, the price list, the
rate limiter under threads, the decision cache, batches, and a Redis that is not there."""

import json
import threading
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.test import override_settings

from apps.common import redis as shared_redis
from apps.memory.services import short_term
from apps.system_events.models import SystemEvent

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"

# (write, exact key, seed TTL)
KEY_FAMILIES = [
    (
        lambda: short_term.market_context_set(symbol="BTC/USDT", context={"trend": "up"}),
        "market:context:BTC/USDT",
        300,
    ),
    (lambda: short_term.trading_context_set(context={"mode": "live"}), "trading:context", 3600),
    (
        lambda: short_term.market_price_push(symbol="BTC/USDT", timeframe="1h", price=Decimal("45000.5")),
        "market:prices:BTC/USDT:1h",
        3600,
    ),
    (
        lambda: short_term.indicator_set(symbol="BTC/USDT", indicator_name="rsi", params="14", value=28.5),
        "indicators:BTC/USDT:rsi:14",
        300,
    ),
    (
        lambda: short_term.orderbook_set(symbol="BTC/USDT", orderbook={"bids": [["45000", "1"]], "asks": []}),
        "market:orderbook:BTC/USDT",
        30,
    ),
    (
        lambda: short_term.ticker_set(symbol="BTC/USDT", ticker={"last": "45000"}),
        "market:ticker:BTC/USDT",
        10,
    ),
    (
        lambda: short_term.decision_cache_set(context={"symbol": "BTC/USDT"}, decision={"action": "hold"}),
        "decision:cache:" + short_term.context_hash({"symbol": "BTC/USDT"}),
        300,
    ),
    (
        lambda: short_term.portfolio_positions_set(positions=[{"symbol": "BTC/USDT"}]),
        "portfolio:positions",
        60,
    ),
    (
        lambda: short_term.tickers_set_many(tickers={"BTC/USDT": {"last": "1"}}),
        "market:tickers",
        10,
    ),
]


@pytest.mark.parametrize(("write", "key", "ttl"), KEY_FAMILIES, ids=[k for _, k, _ in KEY_FAMILIES])
def test_every_key_family_has_the_seeds_name_and_ttl(redis_client, write, key, ttl):
    assert write() is True
    assert redis_client.exists(key) == 1
    assert ttl - 2 <= redis_client.ttl(key) <= ttl


def test_values_are_json_with_decimals_as_text(redis_client):
    short_term.market_context_set(symbol="ETH/USDT", context={"price": Decimal("3000.10"), "rsi": 55})

    raw = redis_client.get("market:context:ETH/USDT")
    assert json.loads(raw) == {"price": "3000.10", "rsi": 55}
    assert short_term.market_context_get(symbol="ETH/USDT") == {"price": "3000.10", "rsi": 55}


@pytest.mark.parametrize("huge", [None, 2**70], ids=["orjson", "past-64-bits"])
def test_values_read_back_as_the_standard_librarys_json_writes_them(redis_client, huge):
    """orjson writes the values; what an agent reads must be byte for byte what json + Django's encoder wrote,
    an integer orjson cannot take included."""
    context = {
        "price": Decimal("45000.10"),
        "at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "day": date(2026, 1, 2),
        "run": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "note": "baisse de 3 % — 日本",
        "levels": [1, 2.5, None, True],
        "huge": huge,
        7: "a number as a key",
    }
    expected = json.dumps(context, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))

    assert short_term.market_context_set(symbol="BTC/USDT", context=context) is True

    assert redis_client.get("market:context:BTC/USDT") == expected
    assert short_term.market_context_get(symbol="BTC/USDT") == json.loads(expected)


def test_what_cannot_be_json_is_refused_before_anything_is_written(redis_client):
    with pytest.raises(TypeError):
        short_term.market_context_set(symbol="BTC/USDT", context={"when": object()})
    assert redis_client.get("market:context:BTC/USDT") is None


def test_values_written_by_older_code_still_read(redis_client):
    redis_client.set("market:context:BTC/USDT", '{"rsi": NaN, "big": 123456789012345678901234567890}')

    value = short_term.market_context_get(symbol="BTC/USDT")

    assert value["big"] == 123456789012345678901234567890 and value["rsi"] != value["rsi"]  # NaN


def test_reads_of_absent_keys_are_misses():
    assert short_term.market_context_get(symbol="DOGE/USDT") is None
    assert short_term.trading_context_get() is None
    assert short_term.market_prices_get(symbol="DOGE/USDT", timeframe="1h") == []
    assert short_term.tickers_get_many() == {}


def test_the_price_list_keeps_the_newest_100(redis_client):
    for n in range(150):
        short_term.market_price_push(symbol="BTC/USDT", timeframe="1m", price=Decimal(45000 + n))

    assert redis_client.llen("market:prices:BTC/USDT:1m") == 100
    prices = short_term.market_prices_get(symbol="BTC/USDT", timeframe="1m")
    assert prices[0] == Decimal(45149)
    assert prices[-1] == Decimal(45050)
    assert short_term.market_prices_get(symbol="BTC/USDT", timeframe="1m", limit=3) == [
        Decimal(45149),
        Decimal(45148),
        Decimal(45147),
    ]


def test_a_float_price_is_refused_and_nothing_is_written(redis_client):
    with pytest.raises(ValidationError) as error:
        short_term.market_price_push(symbol="BTC/USDT", timeframe="1m", price=45000.1)
    assert "price" in error.value.message_dict
    assert redis_client.exists("market:prices:BTC/USDT:1m") == 0


def test_a_blank_symbol_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as error:
        short_term.market_context_set(symbol=" ", context={})
    assert "symbol" in error.value.message_dict


def test_indicator_params_name_the_same_key_in_any_order(redis_client):
    short_term.indicator_set(
        symbol="BTC/USDT", indicator_name="macd", params={"slow": 26, "fast": 12, "signal": 9}, value=[1, 2]
    )

    assert redis_client.exists("indicators:BTC/USDT:macd:fast=12,signal=9,slow=26") == 1
    assert short_term.indicator_get(
        symbol="BTC/USDT", indicator_name="macd", params={"signal": 9, "fast": 12, "slow": 26}
    ) == [1, 2]


def test_the_decision_cache_hits_for_the_same_context_in_another_key_order():
    context = {"symbol": "BTC/USDT", "price": Decimal("45000.00"), "indicators": {"rsi": 28, "macd": -1}}
    reordered = {"indicators": {"macd": -1, "rsi": 28}, "price": Decimal("45000.00"), "symbol": "BTC/USDT"}
    short_term.decision_cache_set(context=context, decision={"action": "buy", "amount": "0.01"})

    assert short_term.decision_cache_get(context=reordered) == {"action": "buy", "amount": "0.01"}
    assert short_term.decision_cache_get(context={**context, "price": Decimal("45000.01")}) is None


def test_tickers_batch_replaces_the_snapshot_in_one_pipeline(redis_client):
    short_term.tickers_set_many(tickers={"BTC/USDT": {"last": "45000"}, "ETH/USDT": {"last": "3000"}})
    short_term.tickers_set_many(tickers={"BTC/USDT": {"last": "45100"}})

    assert short_term.tickers_get_many() == {"BTC/USDT": {"last": "45100"}}
    assert short_term.tickers_get_many(symbols=["BTC/USDT", "SOL/USDT"]) == {"BTC/USDT": {"last": "45100"}}
    assert short_term.ticker_get(symbol="BTC/USDT") == {"last": "45100"}
    assert 8 <= redis_client.ttl("market:ticker:BTC/USDT") <= 10


def test_a_snapshot_of_thousands_of_tickers_is_whole_with_every_ttl(redis_client):
    """Past the script's chunk of 2,000 hash fields: every symbol in the hash and under its own key."""
    tickers = {f"C{n:04d}/USDT": {"last": str(n)} for n in range(4_321)}
    redis_client.script_flush()

    assert short_term.tickers_set_many(tickers=tickers) is True

    assert redis_client.hlen("market:tickers") == 4_321
    assert short_term.tickers_get_many() == {symbol: {"last": t["last"]} for symbol, t in tickers.items()}
    assert short_term.ticker_get(symbol="C4320/USDT") == {"last": "4320"}
    assert 8 <= redis_client.ttl("market:ticker:C0000/USDT") <= 10
    assert 8 <= redis_client.ttl("market:tickers") <= 10


def test_tickers_in_a_batch_go_with_the_other_writes(redis_client):
    redis_client.script_flush()  # a server that has never seen the script (a restart, a failover)
    with short_term.short_term_batch() as batch:
        batch.tickers_set_many(tickers={"BTC/USDT": {"last": "45000"}})
        batch.trading_context_set(context={"mode": "live"})

    assert batch.written is True
    assert short_term.ticker_get(symbol="BTC/USDT") == {"last": "45000"}
    assert short_term.tickers_get_many() == {"BTC/USDT": {"last": "45000"}}
    assert short_term.trading_context_get() == {"mode": "live"}


def test_a_batch_writes_every_family_at_once(redis_client):
    with short_term.short_term_batch() as batch:
        batch.market_context_set(symbol="BTC/USDT", context={"trend": "up"})
        batch.market_price_push(symbol="BTC/USDT", timeframe="1h", price="45000")
        batch.portfolio_positions_set(positions=[])
        assert redis_client.exists("market:context:BTC/USDT") == 0  # nothing sent before the block ends

    assert batch.written is True
    assert short_term.market_context_get(symbol="BTC/USDT") == {"trend": "up"}
    assert short_term.market_prices_get(symbol="BTC/USDT", timeframe="1h") == [Decimal("45000")]
    assert short_term.portfolio_positions_get() == []
    assert 3598 <= redis_client.ttl("market:prices:BTC/USDT:1h") <= 3600


def test_the_namespace_prefix_goes_before_every_key(settings, redis_client):
    settings.REDIS_KEY_PREFIX = "office"
    short_term.trading_context_set(context={"mode": "paper"})

    assert redis_client.exists("office:trading:context") == 1
    assert redis_client.exists("trading:context") == 0
    assert short_term.trading_context_get() == {"mode": "paper"}


# --- the rate limiter ---------------------------------------------------------------------------


def test_the_rate_limiter_allows_exactly_the_limit_under_concurrent_threads(redis_client):
    limit, threads, hits_each = 37, 16, 6
    decisions = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker():
        start.wait()
        for _ in range(hits_each):
            decision = short_term.ratelimit_hit(exchange="binance", endpoint="ticker", limit=limit)
            with lock:
                decisions.append(decision)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()

    allowed = [d for d in decisions if d.allowed]
    denied = [d for d in decisions if not d.allowed]
    assert len(allowed) == limit
    assert len(denied) == threads * hits_each - limit
    assert all(1 <= d.retry_after <= 60 for d in denied)
    assert int(redis_client.get("ratelimit:binance:ticker")) == threads * hits_each
    assert 58 <= redis_client.ttl("ratelimit:binance:ticker") <= 60


def test_later_hits_never_push_the_window_end_back(redis_client):
    short_term.ratelimit_hit(exchange="okx", endpoint="orders", limit=10)
    redis_client.expire("ratelimit:okx:orders", 5)  # the window is nearly over

    short_term.ratelimit_hit(exchange="okx", endpoint="orders", limit=10)
    assert redis_client.ttl("ratelimit:okx:orders") <= 5


def test_a_denied_call_says_when_to_retry():
    for _ in range(2):
        assert short_term.ratelimit_hit(exchange="okx", endpoint="balance", limit=2).allowed
    decision = short_term.ratelimit_hit(exchange="okx", endpoint="balance", limit=2)

    assert not decision.allowed
    assert decision.count == 3
    assert 1 <= decision.retry_after <= 60
    assert "retry after" in decision.reason


def test_the_rate_limit_must_be_positive():
    with pytest.raises(ValidationError) as error:
        short_term.ratelimit_hit(exchange="okx", endpoint="balance", limit=0)
    assert "limit" in error.value.message_dict


# --- Redis unreachable --------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_redis_unreachable_reads_miss_writes_skip_and_callers_go_on():
    with override_settings(REDIS_URL=CLOSED_PORT_URL):
        started = time.monotonic()
        assert short_term.market_context_set(symbol="BTC/USDT", context={"a": 1}) is False
        assert short_term.market_context_get(symbol="BTC/USDT") is None
        assert short_term.market_price_push(symbol="BTC/USDT", timeframe="1h", price="1") is False
        assert short_term.market_prices_get(symbol="BTC/USDT", timeframe="1h") == []
        assert short_term.tickers_get_many(symbols=["BTC/USDT"]) == {}
        assert short_term.decision_cache_get(context={"a": 1}) is None
        with short_term.short_term_batch() as batch:
            batch.trading_context_set(context={})
        assert batch.written is False
        assert time.monotonic() - started < 2  # short timeouts, no retries: the agent never stalls


@pytest.mark.django_db
def test_with_redis_unreachable_the_rate_limiter_fails_closed():
    with override_settings(REDIS_URL=CLOSED_PORT_URL):
        decision = short_term.ratelimit_hit(exchange="binance", endpoint="ticker", limit=1000)

    assert decision.allowed is False
    assert decision.count is None
    assert "fails closed" in decision.reason


@pytest.mark.django_db
def test_an_outage_records_one_warning_per_window(settings):
    settings.MEMORY_REDIS_OUTAGE_EVENT_INTERVAL = 60
    with override_settings(REDIS_URL=CLOSED_PORT_URL):
        for _ in range(25):
            short_term.market_context_get(symbol="BTC/USDT")
            short_term.ticker_set(symbol="BTC/USDT", ticker={})

    events = list(SystemEvent.objects.filter(event_type="redis_unavailable"))
    assert len(events) == 1
    assert events[0].severity == "warning"
    assert events[0].data["operation"] == "market_context_get"


@pytest.mark.django_db
def test_the_next_window_records_again_with_the_calls_in_between(settings):
    settings.MEMORY_REDIS_OUTAGE_EVENT_INTERVAL = 60
    with override_settings(REDIS_URL=CLOSED_PORT_URL):
        for _ in range(3):
            short_term.trading_context_get()
        shared_redis.outage_reporter._last_event_at -= 61  # a minute later
        short_term.trading_context_get()

    events = SystemEvent.objects.filter(event_type="redis_unavailable")
    assert sorted(event.data["suppressed_since_last_event"] for event in events) == [0, 2]


def test_health_reports_redis_up_and_down():
    assert short_term.short_term_health().ok is True
    with override_settings(REDIS_URL=CLOSED_PORT_URL):
        status = short_term.short_term_health()
    assert status.ok is False
    assert "unreachable" in status.detail
