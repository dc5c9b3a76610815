"""Maintenance commands killed halfway (SIGKILL, no chance to clean up): a rerun finishes the job with no
duplicate, no row lost and no credential left undecryptable.

Each command runs as its own process against a private PostgreSQL; it is killed once the database
shows it in the middle of its work (its connection's current statement, or its progress output).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from .servers import FIELD_ENCRYPTION_KEY, PYTHON, REPO, manage

APPLICATION = "killed-command"


@pytest.fixture
def command_env(app_env, postgres, database) -> dict[str, str]:
    """The development settings (long-term memory on disk, in the test's directory), tagged so the
    command's connection can be found in pg_stat_activity."""
    return {
        **app_env,
        "DJANGO_SETTINGS_MODULE": "tradeoffice.settings.dev",
        "DATABASE_URL": f"{postgres.url(database)}?application_name={APPLICATION}",
        "MEMORY_EMBEDDER": "hashing",
    }


def _statement(postgres, database: str) -> str:
    rows = postgres.execute(
        "SELECT query FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
        [APPLICATION, database],
    )
    return rows[0][0] if rows else ""


def kill_midway(
    args: list[str], env: dict[str, str], midway: Callable[[str], bool], tmp_path: Path, timeout: float = 30
) -> str:
    """Run manage.py `args`, SIGKILL it the moment `midway(stderr so far)` is true; its stderr."""
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as sink:
        process = subprocess.Popen(
            [PYTHON, "manage.py", *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and process.poll() is None:
                if midway(errors.read_text()):
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
        finally:
            if process.poll() is None and time.monotonic() >= deadline:
                process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, (
        f"manage.py {args[0]} ended ({process.returncode}) before it could be killed midway: "
        f"the test proved nothing. stderr: {errors.read_text()[-2000:]}"
    )
    return errors.read_text()


# --- import_trades ------------------------------------------------------------------------------

ORDERS = 2_000
TRADES = 40_000


def _write_trades_file(path: Path) -> list[str]:
    """ORDERS ccxt orders, then TRADES trades filling them; the trade ids."""
    trade_ids = []
    with path.open("w") as out:
        for n in range(ORDERS):
            order = {
                "id": f"o{n}", "clientOrderId": f"c{n}", "timestamp": 1_767_225_600_000 + n,
                "symbol": "BTC/USDT", "type": "limit", "side": "buy", "status": "closed",
                "price": "45000.1", "amount": "0.2", "filled": "0.2",
            }  # fmt: skip
            out.write(json.dumps(order) + "\n")
        for n in range(TRADES):
            trade = {
                "id": f"t{n}", "order": f"o{n % ORDERS}", "timestamp": 1_767_225_700_000 + n,
                "symbol": "BTC/USDT", "side": "buy", "price": "45000.1", "amount": "0.01",
                "fee": {"cost": "0.0000001", "currency": "BTC"},
            }  # fmt: skip
            trade_ids.append(trade["id"])
            out.write(json.dumps(trade) + "\n")
    return trade_ids


def test_import_trades_killed_halfway_then_rerun_imports_everything_once(
    postgres, database, command_env, tmp_path, measured
):
    path = tmp_path / "trades.jsonl"
    trade_ids = _write_trades_file(path)
    first_part = tmp_path / "first.jsonl"
    first_part.write_text("".join(path.read_text().splitlines(keepends=True)[: ORDERS + 1_000]))
    manage("import_trades", str(first_part), "--exchange", "binance", env=command_env)

    stderr = kill_midway(
        ["import_trades", str(path), "--exchange", "binance", "--batch-size", "2000"],
        command_env,
        midway=lambda err: "lines: 20000" in err,
        tmp_path=tmp_path,
    )
    assert "lines: 20000" in stderr
    count = lambda: postgres.execute("SELECT count(*) FROM trades", database=database)[0][0]  # noqa: E731
    measured["trades_after_the_kill"] = count()
    assert count() == 1_000  # the killed import's one transaction left nothing behind

    rerun = manage("import_trades", str(path), "--exchange", "binance", env=command_env)

    assert "inserted 39000 trades" in rerun.stdout and "already present 1000 trades" in rerun.stdout
    rows = postgres.execute("SELECT id, count(*) OVER () FROM trades", database=database)
    measured.update(
        lines=ORDERS + TRADES,
        killed_after_lines=20_000,
        rerun=rerun.stdout.strip().splitlines()[-1],
        trades=len(rows),
        distinct_trades=len({r[0] for r in rows}),
    )
    assert sorted(r[0] for r in rows) == sorted(trade_ids)  # every trade, each once
    orders = postgres.execute("SELECT count(*) FROM orders", database=database)[0][0]
    assert orders == ORDERS


# --- reindex_memory -----------------------------------------------------------------------------

EXPERIENCES = 3_000


def test_reindex_memory_killed_halfway_then_rerun_leaves_no_drift(
    postgres, database, command_env, tmp_path, measured
):
    postgres.execute(
        "INSERT INTO experiences (id, situation, decision, decision_reasoning, outcome, situation_tags, "
        "importance_score, symbol, timestamp, datetime) "
        "SELECT 'exp-' || n, 'BTC oversold after drop number ' || n, 'Long', 'Bounce expected', "
        "CASE WHEN n %% 2 = 0 THEN 'success' ELSE 'failure' END, ARRAY['btc', 'case-' || (n %% 7)], 0.5, "
        "'BTC/USDT', 1767225600000 + n, to_timestamp((1767225600000 + n) / 1000.0) "
        "FROM generate_series(1, %s) AS n",
        [EXPERIENCES],
        database=database,
    )

    stderr = kill_midway(
        ["reindex_memory", "--batch-size", "100"],
        command_env,
        midway=lambda err: re.search(r"batches: (9|1\d)/30", err) is not None,
        tmp_path=tmp_path,
    )
    assert "/30" in stderr

    rerun = manage("reindex_memory", "--batch-size", "500", env=command_env)
    check = manage("check_memory", env=command_env, check=False)

    measured.update(
        experiences=EXPERIENCES,
        killed_at=re.findall(r"batches: \d+/30", stderr)[-1],
        check_memory=check.stdout.strip().splitlines()[0],
    )
    assert f"{EXPERIENCES} experiences indexed" in rerun.stdout
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{EXPERIENCES} experiences in PostgreSQL; {EXPERIENCES} points" in check.stdout
    assert "0 missing from Qdrant; 0 only in Qdrant; 0 stale" in check.stdout


# --- rotate_encryption_keys ---------------------------------------------------------------------

EXCHANGES = 1_500


def test_rotate_encryption_keys_killed_halfway_leaves_every_secret_readable_and_rerun_finishes(
    postgres, database, command_env, tmp_path, measured
):
    new_key = Fernet.generate_key().decode()
    old, new = Fernet(FIELD_ENCRYPTION_KEY), Fernet(new_key)
    secrets = {f"ex{n}": (f"key-{n}-AAAA", f"secret-{n}-BBBB") for n in range(EXCHANGES)}
    rows = [
        (name, old.encrypt(key.encode()).decode(), old.encrypt(secret.encode()).decode())
        for name, (key, secret) in secrets.items()
    ]
    values = ", ".join(["(%s, %s, %s, false, true)"] * len(rows))
    postgres.execute(
        "INSERT INTO exchanges (name, api_key_encrypted, api_secret_encrypted, testnet, is_active) "
        f"VALUES {values}",
        [v for row in rows for v in row],
        database=database,
    )
    env = {**command_env, "FIELD_ENCRYPTION_KEYS": f"{new_key},{FIELD_ENCRYPTION_KEY}"}

    kill_midway(
        ["rotate_encryption_keys"],
        env,
        midway=lambda err: _statement(postgres, database).startswith('UPDATE "exchanges"'),
        tmp_path=tmp_path,
    )

    def stored() -> dict[str, tuple[str, str]]:
        return {
            name: (key, secret)
            for name, key, secret in postgres.execute(
                "SELECT name, api_key_encrypted, api_secret_encrypted FROM exchanges WHERE name LIKE 'ex%%'",
                database=database,
            )
        }

    # Rolled back whole: every credential still under the old key alone, none half-rotated.
    for name, (key, secret) in stored().items():
        assert old.decrypt(key.encode()).decode() == secrets[name][0]
        assert old.decrypt(secret.encode()).decode() == secrets[name][1]

    measured["readable_with_the_old_key_after_the_kill"] = len(stored())
    rerun = manage("rotate_encryption_keys", env=env)
    measured["rerun"] = rerun.stdout.strip().splitlines()[-1]

    assert f"Re-encrypted the credentials of {EXCHANGES + 1} exchanges" in rerun.stdout
    after = stored()
    assert len(after) == EXCHANGES
    for name, (key, secret) in after.items():
        assert new.decrypt(key.encode()).decode() == secrets[name][0]
        assert new.decrypt(secret.encode()).decode() == secrets[name][1]
    both = MultiFernet([new, old])
    assert both.decrypt(after["ex0"][0].encode()).decode() == secrets["ex0"][0]


# --- partition_trades ---------------------------------------------------------------------------

PARTITION_ROWS = 150_000


def test_partition_trades_killed_halfway_then_rerun_partitions_every_row(
    postgres, database, command_env, tmp_path, measured
):
    postgres.execute(
        "INSERT INTO trades (id, symbol, side, price, amount, cost, timestamp, datetime, exchange_id) "
        "SELECT 't' || n, 'BTC/USDT', 'buy', 45000.1, 0.01, 450.001, 1735689600000 + n::bigint * 60000, "
        "to_timestamp((1735689600000 + n::bigint * 60000) / 1000.0), (SELECT id FROM exchanges LIMIT 1) "
        "FROM generate_series(1, %s) AS n",
        [PARTITION_ROWS],
        database=database,
    )

    kill_midway(
        ["partition_trades"],
        command_env,
        midway=lambda err: _statement(postgres, database).startswith("INSERT INTO trades SELECT"),
        tmp_path=tmp_path,
    )

    def shape() -> tuple[str, int, int]:
        kind = postgres.execute("SELECT relkind FROM pg_class WHERE relname = 'trades'", database=database)[
            0
        ][0]
        total, distinct = postgres.execute(
            "SELECT count(*), count(DISTINCT id) FROM trades", database=database
        )[0]
        return kind, total, distinct

    measured["after_the_kill"] = shape()
    assert shape() == ("r", PARTITION_ROWS, PARTITION_ROWS)  # still the plain table, every row
    leftovers = postgres.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE 'trades\\_%%' AND relkind IN ('r', 'p')",
        database=database,
    )
    assert leftovers == []

    manage("partition_trades", env=command_env)

    measured["after_the_rerun"] = shape()
    assert shape() == ("p", PARTITION_ROWS, PARTITION_ROWS)
    views = postgres.execute("SELECT count(*) FROM today_trades", database=database)
    assert views == [(0,)]  # the dependent view came back
