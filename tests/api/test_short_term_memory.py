"""/api/v1/memory/*: every short-term key family through the memory service, against the real Redis."""

import pytest

from apps.common import redis as shared_redis

pytestmark = pytest.mark.django_db

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_client():
    return shared_redis.get_client()


def test_market_context_round_trip_with_the_seeds_key_and_ttl(api, redis_client):
    stored = api.put(
        "/api/v1/memory/market-context/",
        {"symbol": "BTC/USDT", "context": {"trend": "up", "rsi": 28.5}},
        format="json",
    )
    read = api.get("/api/v1/memory/market-context/?symbol=BTC/USDT")

    assert stored.status_code == 200 and stored.json()["key"] == "market:context:BTC/USDT"
    assert 0 < redis_client.ttl("market:context:BTC/USDT") <= 300
    assert read.json() == {"symbol": "BTC/USDT", "context": {"trend": "up", "rsi": 28.5}}


def test_a_miss_is_a_404(api):
    response = api.get("/api/v1/memory/market-context/?symbol=DOGE/USDT")

    assert response.status_code == 404
    assert "DOGE/USDT" in response.json()["message"]


def test_trading_context(api, redis_client):
    api.put("/api/v1/memory/trading-context/", {"context": {"mode": "live", "risk": 0.02}}, format="json")

    assert api.get("/api/v1/memory/trading-context/").json() == {"context": {"mode": "live", "risk": 0.02}}
    assert 3500 < redis_client.ttl("trading:context") <= 3600


def test_one_ticker_and_many_tickers(api, redis_client):
    one = api.put(
        "/api/v1/memory/ticker/", {"symbol": "BTC/USDT", "ticker": {"last": 45000.5}}, format="json"
    )
    many = api.put(
        "/api/v1/memory/tickers/",
        {"tickers": {"BTC/USDT": {"last": 45001}, "ETH/USDT": {"last": 3000.25}}},
        format="json",
    )

    assert one.status_code == 200 and many.status_code == 200
    assert redis_client.hlen("market:tickers") == 2
    assert api.get("/api/v1/memory/ticker/?symbol=ETH/USDT").json()["ticker"] == {"last": 3000.25}
    assert api.get("/api/v1/memory/tickers/?symbols=BTC/USDT").json() == {
        "tickers": {"BTC/USDT": {"last": 45001}}
    }
    assert set(api.get("/api/v1/memory/tickers/").json()["tickers"]) == {"BTC/USDT", "ETH/USDT"}


def test_orderbook(api, redis_client):
    book = {"bids": [[45000, 1.5]], "asks": [[45001, 0.3]], "timestamp": 1767225600000}

    api.put("/api/v1/memory/orderbook/", {"symbol": "BTC/USDT", "orderbook": book}, format="json")

    assert api.get("/api/v1/memory/orderbook/?symbol=BTC/USDT").json()["orderbook"] == book
    assert 0 < redis_client.ttl("market:orderbook:BTC/USDT") <= 30


def test_prices_push_one_or_many_and_read_the_last_n_as_decimals(api):
    api.post(
        "/api/v1/memory/prices/", {"symbol": "BTC/USDT", "timeframe": "1h", "price": "45000.1"}, format="json"
    )
    api.post(
        "/api/v1/memory/prices/",
        {"symbol": "BTC/USDT", "timeframe": "1h", "prices": [45000.2, "45000.30000001"]},
        format="json",
    )

    response = api.get("/api/v1/memory/prices/?symbol=BTC/USDT&timeframe=1h&limit=2")

    assert response.json()["prices"] == ["45000.30000001", "45000.20000000"]


def test_prices_refuse_bad_numbers(api):
    body = {"symbol": "BTC/USDT", "timeframe": "1h", "price": "NaN"}

    assert api.post("/api/v1/memory/prices/", body, format="json").status_code == 400
    assert api.get("/api/v1/memory/prices/?symbol=BTC/USDT&timeframe=1h").json()["prices"] == []


def test_indicators_by_symbol_name_and_params(api, redis_client):
    api.put(
        "/api/v1/memory/indicators/",
        {"symbol": "BTC/USDT", "name": "macd", "params": [12, 26, 9], "value": {"macd": 1.5, "signal": 1.2}},
        format="json",
    )

    response = api.get("/api/v1/memory/indicators/?symbol=BTC/USDT&name=macd&params=12,26,9")

    assert response.json()["value"] == {"macd": 1.5, "signal": 1.2}
    assert redis_client.exists("indicators:BTC/USDT:macd:12,26,9")


def test_decision_cache_matches_the_same_context_in_any_key_order(api):
    api.put(
        "/api/v1/memory/decision-cache/",
        {"context": {"symbol": "BTC/USDT", "rsi": 28}, "decision": {"action": "buy", "size": "0.01"}},
        format="json",
    )

    hit = api.post(
        "/api/v1/memory/decision-cache/lookup/", {"context": {"rsi": 28, "symbol": "BTC/USDT"}}, format="json"
    )
    miss = api.post("/api/v1/memory/decision-cache/lookup/", {"context": {"rsi": 29}}, format="json")

    assert hit.status_code == 200 and hit.json()["decision"] == {"action": "buy", "size": "0.01"}
    assert miss.status_code == 404


def test_portfolio_positions(api, redis_client):
    positions = [{"symbol": "BTC/USDT", "amount": "0.5"}]

    api.put("/api/v1/memory/portfolio-positions/", {"positions": positions}, format="json")

    assert api.get("/api/v1/memory/portfolio-positions/").json() == {"positions": positions}
    assert 0 < redis_client.ttl("portfolio:positions") <= 60


def test_rate_limit_check_allows_then_says_when_to_retry(api):
    body = {"exchange": "binance", "endpoint": "ticker", "limit": 2}

    answers = [api.post("/api/v1/memory/rate-limit/", body, format="json") for _ in range(3)]

    assert [a.json()["allowed"] for a in answers] == [True, True, False]
    assert answers[2].json()["retry_after"] >= 1
    assert int(answers[2]["Retry-After"]) == answers[2].json()["retry_after"]


def test_bad_keys_are_400s(api):
    assert api.get("/api/v1/memory/market-context/").status_code == 400
    assert api.get("/api/v1/memory/market-context/?symbol=BTC USDT").status_code == 400
    assert api.put("/api/v1/memory/ticker/", {"symbol": "BTC/USDT"}, format="json").status_code == 400


class TestRedisDown:
    @pytest.fixture(autouse=True)
    def redis_down(self, settings):
        settings.REDIS_URL = CLOSED_PORT_URL
        settings.REDIS_SOCKET_TIMEOUT = 0.2

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("get", "/api/v1/memory/market-context/?symbol=BTC/USDT", None),
            ("put", "/api/v1/memory/market-context/", {"symbol": "BTC/USDT", "context": {}}),
            ("get", "/api/v1/memory/tickers/", None),
            ("get", "/api/v1/memory/prices/?symbol=BTC/USDT&timeframe=1h", None),
            ("post", "/api/v1/memory/prices/", {"symbol": "BTC/USDT", "timeframe": "1h", "price": "1"}),
            ("post", "/api/v1/memory/decision-cache/lookup/", {"context": {"a": 1}}),
            ("post", "/api/v1/memory/rate-limit/", {"exchange": "binance", "endpoint": "ticker"}),
        ],
    )
    def test_short_term_memory_answers_503_that_says_redis_is_down(self, api, method, path, body):
        response = getattr(api, method)(path, body, format="json") if body else getattr(api, method)(path)

        assert response.status_code == 503
        assert "Redis" in response.json()["message"]
        assert response.json()["code"] == "short_term_memory_unavailable"

    def test_the_record_still_works_while_redis_is_down(self, api, binance):
        order = {
            "exchange": "binance",
            "id": "1",
            "symbol": "BTC/USDT",
            "side": "buy",
            "type": "market",
            "status": "closed",
            "amount": "0.01",
            "filled": "0.01",
            "timestamp": 1_767_225_600_000,
        }

        assert api.post("/api/v1/orders/", order, format="json").status_code == 201
