"""Target 2: agent writes through the API under gunicorn on loopback with 16 concurrent clients.

Single order upserts (each order posted three times as it fills: open, partly filled, closed, ccxt's
structure as is) at p50 <= 10 ms and p99 <= 50 ms; a batch of 1,000 ccxt trades accepted at >= 5,000
trades/s. Both beside a plain DRF ModelSerializer endpoint doing the same writes on the same server
(bench/bench_urls.py), measured in the same run. The server runs the production settings against a
scratch database; the clients are threads of this process with keep-alive connections.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import (
    ROOT,
    Results,
    django_environment,
    drop_database,
    expect,
    log,
    parser,
    percentile,
    setup_django,
)

DATABASE = "bench_api"
HOST = "127.0.0.1"
T0 = 1_767_225_600_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_environment(database: str, qdrant_path: str) -> dict[str, str]:
    return django_environment(
        database,
        DJANGO_SETTINGS_MODULE="bench_settings",
        DJANGO_SECRET_KEY=os.environ["DJANGO_SECRET_KEY"],
        FIELD_ENCRYPTION_KEYS=os.environ["FIELD_ENCRYPTION_KEYS"],
        DJANGO_SECURE_SSL_REDIRECT="False",
        DJANGO_ALLOWED_HOSTS=HOST,
        # The limiter still counts every request in Redis; only its limit is out of the way.
        API_RATE_LIMIT_PER_MINUTE="1000000000",
        QDRANT_PATH=qdrant_path,
        PYTHONPATH=str(ROOT / "bench"),
    )


def start_gunicorn(
    *, port: int, workers: int, threads: int, env: dict[str, str], app: str = "tradeoffice.wsgi:application"
) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"), app, "--bind", f"{HOST}:{port}",
        "--workers", str(workers), "--threads", str(threads),
        "--worker-class", "gthread" if threads > 1 else "sync",
        "--backlog", "2048", "--log-level", "warning", "--timeout", "120",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/api/v1/health/")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


class Client:
    """One keep-alive connection posting JSON with the agent's token."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body, method: str = "POST") -> tuple[int, float]:
        payload = json.dumps(body)
        started = time.perf_counter()
        self.connection.request(method, path, payload, self.headers)
        response = self.connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started


def run_clients(count: int, work, *, seconds: float | None = None, rounds: int | None = None):
    """`count` threads each calling work(client_index, round) until the time or the rounds are up;
    the latencies of the calls (seconds) and the wall time."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(count + 1)
    deadline: list[float] = []

    def loop(index: int) -> None:
        mine = []
        start.wait()
        round_ = 0
        while (rounds is None or round_ < rounds) and (seconds is None or time.perf_counter() < deadline[0]):
            try:
                status, elapsed = work(index, round_)
            except Exception as exc:  # noqa: BLE001 - reported below, the benchmark stops
                failures.append(f"{type(exc).__name__}: {exc}")
                break
            if status >= 300:
                failures.append(f"HTTP {status}")
                break
            mine.append(elapsed)
            round_ += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    deadline.append(time.perf_counter() + (seconds or 0))
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    expect(not failures, f"requests failed: {failures[:3]}")
    return latencies, wall


def ccxt_order(order_id: str, step: int) -> dict:
    filled = ["0", "0.004", "0.01"][step]
    return {
        "id": order_id, "clientOrderId": f"c-{order_id}", "timestamp": T0,
        "datetime": "2026-01-01T00:00:00.000Z",
        "symbol": "BTC/USDT", "type": "limit", "side": "buy", "price": 45000.5, "amount": 0.01,
        "filled": float(filled), "remaining": 0.01 - float(filled), "cost": 45000.5 * float(filled),
        "status": ["open", "open", "closed"][step], "fee": {"cost": 0.045, "currency": "USDT"},
        "trades": [], "timeInForce": "GTC", "postOnly": False,
        "info": {"orderId": order_id, "status": ["NEW", "PARTIALLY_FILLED", "FILLED"][step]},
    }  # fmt: skip


def plain_order(order_id: str, step: int, exchange_id: int) -> dict:
    filled = ["0", "0.004", "0.01"][step]
    return {
        "id": order_id, "client_order_id": f"c-{order_id}", "exchange": exchange_id, "symbol": "BTC/USDT",
        "side": "buy", "type": "limit", "status": ["open", "partially_filled", "filled"][step],
        "price": "45000.5", "amount": "0.01", "filled": filled, "remaining": str(0.01 - float(filled)),
        "cost": str(45000.5 * float(filled)), "fee": "0.045", "fee_currency": "USDT", "timestamp": T0,
        "datetime": "2026-01-01T00:00:00Z", "raw_data": {"orderId": order_id},
    }  # fmt: skip


def ccxt_trades(prefix: str, count: int) -> list[dict]:
    when = datetime.fromtimestamp(T0 / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    return [
        {
            "id": f"{prefix}-{n}",
            "order": None,
            "timestamp": T0 + n,
            "datetime": when,
            "symbol": "BTC/USDT",
            "type": "limit",
            "side": "buy" if n % 2 else "sell",
            "takerOrMaker": "taker",
            "price": 45000.5,
            "amount": 0.001,
            "cost": 45.0005,
            "fee": {"cost": 0.045, "currency": "USDT"},
            "info": {"tradeId": n, "px": "45000.5", "sz": "0.001"},
        }
        for n in range(count)
    ]


def plain_trades(prefix: str, count: int, exchange_id: int) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{n}",
            "order": None,
            "exchange": exchange_id,
            "symbol": "BTC/USDT",
            "side": "buy" if n % 2 else "sell",
            "price": "45000.5",
            "amount": "0.001",
            "cost": "45.0005",
            "fee": "0.045",
            "fee_currency": "USDT",
            "timestamp": T0 + n,
            "datetime": "2026-01-01T00:00:00Z",
            "raw_data": {"tradeId": n},
        }
        for n in range(count)
    ]


def measure_orders(port: int, token: str, *, clients: int, seconds: float, label: str, body_for) -> dict:
    connections = [Client(port, token) for _ in range(clients)]
    path = "/api/v1/orders/?exchange=binance" if label == "api" else "/bench/plain/orders/"

    def work(index: int, round_: int, tag: str = "") -> tuple[int, float]:
        order_id = f"{label}{tag}-{index}-{round_ // 3}"
        return connections[index].post(path, body_for(order_id, round_ % 3))

    run_clients(clients, lambda i, r: work(i, r, "w"), rounds=15)  # warm up every worker
    latencies, wall = run_clients(clients, work, seconds=seconds)
    return {
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "rate": len(latencies) / wall,
        "count": len(latencies),
    }


def measure_paced_orders(
    port: int, token: str, *, clients: int, rate: float, seconds: float, label: str, body_for
):
    """Open loop: the clients together send `rate` upserts a second on a fixed schedule, each latency
    counted from the moment its request was due (a late server is charged for the wait too)."""
    connections = [Client(port, token) for _ in range(clients)]
    path = "/api/v1/orders/?exchange=binance" if label == "api" else "/bench/plain/orders/"
    interval = clients / rate
    latencies: list[float] = []
    lock = threading.Lock()
    begin = time.perf_counter() + 0.5

    def loop(index: int) -> None:
        mine, round_ = [], 0
        while True:
            due = begin + index * interval / clients + round_ * interval
            if due > begin + seconds:
                break
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            status, _ = connections[index].post(
                path, body_for(f"{label}paced-{index}-{round_ // 3}", round_ % 3)
            )
            expect(status < 300, f"HTTP {status}")
            mine.append(time.perf_counter() - due)
            round_ += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "rate": rate,
        "count": len(latencies),
    }


def measure_trades(port: int, token: str, *, clients: int, rounds: int, label: str, body_for) -> dict:
    connections = [Client(port, token) for _ in range(clients)]
    path = "/api/v1/trades/?exchange=binance" if label == "api" else "/bench/plain/trades/"
    # The bodies are built before the clock starts: what is timed is the server.
    bodies = {
        (i, r): body_for(f"{label}-{clients}-{i}-{r}", 1000) for i in range(clients) for r in range(rounds)
    }

    def work(index: int, round_: int) -> tuple[int, float]:
        return connections[index].post(path, bodies[(index, round_)])

    latencies, wall = run_clients(clients, work, rounds=rounds)
    return {
        "p50": percentile(latencies, 50),
        "rate": 1000 * len(latencies) / wall,
        "batch_rate": 1000 / percentile(latencies, 50),
    }


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--clients", type=int, default=16, help="Concurrent clients (16).")
    arguments.add_argument("--seconds", type=float, default=15, help="Seconds of order upserts per endpoint.")
    arguments.add_argument("--batches", type=int, default=3, help="Trade batches per client, 16 clients (3).")
    arguments.add_argument(
        "--rate", type=float, default=100, help="Upserts a second the 16 clients send together, paced (100)."
    )
    arguments.add_argument("--workers", type=int, default=4, help="gunicorn workers (4: two per core).")
    arguments.add_argument("--threads", type=int, default=1, help="Threads per worker (1: sync workers).")
    options = arguments.parse_args()
    results = Results(bench="api_writes")

    from cryptography.fernet import Fernet

    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(64)
    os.environ["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    setup_django(DATABASE)
    from apps.agents.services import agent_create
    from apps.exchanges.services import exchange_register
    from apps.execution.models import Order, Trade

    exchange = exchange_register(name="binance", api_key="bench-key", api_secret="bench-secret")  # noqa: S106
    token = agent_create(name="bench").token
    port = free_port()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-api-") as qdrant:
            env = server_environment(DATABASE, qdrant)
            log(f"gunicorn: {options.workers} workers x {options.threads} threads on {HOST}:{port}")
            server = start_gunicorn(port=port, workers=options.workers, threads=options.threads, env=env)
            try:
                log(f"order upserts, {options.clients} clients, {options.seconds:.0f} s per endpoint")
                api_orders = measure_orders(
                    port,
                    token,
                    clients=options.clients,
                    seconds=options.seconds,
                    label="api",
                    body_for=ccxt_order,
                )
                plain_orders = measure_orders(
                    port, token, clients=options.clients, seconds=options.seconds, label="plain",
                    body_for=lambda order_id, step: plain_order(order_id, step, exchange.pk),
                )  # fmt: skip
                log(f"order upserts paced at {options.rate:.0f}/s from {options.clients} clients")
                api_paced = measure_paced_orders(
                    port, token, clients=options.clients, rate=options.rate, seconds=options.seconds,
                    label="api", body_for=ccxt_order,
                )  # fmt: skip
                plain_paced = measure_paced_orders(
                    port, token, clients=options.clients, rate=options.rate, seconds=options.seconds,
                    label="plain", body_for=lambda order_id, step: plain_order(order_id, step, exchange.pk),
                )  # fmt: skip
                log("batches of 1,000 trades: one client, then all of them")
                api_one = measure_trades(port, token, clients=1, rounds=8, label="api", body_for=ccxt_trades)
                plain_one = measure_trades(
                    port, token, clients=1, rounds=4, label="plain",
                    body_for=lambda prefix, count: plain_trades(prefix, count, exchange.pk),
                )  # fmt: skip
                api_all = measure_trades(
                    port,
                    token,
                    clients=options.clients,
                    rounds=options.batches,
                    label="api",
                    body_for=ccxt_trades,
                )
                plain_all = measure_trades(
                    port, token, clients=options.clients, rounds=1, label="plain",
                    body_for=lambda prefix, count: plain_trades(prefix, count, exchange.pk),
                )  # fmt: skip
            finally:
                stop(server)
        expect(Order.objects.filter(status="filled").exists(), "no order reached filled")
        expect(Trade.objects.count() >= 1000 * (8 + 4), "trades are missing")
    finally:
        if not options.keep_db:
            drop_database(DATABASE)

    setup = f"gunicorn {options.workers} workers x {options.threads} thread(s)"
    results.add(
        figure=(
            f"single order upserts through the API, {options.clients} clients sending {options.rate:.0f}/s "
            f"together ({setup})"
        ),
        result=f"p50 {api_paced['p50']:.1f} ms, p99 {api_paced['p99']:.1f} ms ({api_paced['count']:,} sent)",
        baseline=(
            f"plain DRF ModelSerializer endpoint at the same rate: p50 {plain_paced['p50']:.1f} ms, "
            f"p99 {plain_paced['p99']:.1f} ms"
        ),
        target="p50 <= 10 ms, p99 <= 50 ms",
        met=api_paced["p50"] <= 10 and api_paced["p99"] <= 50,
        detail=(
            "each order posted three times as it fills (created, then updated twice, with status events); "
            "latency counted from when each request was due"
        ),
    )
    results.add(
        figure=f"the same upserts with {options.clients} clients posting back to back (saturation)",
        result=(
            f"{api_orders['rate']:,.0f} upserts/s, p50 {api_orders['p50']:.1f} ms, "
            f"p99 {api_orders['p99']:.1f} ms"
        ),
        baseline=(
            f"plain DRF ModelSerializer endpoint: {plain_orders['rate']:,.0f} upserts/s, "
            f"p50 {plain_orders['p50']:.1f} ms, p99 {plain_orders['p99']:.1f} ms"
        ),
        target="(no target: the server's capacity; latency here is queueing, 16 / throughput)",
        met=None,
    )
    results.add(
        figure="a batch of 1,000 ccxt trades through the API",
        result=(
            f"{api_one['batch_rate']:,.0f} trades/s for one batch (p50 {api_one['p50'] * 1000:.0f} ms); "
            f"{api_all['rate']:,.0f} trades/s with {options.clients} clients posting batches"
        ),
        baseline=(
            f"plain DRF ModelSerializer(many=True): {plain_one['batch_rate']:,.0f} trades/s for one batch, "
            f"{plain_all['rate']:,.0f} trades/s with {options.clients} clients"
        ),
        target=">= 5,000 trades/s with the 16 clients",
        met=api_all["rate"] >= 5000,
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
