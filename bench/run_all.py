"""Run every benchmark; write bench/results.md: the machine, the date, each figure beside baseline and target.

    .venv/bin/python bench/run_all.py            (make bench)
    .venv/bin/python bench/run_all.py --quick    (a tenth of the sizes: a smoke run, not the figures)
    .venv/bin/python bench/run_all.py --only tearsheet.py realized_pnl.py   (those again, the others kept)

Each benchmark's last full-size run is kept in bench/results.json (its figures, its time, the machine and the
date), and bench/results.md is written from it: a run of some benchmarks replaces theirs and keeps the
others', each row saying which run it comes from. A figure and its baseline always come from one run.

Each benchmark runs as its own process, one after the other, against scratch databases (bench_*) and
Redis database 8. A benchmark that fails is reported with the end of its output and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import POSTGRES_SERVER, REDIS_URL, ROOT, database_url

BENCH = ROOT / "bench"
RESULTS = BENCH / "results.md"
RECORD = BENCH / "results.json"

# (script, target number in the issue, arguments, arguments for --quick)
BENCHMARKS = [
    ("short_term.py", 5, [], ["--batches", "20"]),
    ("memory_recall.py", 4, [], ["--points", "10000", "--queries", "50", "--baseline-queries", "3"]),
    ("metrics.py", 6, [], ["--trades", "100000"]),
    ("import_trades.py", 1, ["--bulk-rows", "200000"], ["--rows", "100000", "--orders", "10000"]),
    ("admin_changelist.py", 3, [], ["--rows", "100000", "--requests", "5"]),
    ("api_writes.py", 2, [], ["--seconds", "4", "--batches", "1"]),
    ("footprint.py", 7, [], ["--rounds", "30"]),
    ("realized_pnl.py", 9, [], ["--fills", "100000"]),
    ("reconciliation.py", 8, [], ["--orders", "500", "--fills", "5000"]),
    ("memory_onnx.py", 10, [], ["--experiences", "5000", "--queries", "50", "--worker-recalls", "20"]),
    ("tearsheet.py", 11, [], ["--trades", "100000", "--positions", "4000", "--decisions", "10000"]),
    ("changelist_figures.py", 12, [], ["--rows", "100000", "--requests", "5"]),
]


def machine() -> dict[str, str]:
    import psycopg
    import redis

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )  # fmt: skip
    memory_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    with psycopg.connect(database_url("postgres")) as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    return {
        "date": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU model": cpu,
        "memory": f"{memory_kb / 2**20:.1f} GiB",
        "Python": platform.python_version(),
        "PostgreSQL": postgres,
        "Redis": redis_version,
        "load average at the start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


ADMIN_ROW = re.compile(
    r"^(?P<page>\S.*?)\s+(?P<p50>[\d.]+)\s+(?P<p95>[\d.]+)\s+(?P<target>[\d.]+) ms\s+(?P<ok>ok|MISSED)$"
)


def admin_figures(output: str) -> dict:
    """bench/admin_changelist.py prints a table; its rows become figures."""
    figures = []
    for line in output.splitlines():
        found = ADMIN_ROW.match(line.strip())
        if found:
            figures.append(
                {
                    "figure": f"admin: {found['page']} (in process, superuser)",
                    "result": f"p95 {found['p95']} ms, p50 {found['p50']} ms",
                    "baseline": "-",
                    "target": f"p95 <= {float(found['target']):.0f} ms",
                    "met": found["ok"] == "ok",
                    "detail": "",
                }
            )
    return {"bench": "admin_changelist", "figures": figures, "notes": []}


def run(script: str, arguments: list[str], logs: Path) -> tuple[dict | None, float, str]:
    out = Path(tempfile.mkstemp(prefix="bench-", suffix=".json")[1])
    env = dict(os.environ)
    command = [sys.executable, str(BENCH / script), *arguments]
    if script == "admin_changelist.py":
        env.update(
            DJANGO_SETTINGS_MODULE="tradeoffice.settings.test",
            DATABASE_URL=database_url("bench_admin"),
            REDIS_URL=REDIS_URL,
        )
    else:
        command += ["--json", str(out)]
    started = time.monotonic()
    print(f"\n=== {script} {' '.join(arguments)}", flush=True)
    process = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    output = process.stdout + process.stderr
    (logs / f"{script}.log").write_text(output)
    print(output[-4000:], flush=True)
    if script == "admin_changelist.py":
        data = admin_figures(process.stdout)
        result = data if data["figures"] else None
    elif process.returncode == 0 and out.stat().st_size:
        result = json.loads(out.read_text())
    else:
        result = None
    out.unlink(missing_ok=True)
    return result, seconds, output


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def load_record() -> dict:
    try:
        return json.loads(RECORD.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_results(record: dict, *, quick: bool) -> None:
    """bench/results.md from the record: {script: {number, result, seconds, output, date, machine}}."""
    runs = sorted(record.items(), key=lambda item: (item[1]["number"], item[0]))
    dates = sorted({entry["date"] for _, entry in runs})
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run_all.py). Each figure is measured beside its baseline in the",
        "same run, on this machine; docs/scaling.md explains the figures, the profiles behind the fixes",
        "and the gaps.",
        "",
    ]
    if quick:
        lines += ["**Quick run (a tenth of the sizes): a smoke test, not the figures.**", ""]
    if len(dates) > 1:
        lines += [
            f"These figures come from {len(dates)} runs ({', '.join(dates)}): `run_all.py --only` ran some "
            "benchmarks again and kept the others'. The `run` column says which.",
            "",
        ]
    machines = {}
    for _, entry in runs:
        machines.setdefault(entry["date"], entry["machine"])
    for date, facts in machines.items():
        lines += [f"| machine ({date}) | |", "|---|---|"]
        lines += [f"| {name} | {cell(value)} |" for name, value in facts.items() if name != "date"]
        lines.append("")
    lines += [
        "| # | figure | result | baseline (same run) | target | met | run |",
        "|---|---|---|---|---|---|---|",
    ]
    for script, entry in runs:
        result, number, date = entry["result"], entry["number"], entry["date"]
        if result is None:
            lines.append(f"| {number} | {script} | **failed** (see below) | | | no | {date} |")
            continue
        for figure in result["figures"]:
            met = {True: "yes", False: "**no**", None: "-"}[figure["met"]]
            lines.append(
                f"| {number} | {cell(figure['figure'])} | {cell(figure['result'])} "
                f"| {cell(figure['baseline'])} | {cell(figure['target'])} | {met} | {date} |"
            )
    lines += ["", "## Details", ""]
    for script, entry in runs:
        result = entry["result"]
        lines.append(f"### {entry['number']}. {script} ({entry['seconds']:.0f} s, {entry['date']})")
        lines.append("")
        if result is None:
            lines += ["Failed. The end of its output:", "", "```", entry["output"][-3000:].strip(), "```", ""]
            continue
        for figure in result["figures"]:
            if figure.get("detail"):
                lines.append(f"- {figure['figure']}: {figure['detail']}")
        for note in result.get("notes", []):
            lines.append(f"- {note}")
        lines.append("")
    RESULTS.write_text("\n".join(lines).rstrip() + "\n")


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--quick", action="store_true", help="A tenth of the sizes (smoke run).")
    arguments.add_argument("--only", nargs="*", help="Run only these scripts (e.g. short_term.py).")
    options = arguments.parse_args()

    facts = machine()
    print(f"PostgreSQL at {POSTGRES_SERVER.split('@')[-1]}, Redis {REDIS_URL.split('@')[-1]}")
    for name, value in facts.items():
        print(f"  {name}: {value}")
    unknown = sorted(set(options.only or []) - {script for script, *_ in BENCHMARKS})
    if unknown:
        arguments.error(f"no benchmark named {', '.join(unknown)}")
    # A quick run is a smoke test: it never replaces the full-size figures kept in the record.
    known = {script for script, *_ in BENCHMARKS}
    record = {} if options.quick else {k: v for k, v in load_record().items() if k in known}
    failed = False
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        for script, number, full, quick in BENCHMARKS:
            if options.only and script not in options.only:
                continue
            result, seconds, output = run(script, quick if options.quick else full, Path(logs))
            failed |= result is None
            record[script] = {
                "number": number, "result": result, "seconds": seconds, "output": output[-3000:],
                "date": facts["date"], "machine": facts,
            }  # fmt: skip
            if not options.quick:  # kept after each benchmark: a run cut short keeps what it measured
                RECORD.write_text(json.dumps(record, indent=1))
    total = time.monotonic() - started
    write_results(record, quick=options.quick)
    print(f"\nwrote {RESULTS.relative_to(ROOT)} ({total / 60:.1f} min this run)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
