"""Shared pieces of the benchmarks: scratch databases, Django pointed at them, timing, and results.

Every benchmark creates its own PostgreSQL database (named bench_*), migrates it, and drops it at the
end (--keep-db keeps it); Redis work uses database 8 only. Results are printed and, with --json PATH,
written for bench/run_all.py, which puts them in bench/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")


# --- arguments and results ----------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--json", type=Path, help="Also write the figures to this file (for run_all.py).")
    arguments.add_argument("--keep-db", action="store_true", help="Keep the scratch database afterwards.")
    return arguments


@dataclass
class Figure:
    figure: str
    result: str
    baseline: str
    target: str
    met: bool | None  # None: informational, no target
    detail: str = ""


@dataclass
class Results:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, **kwargs) -> Figure:
        figure = Figure(**kwargs)
        self.figures.append(figure)
        mark = {True: "MET", False: "MISSED", None: "info"}[figure.met]
        print(f"  [{mark}] {figure.figure}: {figure.result}")
        print(f"         baseline: {figure.baseline}; target: {figure.target}")
        if figure.detail:
            print(f"         {figure.detail}")
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}")

    def write(self, path: Path | None) -> None:
        if path is not None:
            path.write_text(json.dumps(asdict(self), indent=2))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def timed():
    """with timed() as t: ...; t() is the seconds elapsed (so far, or in all once the block ended)."""
    started = time.perf_counter()
    finished: list[float] = []

    def elapsed() -> float:
        return (finished[0] if finished else time.perf_counter()) - started

    try:
        yield elapsed
    finally:
        finished.append(time.perf_counter())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
    }


def expect(condition: bool, message: str) -> None:
    """A check of the benchmark's own work (not an assert, which -O would skip)."""
    if not condition:
        raise RuntimeError(message)


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "n/a"


# --- databases ----------------------------------------------------------------------------------


def database_url(name: str) -> str:
    return f"{POSTGRES_SERVER.rstrip('/')}/{name}"


def _admin_connection():
    import psycopg

    return psycopg.connect(database_url("postgres"), autocommit=True)


def create_database(name: str) -> str:
    if not name.startswith("bench_"):
        raise ValueError("Benchmark databases are named bench_*.")
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


def drop_database(name: str) -> None:
    if not name.startswith("bench_"):
        raise ValueError("Benchmark databases are named bench_*.")
    from django.db import connections

    connections.close_all()
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_environment(database: str, **extra: str) -> dict[str, str]:
    """The environment a process needs to run Django against the scratch database and Redis db 8."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tradeoffice.settings.test",
        DATABASE_URL=database_url(database),
        REDIS_URL=REDIS_URL,
        DATABASE_CONN_MAX_AGE="60",
        DJANGO_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def setup_django(database: str, *, migrate: bool = True, **extra: str) -> None:
    """Create the scratch database, point this process's Django at it, migrate."""
    create_database(database)
    os.environ.update(django_environment(database, **extra))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        with timed() as elapsed:
            call_command("migrate", verbosity=0)
        log(f"database {database} created and migrated in {elapsed():.1f} s")


def setup_django_without_database(**extra: str) -> None:
    """Django for code that needs settings but no table (short-term memory, embedders)."""
    os.environ.update(django_environment("postgres", **extra))
    import django

    django.setup()


def flush_redis() -> None:
    """FLUSHDB on the benchmarks' Redis database (8) only."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    if client.connection_pool.connection_kwargs.get("db") != 8:
        raise RuntimeError("The benchmarks flush Redis database 8 only.")
    client.flushdb()
    client.close()


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measured(command: list[str], *, env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, str]:
    """Run a child process; (seconds, its peak resident memory in MB, its output)."""
    import subprocess

    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output
