"""The soak: mixed agent traffic from concurrent clients against gunicorn on private servers, with PostgreSQL
and Redis each restarted once; then every acknowledged write is counted in PostgreSQL.

    .venv/bin/python tests/soak/run_soak.py --duration 600 --clients 32      (make soak)

Pass: no acknowledged write missing, no 5xx outside the restart windows, no 500 at all, long-term memory
converged afterwards (sync_memory, then check_memory without drift). Exit 1 otherwise. Latency percentiles
are reported, for the whole run and outside the restart windows.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.reliability.servers import Client, Stack, manage, private_stack

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
RECOVERY_GRACE_SECONDS = 5.0  # after a server is back, requests may still meet its stale connections


@dataclass
class Call:
    op: str
    started: float
    seconds: float
    status: int  # 0: no HTTP answer (transport error)
    code: str = ""


@dataclass
class Acked:
    orders: set[str] = field(default_factory=set)
    filled: set[str] = field(default_factory=set)
    trades: set[str] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)
    experiences: set[str] = field(default_factory=set)


class Agent(threading.Thread):
    """One trading agent's loop: record, read, remember, recall; every answer kept."""

    WEIGHTS = {
        "order": 18, "fill": 6, "trades": 10, "decision": 10, "experience": 6, "recall": 8,
        "context_write": 8, "context_read": 10, "prices": 6, "positions_read": 6, "orders_read": 8,
        "rate_limit": 4,
    }  # fmt: skip

    def __init__(
        self, number: int, port: int, token: str, stop: threading.Event, deadline: float, think: float
    ):
        super().__init__(daemon=True, name=f"agent-{number}")
        self.number = number
        self.client = Client(port, token=token, timeout=30)
        self.stop = stop
        self.deadline = deadline
        self.think = think
        self.random = random.Random(number)
        self.calls: list[Call] = []
        self.acked = Acked()
        self.open_orders: list[str] = []
        self.n = 0

    def run(self) -> None:
        ops, weights = zip(*self.WEIGHTS.items(), strict=True)
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            self.n += 1
            op = self.random.choices(ops, weights)[0]
            getattr(self, f"_{op}")()
            if self.think:
                time.sleep(self.random.uniform(0, 2 * self.think))

    def _call(self, op: str, method: str, path: str, body=None, headers=None):
        started = time.monotonic()
        try:
            reply = self.client.request(method, path, body, headers)
        except OSError:
            self.calls.append(Call(op, started, time.monotonic() - started, 0))
            return None
        code = ""
        if reply.status >= 400:
            try:
                code = reply.json().get("code", "")
            except ValueError:
                code = "not-json"
        self.calls.append(Call(op, started, reply.seconds, reply.status, code))
        if reply.status == 503 and reply.headers.get("retry-after", "").isdigit():
            # As an agent should: wait as told (bounded), rather than hammer a restarting server.
            time.sleep(min(float(reply.headers["retry-after"]), 2.0) * self.random.uniform(0.5, 1.0))
        return reply

    @staticmethod
    def _ok(reply) -> bool:
        return reply is not None and 200 <= reply.status < 300

    def _order_body(self, order_id: str, **extra) -> dict:
        return {
            "exchange": "binance", "id": order_id, "clientOrderId": f"c-{order_id}", "symbol": "BTC/USDT",
            "side": "buy", "type": "limit", "status": "open", "amount": "0.02", "price": "45000.1",
            "timestamp": 1_767_225_600_000 + self.n, **extra,
        }  # fmt: skip

    def _order(self) -> None:
        order_id = f"s{self.number}-{self.n}"
        if self._ok(self._call("order", "POST", "/api/v1/orders/", self._order_body(order_id))):
            self.acked.orders.add(order_id)
            self.open_orders.append(order_id)

    def _fill(self) -> None:
        if not self.open_orders:
            return self._order()
        order_id = self.open_orders.pop(self.random.randrange(len(self.open_orders)))
        body = self._order_body(order_id, status="closed", filled="0.02", cost="900.002", average="45000.1")
        if self._ok(self._call("fill", "POST", "/api/v1/orders/", body)):
            self.acked.filled.add(order_id)
        else:
            self.open_orders.append(order_id)  # try again later
        return None

    def _trades(self) -> None:
        if not self.acked.orders:
            return self._order()
        order_id = self.random.choice(sorted(self.acked.orders))
        ids = [f"t{self.number}-{self.n}-{k}" for k in range(2)]
        fee = {"cost": "0.0000001", "currency": "BTC"}
        trades = [
            {"id": trade_id, "order": order_id, "timestamp": 1_767_225_700_000 + self.n, "symbol": "BTC/USDT",
             "side": "buy", "price": "45000.1", "amount": "0.001", "fee": fee}
            for trade_id in ids
        ]  # fmt: skip
        if self._ok(self._call("trades", "POST", "/api/v1/trades/?exchange=binance", trades)):
            self.acked.trades.update(ids)
        return None

    def _decision(self) -> None:
        decision_id = f"d{self.number}-{self.n}"
        body = {
            "id": decision_id, "decision_layer": "tactical",
            "input_context": {"symbol": "BTC/USDT", "price": "45000.1", "rsi_1h": 27.5},
            "thought_process": "RSI oversold and funding negative.", "decision": "Buy 0.02 BTC",
            "tools_used": ["fetch_ticker", "recall"], "model_used": "gpt-4o", "tokens_used": 1800,
        }  # fmt: skip
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if self._ok(self._call("decision", "POST", "/api/v1/decisions/", body, headers)):
            self.acked.decisions.add(decision_id)

    def _experience(self) -> None:
        experience_id = f"e{self.number}-{self.n}"
        body = {
            "id": experience_id, "symbol": self.random.choice(SYMBOLS),
            "situation": f"Oversold after a {self.random.randint(2, 9)}% drop, funding negative",
            "tags": ["oversold", self.random.choice(["reversal", "breakout", "range"])],
            "decision": "Long", "decision_reasoning": "Bounces worked in this range.",
            "outcome": self.random.choice(["success", "failure"]), "pnl": "12.50", "importance_score": 0.6,
        }  # fmt: skip
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if self._ok(self._call("experience", "POST", "/api/v1/experiences/", body, headers)):
            self.acked.experiences.add(experience_id)

    def _recall(self) -> None:
        body = {"text": "oversold after a sharp drop, funding negative", "limit": 5}
        self._call("recall", "POST", "/api/v1/memory/recall/", body)

    def _context_write(self) -> None:
        body = {"symbol": self.random.choice(SYMBOLS), "context": {"trend": "down", "rsi_1h": 27.5}}
        self._call("context_write", "PUT", "/api/v1/memory/market-context/", body)

    def _context_read(self) -> None:
        symbol = self.random.choice(SYMBOLS)
        self._call("context_read", "GET", f"/api/v1/memory/market-context/?symbol={symbol}")

    def _prices(self) -> None:
        body = {"symbol": "BTC/USDT", "timeframe": "1m", "prices": ["45000.1", "45001.2", "44999.9"]}
        self._call("prices", "POST", "/api/v1/memory/prices/", body)

    def _positions_read(self) -> None:
        self._call("positions_read", "GET", "/api/v1/current-positions/?exchange=binance")

    def _orders_read(self) -> None:
        self._call("orders_read", "GET", "/api/v1/orders/?page_size=20")

    def _rate_limit(self) -> None:
        body = {
            "exchange": "binance",
            "endpoint": f"fetch_ticker_{self.number}",
            "limit": 100000,
            "window": 60,
        }
        self._call("rate_limit", "POST", "/api/v1/memory/rate-limit/", body)


# --- the run -----------------------------------------------------------------------------------------


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _restart(stack: Stack, which: str, outage: float, windows: list[dict], log) -> None:
    began = time.monotonic()
    log(f"stopping {which}")
    if which == "postgresql":
        stack.postgres.stop("fast")
    else:
        stack.redis.stop()
    time.sleep(outage)
    if which == "postgresql":
        stack.postgres.start()
    else:
        stack.redis.start()
    back = time.monotonic()
    log(f"{which} back after {back - began:.1f} s")
    windows.append({"server": which, "from": began, "to": back + RECOVERY_GRACE_SECONDS})


def _verify(stack: Stack, agents: list[Agent]) -> dict:
    def ids(sql: str) -> set[str]:
        return {row[0] for row in stack.postgres.execute(sql, database=stack.database)}

    acked = Acked()
    for agent in agents:
        for name in ("orders", "filled", "trades", "decisions", "experiences"):
            getattr(acked, name).update(getattr(agent.acked, name))
    present = {
        "orders": ids("SELECT id FROM orders"),
        "filled": ids("SELECT id FROM orders WHERE status = 'filled'"),
        "trades": ids("SELECT id FROM trades"),
        "decisions": ids("SELECT id FROM decisions"),
        "experiences": ids("SELECT id FROM experiences"),
    }
    return {
        name: {
            "acknowledged": len(getattr(acked, name)),
            "missing": len(getattr(acked, name) - present[name]),
        }
        for name in present
    }


def run(
    *, duration: float, clients: int, outage: float = 5.0, think: float = 0.0, threads: int = 32, log=print
) -> dict:
    """One soak run; its report (see the module's docstring for what passes)."""
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with private_stack(agents=clients, threads=threads) as stack:
        log(f"stack up: gunicorn on 127.0.0.1:{stack.app.port}, {clients} clients for {duration:.0f} s")
        stop = threading.Event()
        begin = time.monotonic()
        agents = [
            Agent(n, stack.app.port, stack.tokens[n], stop, begin + duration, think) for n in range(clients)
        ]
        for agent in agents:
            agent.start()
        windows: list[dict] = []
        try:
            for which, at in (("postgresql", 0.30), ("redis", 0.65)):
                time.sleep(max(0.0, begin + duration * at - time.monotonic()))
                _restart(stack, which, outage, windows, log)
            while any(agent.is_alive() for agent in agents) and time.monotonic() < begin + duration + 60:
                time.sleep(0.5)
        finally:
            stop.set()
            for agent in agents:
                agent.join(timeout=60)
                agent.client.close()  # gunicorn's graceful stop would wait out idle keep-alive connections
        elapsed = time.monotonic() - begin
        redis_events = stack.postgres.execute(
            "SELECT count(*) FROM system_events WHERE event_type = 'redis_unavailable'",
            database=stack.database,
        )[0][0]
        log("traffic over; stopping gunicorn, then counting and checking memory")
        stack.app.stop()  # releases long-term memory's directory for the commands below
        gunicorn_500s = stack.app.log_text().count("Internal Server Error")
        writes = _verify(stack, agents)
        sync = manage("sync_memory", env=stack.env, check=False, timeout=600)
        check = manage("check_memory", env=stack.env, check=False, timeout=600)
        log("checked; tearing down")

    calls = [call for agent in agents for call in agent.calls]

    def in_window(call: Call) -> bool:
        # In flight at any moment of a window: a request sent just before the stop meets it too.
        return any(call.started <= w["to"] and call.started + call.seconds >= w["from"] for w in windows)

    outside = [c for c in calls if not in_window(c)]
    statuses = Counter(c.status for c in calls)
    by_op: dict[str, list[Call]] = defaultdict(list)
    for call in outside:
        by_op[call.op].append(call)
    report = {
        "started_at": started_at,
        "duration_s": round(elapsed, 1),
        "clients": clients,
        "gunicorn": f"1 worker, {threads} threads",
        "requests": len(calls),
        "requests_per_s": round(len(calls) / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "restart_windows": [
            {"server": w["server"], "from_s": round(w["from"] - begin, 1), "to_s": round(w["to"] - begin, 1)}
            for w in windows
        ],
        "in_windows": dict(Counter(f"{c.status} {c.code}".strip() for c in calls if in_window(c))),
        "5xx_outside_windows": sum(1 for c in outside if c.status >= 500),
        "5xx_outside_windows_detail": [
            f"{c.op} {c.status} {c.code} at {c.started - begin:.1f} s" for c in outside if c.status >= 500
        ][:50],
        "500_anywhere": statuses.get(500, 0),
        "500_in_gunicorn_log": gunicorn_500s,
        "transport_errors": statuses.get(0, 0),
        "latency_all": _percentiles([c.seconds for c in calls if c.status]),
        "latency_outside_windows": _percentiles([c.seconds for c in outside if c.status]),
        "latency_by_operation": {
            op: _percentiles([c.seconds for c in cs]) for op, cs in sorted(by_op.items())
        },
        "acknowledged_writes": writes,
        "acknowledged_writes_missing": sum(w["missing"] for w in writes.values()),
        "redis_unavailable_events": redis_events,
        "sync_memory": {"exit": sync.returncode, "output": sync.stdout.strip().splitlines()[-1:]},
        # The summary is stdout's last line; stderr holds the progress lines (and the error, on failure).
        "check_memory": {
            "exit": check.returncode,
            "output": check.stdout.strip().splitlines()[-1:] or check.stderr.strip().splitlines()[-3:],
        },
    }
    report["passed"] = (
        report["acknowledged_writes_missing"] == 0
        and report["5xx_outside_windows"] == 0
        and report["500_anywhere"] == 0
        and report["transport_errors"] == 0
        and sync.returncode == 0
        and check.returncode == 0
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of traffic (600)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent agents (32)")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds each server stays down (5)")
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between an agent's calls (0)")
    parser.add_argument("--threads", type=int, default=32, help="gunicorn threads (32)")
    parser.add_argument("--report", type=Path, help="also write the report as JSON here")
    options = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)

    report = run(
        duration=options.duration,
        clients=options.clients,
        outage=options.outage,
        think=options.think,
        threads=options.threads,
        log=log,
    )
    text = json.dumps(report, indent=2)
    print(text)
    if options.report:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(text + "\n")
    print("PASSED" if report["passed"] else "FAILED", flush=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
