"""Benchmark: the orders and trades changelists and a symbol search at a million rows each.

    DJANGO_SETTINGS_MODULE=tradeoffice.settings.test .venv/bin/python bench/admin_changelist.py --rows 1000000

Creates a scratch database beside the configured one (DATABASE_URL, or the embedded server),
migrates it, loads N orders and N trades with generate_series, VACUUM ANALYZEs, then times each
page with Django's test Client as a logged-in superuser (warm-up first) and prints p50/p95 beside
the target. The scratch database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeoffice.settings.test")

TARGET_P95_MS = 300.0

SYMBOLS = [
    "BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT", "AVAX/USDT",
    "DOT/USDT", "LINK/USDT", "MATIC/USDT", "LTC/USDT", "TRX/USDT", "ATOM/USDT", "NEAR/USDT", "APT/USDT",
]  # fmt: skip

# Skewed like a real book: BTC and ETH take most of the flow. $1 is a row number, $2 the exchange count.
SYMBOL_SQL = (
    "CASE WHEN n %% 10 < 4 THEN 'BTC/USDT' WHEN n %% 10 < 6 THEN 'ETH/USDT' "
    f"ELSE (ARRAY{SYMBOLS!r})[3 + ((n / 10) %% {len(SYMBOLS) - 2})::int] END"
)

ORDERS_SQL = f"""
INSERT INTO orders (id, client_order_id, exchange_id, symbol, side, type, status, price, amount, filled,
                    remaining, cost, average, fee, fee_currency, decision_id, timestamp, datetime, raw_data)
SELECT 'o' || n, 'cli-' || n, %(first_exchange)s + n %% 3, {SYMBOL_SQL},
       CASE WHEN n %% 2 = 0 THEN 'buy' ELSE 'sell' END,
       CASE WHEN n %% 5 = 0 THEN 'market' ELSE 'limit' END,
       (ARRAY['filled', 'filled', 'filled', 'canceled', 'open', 'partially_filled'])[1 + (n %% 6)::int],
       100 + (n %% 5000), 0.01 + (n %% 100) / 1000.0, 0.01, 0, 1 + (n %% 5000), 100 + (n %% 5000),
       0.001, 'USDT', CASE WHEN n %% 4 = 0 THEN 'dec-' || (n / 4) END,
       (extract(epoch FROM %(start)s::timestamptz) * 1000)::bigint + n * %(step_ms)s,
       %(start)s::timestamptz + make_interval(secs => n * %(step_ms)s / 1000.0),
       jsonb_build_object('info', jsonb_build_object('orderId', n, 'status', 'FILLED', 'timeInForce', 'GTC',
                          'clientOrderId', 'cli-' || n), 'fees', '[]'::jsonb)
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS n
"""

TRADES_SQL = """
INSERT INTO trades (id, order_id, exchange_id, symbol, side, price, amount, cost, fee, fee_currency,
                    timestamp, datetime, raw_data)
SELECT 't' || o.n, 'o' || o.n, o.exchange_id, o.symbol, o.side, o.price, o.amount, o.price * o.amount,
       0.001, 'USDT', o.timestamp + 250, o.datetime + interval '250 milliseconds',
       jsonb_build_object('info', jsonb_build_object('tradeId', o.n, 'isMaker', o.n %% 2 = 0))
FROM (SELECT substr(id, 2)::bigint AS n, exchange_id, symbol, side, price, amount, timestamp, datetime
      FROM orders WHERE id LIKE 'o%%') AS o
WHERE o.n BETWEEN %(lo)s AND %(hi)s
"""

# SOL/USDT is about 3% of the rows, BTC/USDT 40%: a narrow and a broad search.
PAGES = [
    ("orders changelist", "admin:execution_order_changelist", ""),
    ("trades changelist", "admin:execution_trade_changelist", ""),
    ("orders search SOL/USDT", "admin:execution_order_changelist", "?q=SOL/USDT"),
    ("orders search BTC/USDT", "admin:execution_order_changelist", "?q=btc/usdt"),
    ("trades search SOL/USDT", "admin:execution_trade_changelist", "?q=sol/usdt"),
]


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def load(rows: int, batch: int) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from apps.exchanges.services import exchange_register

    exchanges = [
        exchange_register(name=name, api_key=f"bench-key-{name}", api_secret=f"bench-secret-{name}")
        for name in ("binance", "okx", "kraken")
    ]
    # A year of history ending now, evenly spaced.
    start = timezone.now() - timedelta(days=365)
    step_ms = max(1, int(365 * 86_400_000 / rows))
    with connection.cursor() as cursor:
        for sql, what in ((ORDERS_SQL, "orders"), (TRADES_SQL, "trades")):
            started = time.monotonic()
            for lo in range(1, rows + 1, batch):
                hi = min(rows, lo + batch - 1)
                cursor.execute(
                    sql,
                    {
                        "first_exchange": exchanges[0].pk,
                        "start": start,
                        "step_ms": step_ms,
                        "lo": lo,
                        "hi": hi,
                    },
                )
                say(f"  {what}: {hi:,} / {rows:,} rows ({time.monotonic() - started:.0f} s)")
        say("VACUUM ANALYZE orders, trades")
        cursor.execute("VACUUM ANALYZE orders")
        cursor.execute("VACUUM ANALYZE trades")
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname IN ('orders', 'trades')"
        )
        for name, estimate in cursor.fetchall():
            say(f"  {name}: about {estimate:,} rows")


def _check(response, url: str) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}, not 200")


def time_pages(requests: int, warmup: int, explain: bool) -> list[tuple[str, float, float]]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password")
    client = Client()
    client.force_login(user)
    results = []
    for label, name, query in PAGES:
        url = reverse(name) + query
        for _ in range(warmup):
            _check(client.get(url), url)
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            _check(response, url)
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        results.append((label, p50, p95))
        say(f"  {label:<22} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
        say(
            f"    {len(captured.captured_queries)} queries; slowest {float(slowest['time']) * 1000:.1f} ms: "
            f"{slowest['sql'][:160]}"
        )
        if explain:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
                for (line,) in cursor.fetchall():
                    print("      " + line, flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="orders, and as many trades (default 1M)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first (default 3)")
    parser.add_argument("--batch", type=int, default=250_000, help="rows per INSERT (default 250k)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each page's slowest query")
    args = parser.parse_args()
    if args.rows < 1 or args.requests < 1:
        parser.error("--rows and --requests must be at least 1")

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test Client's host, in-memory e-mail
    scratch = f"tradeoffice_bench_{os.getpid()}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = scratch
    original = connection.settings_dict["NAME"]
    say(f"creating and migrating the scratch database {scratch}")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        say(f"loading {args.rows:,} orders and {args.rows:,} trades")
        started = time.monotonic()
        load(args.rows, args.batch)
        say(f"loaded in {time.monotonic() - started:.0f} s")
        say(f"timing {args.requests} requests per page after {args.warmup} warm-up requests")
        results = time_pages(args.requests, args.warmup, args.explain)
    finally:
        say(f"dropping {scratch}")
        connection.creation.destroy_test_db(original, verbosity=0)

    cpus = os.cpu_count()
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print()
    print(
        f"{args.rows:,} orders and {args.rows:,} trades; {cpus} CPUs, {memory_gib:.0f} GiB; "
        f"{args.requests} requests per page"
    )
    print(f"{'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'target p95':>11}  result")
    missed = 0
    for label, p50, p95 in results:
        ok = p95 <= TARGET_P95_MS
        missed += not ok
        print(f"{label:<22} {p50:8.1f} {p95:8.1f} {TARGET_P95_MS:>8.0f} ms  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
