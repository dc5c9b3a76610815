"""Target 8: reconciling 50,000 fills and 5,000 orders from the emulator beside ccxt fetching them alone.

A Binance account on the exchange emulator (tests/reconciliation/emulator.py, on loopback) holds 5,000
orders of BTC/USDT, each filled in 10 fills, spread over the last 20 days; real ccxt talks to it. Each side
runs in its own child process (the emulator serves from this one) with the same ccxt client
(apps.exchanges.client.exchange_client: the shared limiter asked before every request, ccxt's throttle off):
  - baseline: ccxt alone fetching and parsing what a run reads: markets, open orders, balances, the order
    history of the symbol with `paginate`, the fills window by window (RECONCILIATION_WINDOW_HOURS) with
    `paginate`, one window held at a time;
  - run: `reconciliation_run` on an empty record: every order and fill missing, 55,000 discrepancies
    written. Overhead = run / baseline - 1, each the fastest of --repeat alternating attempts;
  - its peak resident memory, and the same at a tenth of the history (it must not grow with it);
  - a second run with nothing new: the requests it makes per endpoint, from the emulator's request log.
Target: overhead <= 25%; peak memory < 200 MB whatever the history; a quiet run reads one page per endpoint.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

from _common import (
    ROOT,
    Results,
    django_environment,
    drop_database,
    expect,
    log,
    parser,
    run_measured,
    setup_django,
)

DATABASE = "bench_reconciliation"
SYMBOL = "BTC/USDT"
FILLS_PER_ORDER = 10
DAY_MS = 86_400_000
# The history ends this long before the first run, past the overlap a later run reads again.
QUIET_MS = 15 * 60_000
# The limiter is asked before every request on both sides; its limit is raised so that no side waits
# for it (the attempts together send more than 600 requests a minute to myTrades).
CHILD_SETTINGS = {"EXCHANGE_CCXT_THROTTLE": "false", "EXCHANGE_RATE_LIMIT_PER_MINUTE": "1000000"}


# --- the emulator's account -----------------------------------------------------------------------


def fill_account(account, *, orders: int, fills: int, days: int) -> None:
    """`orders` orders each filled in equal parts by `fills / orders` fills, evenly over `days` days."""
    from tests.reconciliation.emulator import now_ms

    per_order = max(1, fills // orders)
    end = now_ms() - QUIET_MS
    step = days * DAY_MS // orders
    start = end - orders * step
    for n in range(orders):
        placed = start + n * step
        price = f"{60000 + (n % 200) * 5 - 500:.2f}"
        side = "buy" if n % 2 == 0 else "sell"
        order_id = account.place_order(
            SYMBOL, side, "limit", f"{0.001 * per_order:.3f}", price, client_order_id=f"agent-{n}", at=placed
        )
        for k in range(per_order):
            account.fill(order_id, "0.001", at=placed + k * (step // per_order))
    account.set_balance("USDT", "100000")
    account.set_balance("BTC", "2")


# --- the two sides, each in a child process --------------------------------------------------------


def child_baseline() -> dict:
    """ccxt alone: what a run fetches, parsed by ccxt, one window of fills held at a time."""
    from django.conf import settings
    from django.utils import timezone

    from apps.common.clock import now_ms, to_ms
    from apps.exchanges.client import exchange_client
    from apps.exchanges.models import Exchange
    from apps.reconciliation.services.exchange_view import HOUR_MS, PAGINATE

    exchange = Exchange.objects.get(name="binance")
    started, cpu = time.perf_counter(), time.process_time()
    client = exchange_client(exchange=exchange)
    end_ms = now_ms() + 60_000  # the run reads to its clock plus a slack for the exchange's
    since = to_ms(timezone.now()) - settings.RECONCILIATION_FIRST_RUN_DAYS * DAY_MS
    client.load_markets()
    open_orders = len(client.fetch_open_orders())
    client.fetch_balance()
    orders = len(client.fetch_orders(SYMBOL, since, None, dict(PAGINATE)))
    fills = 0
    window = settings.RECONCILIATION_WINDOW_HOURS * HOUR_MS
    start = since
    while start <= end_ms:
        stop = min(start + window - 1, end_ms)
        fills += len(client.fetch_my_trades(SYMBOL, start, None, {"until": stop, **PAGINATE}))
        start = stop + 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "orders": orders, "open_orders": open_orders, "fills": fills}


def child_run(profile: str | None) -> dict:
    """reconcile the account (as `reconcile_exchanges --exchange binance` does), timed."""
    from apps.exchanges.models import Exchange
    from apps.reconciliation.services.runs import reconciliation_run

    exchange = Exchange.objects.get(name="binance")
    backend = database_backend()
    database_cpu = backend_cpu(backend)
    started, cpu = time.perf_counter(), time.process_time()
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        run = profiler.runcall(reconciliation_run, exchange=exchange, trigger="command")
        profiler.dump_stats(profile)
    else:
        run = reconciliation_run(exchange=exchange, trigger="command")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    database_cpu = backend_cpu(backend) - database_cpu if database_cpu is not None else None
    return {
        "seconds": seconds,
        "cpu": cpu,
        "database_cpu": database_cpu,
        "status": run.status,
        "reason": run.reason,
        "counts": run.counts,
    }


def database_backend() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backend_cpu(pid: int) -> float | None:
    """CPU seconds PostgreSQL has used for this process: its backend's, and that of the backends that have
    exited meanwhile (the run's writer connection, closed at its end), which the postmaster has reaped into
    its children's time. None when PostgreSQL is not visible here (in another container, say)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        postmaster = Path(f"/proc/{fields[1]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12]) + int(postmaster[13]) + int(postmaster[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def child(mode: str, profile: str | None) -> None:
    import django

    django.setup()
    result = child_baseline() if mode == "baseline" else child_run(profile)
    status = Path("/proc/self/status").read_text()
    result["peak_mb"] = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    print("RESULT " + json.dumps(result), flush=True)


def measured(mode: str, env: dict[str, str], profile: Path | None = None) -> tuple[dict, float]:
    """(the child's result, its peak resident memory in MB); the result's emulator_cpu is the CPU this
    process (the emulator's threads, nothing else meanwhile) used while the child ran."""
    emulator_cpu = time.process_time()
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode]
    if profile is not None:
        command += ["--profile-to", str(profile)]
    # The child's own high-water mark (VmHWM of /proc/self/status), not wait4's ru_maxrss: Linux carries
    # the maximum across exec, so that would be this process's size when it forked the child (the
    # emulator's history makes it the larger one).
    _, _, output = run_measured(command, env=env, cwd=ROOT)
    line = next(line for line in reversed(output.splitlines()) if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["emulator_cpu"] = time.process_time() - emulator_cpu
    return result, result["peak_mb"]


def account_env(account) -> dict[str, str]:
    from tests.reconciliation.emulator import api_urls

    urls = json.dumps({"binance": api_urls("binance", account.url)})
    return django_environment(DATABASE, **CHILD_SETTINGS, EXCHANGE_API_URLS=urls)


def empty_record() -> None:
    """No run, no discrepancy: the next run is a first run against an empty record."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reconciliation_discrepancies, reconciliation_runs")
        cursor.execute("CHECKPOINT")


def discrepancy_counts() -> Counter:
    from apps.reconciliation.models import Discrepancy

    return Counter(Discrepancy.objects.values_list("kind", flat=True))


def expect_complete(result: dict, orders: int, fills: int) -> None:
    expect(result["status"] == "ok", f"the run is {result['status']}: {result['reason']}")
    counts = result["counts"]
    expect(
        counts["orders_fetched"] == orders and counts["fills_fetched"] == fills,
        f"the run read {counts}, not {orders} orders and {fills} fills",
    )
    found = discrepancy_counts()
    expect(
        found == Counter({"missing_order": orders, "missing_trade": fills}),
        f"the run wrote {dict(found)}, not {orders} missing orders and {fills} missing trades",
    )


# --- the parent ------------------------------------------------------------------------------------


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--orders", type=int, default=5_000, help="Orders on the account (5,000).")
    arguments.add_argument("--fills", type=int, default=50_000, help="Their fills (50,000).")
    arguments.add_argument("--days", type=int, default=20, help="Days the history spreads over (20).")
    arguments.add_argument("--repeat", type=int, default=2, help="Attempts of each side; the fastest counts.")
    arguments.add_argument("--profile", type=Path, help="Also write a cProfile of one run to this file.")
    arguments.add_argument("--child", choices=["baseline", "run"], help=argparse_hidden())
    arguments.add_argument("--profile-to", help=argparse_hidden())
    options = arguments.parse_args()
    if options.child:
        child(options.child, options.profile_to)
        return
    results = Results(bench="reconciliation")
    orders, fills = options.orders, options.orders * max(1, options.fills // options.orders)
    small_orders, small_fills = max(1, orders // 10), max(1, orders // 10) * (fills // orders)

    from tests.reconciliation.emulator import EmulatorServer

    with EmulatorServer() as server:
        account = server.add_account("binance")
        small = server.add_account("binance", "small", api_key=account.api_key, secret=account.secret)
        log(f"emulator: {orders:,} orders and {fills:,} fills over {options.days} days, and a tenth of them")
        fill_account(account, orders=orders, fills=fills, days=options.days)
        fill_account(small, orders=small_orders, fills=small_fills, days=options.days)
        # What ccxt's own load_markets asks (it reads margin/allPairs twice: for currencies and for markets).
        account.client(adjustForTimeDifference=True).load_markets()
        market_loading = Counter(r.path for r in account.requests)
        del account.requests[:]

        setup_django(DATABASE, **CHILD_SETTINGS)
        from apps.exchanges.services import exchange_register

        exchange_register(name="binance", api_key=account.api_key, api_secret=account.secret)
        env, small_env = account_env(account), account_env(small)
        try:
            log(f"a run at a tenth of the history ({small_orders:,} orders, {small_fills:,} fills)")
            small_result, small_peak = measured("run", small_env)
            expect_complete(small_result, small_orders, small_fills)

            baselines, runs = [], []
            for attempt in range(max(1, options.repeat)):
                log(f"attempt {attempt + 1}: ccxt alone")
                baseline, baseline_peak = measured("baseline", env)
                expect(
                    (baseline["orders"], baseline["fills"]) == (orders, fills),
                    f"ccxt read {baseline}, not {orders} orders and {fills} fills",
                )
                baselines.append(baseline)
                log(f"attempt {attempt + 1}: reconciliation_run on an empty record")
                empty_record()
                result, peak = measured("run", env)
                expect_complete(result, orders, fills)
                runs.append(result)
                log(f"  ccxt {baseline['seconds']:.1f} s, run {result['seconds']:.1f} s, peak {peak:.0f} MB")
                log(f"  CPU: ccxt {cpu_text(baseline)}; run {cpu_text(result)}")

            log("a second run with nothing new")
            first_request = len(account.requests)
            quiet, _ = measured("run", env)
            per_endpoint = Counter(r.path for r in account.requests[first_request:])
            expect(quiet["status"] == "ok", f"the quiet run is {quiet['status']}: {quiet['reason']}")
            expect(quiet["counts"]["new"] == 0, f"the quiet run found {quiet['counts']['new']} new")

            if options.profile:
                log(f"a profiled run into {options.profile}")
                empty_record()
                measured("run", env, profile=options.profile.resolve())
        finally:
            if not options.keep_db:
                drop_database(DATABASE)

    baseline_s, run_s = min(b["seconds"] for b in baselines), min(r["seconds"] for r in runs)
    overhead = run_s / baseline_s - 1
    spread = ", ".join(f"{r['seconds']:.1f}/{b['seconds']:.1f}" for r, b in zip(runs, baselines, strict=True))
    fastest = min(runs, key=lambda r: r["seconds"])
    fastest_baseline = min(baselines, key=lambda b: b["seconds"])
    results.add(
        figure=f"reconciliation_run, {orders:,} orders and {fills:,} fills, empty record",
        result=f"{run_s:.1f} s = ccxt + {overhead:.0%} ({(orders + fills) / run_s:,.0f} discrepancies/s)",
        baseline=f"ccxt alone fetching and parsing the same {baseline_s:.1f} s",
        target="<= ccxt + 25%",
        met=overhead <= 0.25,
        detail=f"run/ccxt seconds in each attempt: {spread}; CPU seconds of the fastest: "
        f"run {cpu_text(fastest)}, ccxt {cpu_text(fastest_baseline)}",
    )
    results.add(
        figure="reconciliation_run peak resident memory",
        result=f"{peak:.0f} MB at {orders:,} orders and {fills:,} fills",
        baseline=f"{small_peak:.0f} MB at a tenth of the history; ccxt alone {baseline_peak:.0f} MB",
        target="< 200 MB, whatever the history",
        met=peak < 200 and peak <= small_peak * 1.25,
    )
    data = per_endpoint - market_loading
    markets = per_endpoint - data
    results.add(
        figure="a second run with nothing new: requests per endpoint",
        result=f"{', '.join(f'{path} {count}' for path, count in sorted(data.items()))}; "
        f"{quiet['seconds']:.1f} s",
        baseline=f"load_markets: {markets.total()} requests, as ccxt alone ({market_loading.total()})",
        target="one page per endpoint",
        met=max(data.values()) == 1 and markets == market_loading,
        detail="load_markets: " + ", ".join(f"{path} {count}" for path, count in sorted(markets.items())),
    )
    results.note(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results.write(options.json)


def cpu_text(result: dict) -> str:
    """CPU seconds of a side: its process, the PostgreSQL backend it used, the emulator answering it."""
    parts = [
        ("process", result["cpu"]),
        ("PostgreSQL", result.get("database_cpu")),
        ("emulator", result["emulator_cpu"]),
    ]
    known = [(name, value) for name, value in parts if value is not None]
    total = sum(value for _, value in known)
    return f"{total:.1f} ({' + '.join(f'{name} {value:.1f}' for name, value in known)})"


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
