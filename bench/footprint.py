"""Target 7: a gunicorn worker serving the API stays under 150 MB resident.

One sync worker under the production settings, with the embedded long-term memory (Qdrant Edge) in the
worker, serves a round of every kind of agent call (orders, a 100-trade batch, positions, a decision, an
experience written through to long-term memory, recall, short-term memory, the lists, health, the OpenAPI
schema) many times over. Its resident memory is read from /proc after boot, after the traffic, and its
peak (VmHWM). The baseline is the same gunicorn worker serving a WSGI app that only says hello: the floor
of Python and gunicorn on this machine, measured in the same run.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

from _common import Results, drop_database, expect, log, parser, setup_django
from api_writes import (
    Client,
    ccxt_order,
    ccxt_trades,
    free_port,
    server_environment,
    start_gunicorn,
    stop,
)

DATABASE = "bench_footprint"


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    expect(len(children) == 1, f"expected one gunicorn worker, found {children}")
    return int(children[0])


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def get(client: Client, path: str) -> int:
    client.connection.request("GET", path, headers=client.headers)
    response = client.connection.getresponse()
    response.read()
    return response.status


def one_round(client: Client, n: int) -> None:
    position = {
        "exchange": "binance", "symbol": f"FP{n % 50}/USDT", "side": "long", "amount": "0.5",
        "entry_price": "45000", "current_price": "45100",
    }  # fmt: skip
    decision = {
        "id": f"dec-fp-{n}", "decision_layer": "tactical", "input_context": {"rsi": 27.5},
        "thought_process": "RSI oversold, funding negative.", "tools_used": ["recall"],
        "decision": "Buy 0.01 BTC", "action_taken": "create_order", "model_used": "gpt-4o",
        "tokens_used": 1800, "latency_ms": 900,
    }  # fmt: skip
    experience = {
        "id": f"exp-fp-{n}", "symbol": "BTC/USDT", "situation": f"BTC oversold on the 1h, drop {n % 9}%",
        "tags": ["btc", "oversold"], "decision": "Long 0.01 BTC", "decision_reasoning": "Bounce setup.",
        "outcome": "success" if n % 3 else "failure", "pnl": "22.79", "pnl_percentage": "4.2200",
        "importance_score": 0.8, "lessons_learned": ["Scale in"],
    }  # fmt: skip
    recall = {
        "text": "BTC oversold after a sharp drop",
        "outcome": "success",
        "min_importance": 0.5,
        "limit": 5,
    }
    context = {"symbol": "BTC/USDT", "context": {"trend": "up", "n": n}}
    statuses = [
        client.post("/api/v1/orders/?exchange=binance", ccxt_order(f"fp-{n}", 0))[0],
        client.post("/api/v1/orders/?exchange=binance", ccxt_order(f"fp-{n}", 2))[0],
        client.post("/api/v1/trades/?exchange=binance", ccxt_trades(f"fp-{n}", 100))[0],
        client.post("/api/v1/positions/", position)[0],
        client.post("/api/v1/decisions/", decision)[0],
        client.post("/api/v1/experiences/", experience)[0],
        client.post("/api/v1/memory/recall/", recall)[0],
        client.post("/api/v1/memory/market-context/", context, method="PUT")[0],
        get(client, "/api/v1/orders/?symbol=BTC/USDT"),
        get(client, "/api/v1/trades/?exchange=binance"),
        get(client, "/api/v1/current-positions/"),
        get(client, "/api/v1/experiences/?outcome=success"),
        get(client, "/api/v1/health/"),
    ]
    if n % 25 == 0:
        statuses.append(get(client, "/api/v1/schema/"))
    expect(all(status < 300 for status in statuses), f"a call failed in round {n}: {statuses}")


HELLO = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--rounds", type=int, default=300, help="Rounds of every kind of call (300).")
    options = arguments.parse_args()
    results = Results(bench="footprint")

    from cryptography.fernet import Fernet

    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(64)
    os.environ["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    setup_django(DATABASE)
    from apps.agents.services import agent_create
    from apps.exchanges.services import exchange_register

    exchange_register(name="binance", api_key="bench-key", api_secret="bench-secret")  # noqa: S106
    token = agent_create(name="bench").token
    try:
        with tempfile.TemporaryDirectory(prefix="bench-footprint-") as directory:
            env = server_environment(DATABASE, str(Path(directory) / "qdrant"))
            # The lean configuration; a worker with the ONNX model (the default): memory_onnx.py (target 10).
            env["MEMORY_EMBEDDER"] = "hashing"
            port = free_port()
            server = start_gunicorn(port=port, workers=1, threads=1, env=env)
            try:
                pid = worker_pid(server.pid)
                booted = memory_mb(pid)
                client = Client(port, token)
                log(f"{options.rounds} rounds of agent calls through one worker (pid {pid})")
                started = time.perf_counter()
                for n in range(options.rounds):
                    one_round(client, n)
                    if n == 9:
                        warm = memory_mb(pid)
                seconds = time.perf_counter() - started
                after = memory_mb(pid)
            finally:
                stop(server)

            (Path(directory) / "hello_wsgi.py").write_text(HELLO)
            env["PYTHONPATH"] = directory
            port = free_port()
            hello = start_gunicorn(port=port, workers=1, threads=1, env=env, app="hello_wsgi:application")
            try:
                hello_pid = worker_pid(hello.pid)
                for _ in range(100):
                    get(Client(port, token), "/")
                floor = memory_mb(hello_pid)
            finally:
                stop(hello)
    finally:
        if not options.keep_db:
            drop_database(DATABASE)

    results.add(
        figure="resident memory of a gunicorn worker serving the API (production settings, Qdrant Edge)",
        result=(
            f"{after['VmRSS']:.0f} MB after {options.rounds} rounds of every call ({seconds:.0f} s); "
            f"peak {after['VmHWM']:.0f} MB; {booted['VmRSS']:.0f} MB after boot, "
            f"{warm['VmRSS']:.0f} MB after 10 rounds"
        ),
        baseline=f"the same gunicorn worker serving a hello-world WSGI app: {floor['VmRSS']:.0f} MB",
        target="< 150 MB resident",
        met=after["VmHWM"] < 150,
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
