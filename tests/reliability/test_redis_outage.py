"""Redis stopped and started under the app: the record and the admin carry on, short-term memory answers
503 (its reads are misses), the exchange rate-limit check fails closed, and the outage is one event."""

from __future__ import annotations

import time
from collections import Counter

from .conftest import AGENT_TOKEN, admin_login
from .servers import Client, wait_until

CALLS_DURING_OUTAGE = 8


def _order(order_id: str) -> dict:
    return {
        "exchange": "binance",
        "id": order_id,
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "status": "open",
        "amount": "0.01",
        "price": "45000.1",
        "timestamp": 1_767_225_600_000,
    }


CONTEXT = {"symbol": "BTC/USDT", "context": {"trend": "down", "rsi_1h": "27.5"}}
LIMIT_CHECK = {"exchange": "binance", "endpoint": "create_order", "limit": 50, "window": 10}


def test_redis_outage_degrades_memory_only_and_is_recorded_once(
    postgres, database, redis_server, app_env, start_app, measured
):
    app = start_app(app_env)
    agent = Client(app.port, token=AGENT_TOKEN)
    operator = Client(app.port)
    assert admin_login(operator).status == 302
    assert agent.request("PUT", "/api/v1/memory/market-context/", CONTEXT).status == 200
    assert agent.request("POST", "/api/v1/memory/rate-limit/", LIMIT_CHECK).json()["allowed"] is True

    redis_server.stop()
    answers = []
    for n in range(CALLS_DURING_OUTAGE):
        answers.append(
            {
                "order": agent.request("POST", "/api/v1/orders/", _order(f"r-{n}")),
                "read": agent.request("GET", "/api/v1/memory/market-context/?symbol=BTC/USDT"),
                "write": agent.request("PUT", "/api/v1/memory/market-context/", CONTEXT),
                "limit": agent.request("POST", "/api/v1/memory/rate-limit/", LIMIT_CHECK),
                "admin": operator.request("GET", "/admin/execution/order/"),
            }
        )
    health = agent.request("GET", "/api/v1/health/").json()
    sign_in = admin_login(Client(app.port))  # a new sign-in too: its attempt limit counts in process
    events = postgres.execute(
        "SELECT data FROM system_events WHERE event_type = 'redis_unavailable'", database=database
    )
    redis_server.start()  # the same port: the app reconnects by itself
    restarted = time.monotonic()
    measured["calls_during_outage"] = {
        name: dict(Counter(a[name].status for a in answers)) for name in answers[0]
    }
    measured["redis_unavailable_events"] = len(events)

    for answer in answers:
        assert answer["order"].status == 201  # the record never needed Redis
        assert answer["admin"].status == 200
        for memory in ("read", "write"):
            assert answer[memory].status == 503
            assert answer[memory].json()["code"] == "short_term_memory_unavailable"
            assert "Redis is unreachable" in answer[memory].json()["message"]
        limit = answer["limit"]
        assert limit.status == 503 and limit.headers["retry-after"] == "1"
        assert "fails closed" in limit.json()["message"]
    assert health["status"] == "degraded" and health["redis"]["status"] == "down"
    assert health["postgresql"]["status"] == "up"
    assert sign_in.status == 302
    # One gunicorn worker, one outage: one event, however many calls met it.
    assert len(events) == 1, events
    recorded = postgres.execute("SELECT count(*) FROM orders", database=database)[0][0]
    assert recorded == CALLS_DURING_OUTAGE

    def memory_back() -> bool:
        return agent.request("PUT", "/api/v1/memory/market-context/", CONTEXT).status == 200

    wait_until(memory_back, timeout=10, what="short-term memory after Redis came back")
    measured["memory_back_after_seconds"] = round(time.monotonic() - restarted, 2)
    read = agent.request("GET", "/api/v1/memory/market-context/?symbol=BTC/USDT")
    assert read.status == 200 and read.json()["context"] == CONTEXT["context"]
    assert agent.request("POST", "/api/v1/memory/rate-limit/", LIMIT_CHECK).json()["allowed"] is True
    assert agent.request("GET", "/api/v1/health/").json()["redis"]["status"] == "up"
