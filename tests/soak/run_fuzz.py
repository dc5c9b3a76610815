"""Schemathesis at depth against the whole API, over HTTP, on private servers (`make fuzz`).

More than the quick in-process run of tests/api/test_schema_fuzz.py: every phase (the schema's examples,
coverage of boundary values, random fuzzing, and stateful sequences chaining what one operation returns
into the next), many examples per operation, several workers. Pass: no 5xx and no response outside its
documented status, content type or body schema.

    .venv/bin/python tests/soak/run_fuzz.py --max-examples 200 --max-time 900
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.reliability.servers import REPO, Client, manage, private_stack

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Something to find, so lookups and filters hit rows as well as misses (no experiences: their outbox
# would open long-term memory, which gunicorn's process holds).
SEED_SCRIPT = """
from apps.exchanges.models import Exchange
from tests.factories import DecisionFactory, OrderFactory, PositionFactory, StrategyFactory
binance = Exchange.objects.get(name="binance")
OrderFactory.create_batch(5, exchange=binance)
PositionFactory(exchange=binance)
DecisionFactory.create_batch(3)
StrategyFactory(name="rsi", is_active=True)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200, help="examples per operation (200)")
    parser.add_argument("--max-time", type=int, default=900, help="seconds for the whole run (900)")
    parser.add_argument("--workers", type=int, default=1, help="concurrent schemathesis workers (1)")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed, for a reproducible run")
    parser.add_argument(
        "--report-dir", type=Path, default=REPO / "test-artifacts" / "fuzz", help="JUnit and JSON reports"
    )
    options = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[fuzz {time.strftime('%H:%M:%S')}] {message}", flush=True)

    extra_env = {
        # The per-agent request limit is a feature under test elsewhere; here it would only answer 429s.
        "API_RATE_LIMIT_PER_MINUTE": "0",
        # gunicorn's own 4 KB request-line limit answers an HTML 414 before Django sees a long query
        # string; lifted here so the fuzzing reaches the API's own handling of it.
        "GUNICORN_CMD_ARGS": "--limit-request-line 0",
    }
    with private_stack(agents=1, threads=16, extra_env=extra_env) as stack:
        manage("shell", "-c", SEED_SCRIPT, env=stack.env)
        token = stack.tokens[0]
        port = stack.app.port
        assert Client(port, token=token).request("GET", "/api/v1/health/").status == 200
        log(f"stack up on 127.0.0.1:{port}; schemathesis with every phase, {options.max_examples} examples")
        options.report_dir.mkdir(parents=True, exist_ok=True)

        command = [
            str(Path(sys.executable).parent / "schemathesis"), "run",
            f"http://127.0.0.1:{port}/api/v1/schema/?format=json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", str(options.max_examples),
            "--max-time", str(options.max_time),
            "--workers", str(options.workers),
            "--seed", str(options.seed),
            "--request-timeout", "30",
            "--suppress-health-check", "all",
            "--report", "junit,json",
            "--report-dir", str(options.report_dir),
            "--output-sanitize", "true",
        ]  # fmt: skip
        result = subprocess.run(command, cwd=REPO, timeout=options.max_time + 600, check=False)
        errors = stack.app.log_text().count("Internal Server Error")
    log(f"schemathesis exited {result.returncode}; {errors} server errors in gunicorn's log")
    return 0 if result.returncode == 0 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
