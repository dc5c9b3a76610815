"""Fixtures of the fault tests: a private PostgreSQL cluster (one per run, a fresh database per test made
from a migrated template), a private Redis per test, and gunicorn serving the project against them."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet

from .servers import (
    FIELD_ENCRYPTION_KEY,
    REPO,
    AppServer,
    PrivatePostgres,
    PrivateRedis,
    app_environment,
    manage,
    scratch_directory,
)

TEMPLATE_DATABASE = "tradeoffice_template"
AGENT_TOKEN = "to_reliability-agent-token-0123456789abcdefghijklmnopq"
OTHER_AGENT_TOKEN = "to_reliability-other-token-0123456789abcdefghijklmnopq"
DEMO_API_KEY = "demo-api-key-RELIABILITY-7f3a9c"
DEMO_API_SECRET = "demo-api-secret-RELIABILITY-91be2d"


@pytest.fixture
def measured(request) -> Iterator[dict]:
    """Figures a test measured, kept in test-artifacts/reliability/<test>.json (docs/reliability.md)."""
    figures: dict = {}
    yield figures
    if figures:
        path = REPO / "test-artifacts" / "reliability" / f"{request.node.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2, default=str) + "\n")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(scratch_directory("pg")).init()
    server.start()
    try:
        server.create_database(TEMPLATE_DATABASE)
        env = app_environment(
            database_url=server.url(TEMPLATE_DATABASE),
            redis_url="redis://127.0.0.1:1/0",  # migrations never touch Redis
            var_dir=server.root / "var",
        )
        manage("migrate", "--no-input", "-v", "0", env=env)
        yield server
    finally:
        server.destroy()


def seed(server: PrivatePostgres, database: str) -> None:
    """Two agents with known tokens and the exchange `binance` with demo credentials."""
    digest = lambda token: hashlib.sha256(token.encode()).hexdigest()  # noqa: E731
    server.execute(
        "INSERT INTO agents (name, token_digest) VALUES ('reliability', %s), ('other', %s)",
        [digest(AGENT_TOKEN), digest(OTHER_AGENT_TOKEN)],
        database=database,
    )
    fernet = Fernet(FIELD_ENCRYPTION_KEY)
    server.execute(
        "INSERT INTO exchanges (name, api_key_encrypted, api_secret_encrypted, testnet, is_active) "
        "VALUES ('binance', %s, %s, false, true)",
        [fernet.encrypt(DEMO_API_KEY.encode()).decode(), fernet.encrypt(DEMO_API_SECRET.encode()).decode()],
        database=database,
    )


ADMIN_USERNAME = "operator"
ADMIN_PASSWORD = "reliability-operator-password"


def create_superuser(server: PrivatePostgres, database: str) -> None:
    from django.contrib.auth.hashers import make_password

    server.execute(
        "INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active, first_name, "
        "last_name, email, date_joined) VALUES (%s, %s, true, true, true, '', '', '', now())",
        [ADMIN_USERNAME, make_password(ADMIN_PASSWORD)],
        database=database,
    )


def admin_login(client, *, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD):
    """Sign in through the login form as a browser does (CSRF cookie, then the form); the reply."""
    from urllib.parse import urlencode

    client.request("GET", "/admin/login/")
    form = urlencode(
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies.get("csrftoken", ""),
            "next": "/admin/",
        }
    ).encode()
    return client.request(
        "POST", "/admin/login/", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )


@pytest.fixture
def database(postgres) -> Iterator[str]:
    """A database of this test's own, migrated, with the seed above."""
    name = f"rel_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name, template=TEMPLATE_DATABASE)
    seed(postgres, name)
    create_superuser(postgres, name)
    yield name
    if postgres.is_running():
        postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    root = scratch_directory("redis")
    server = PrivateRedis(root)
    server.start()
    yield server
    server.stop()
    import shutil

    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def app_env(postgres, database, redis_server, tmp_path) -> dict[str, str]:
    """The environment of an app or command process using this test's database and Redis."""
    return app_environment(
        database_url=postgres.url(database),
        redis_url=redis_server.url(),
        var_dir=tmp_path / "var",
        # The test settings: MD5 password hashing (fast sign-ins), long-term memory in process memory.
        settings_module="tradeoffice.settings.test",
    )


@pytest.fixture
def start_app(tmp_path) -> Iterator[Callable[..., AppServer]]:
    started: list[AppServer] = []

    def start(env: dict[str, str], *, threads: int = 8) -> AppServer:
        app = AppServer(env=env, log_path=tmp_path / f"gunicorn-{len(started)}.log", threads=threads)
        started.append(app)
        app.start()
        return app

    yield start
    for app in started:
        app.stop()


# --- in-process tests (pytest-django's test database, this run's Redis database) ------------------


@pytest.fixture
def memory_stores(settings):
    """Long-term memory in process memory with a small dimension; this run's Redis database flushed."""
    from apps.common import redis as shared_redis
    from apps.common.attempts import local_windows
    from apps.memory.services import embeddings, long_term

    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = ":memory:"
    settings.MEMORY_EMBEDDER = "hashing"
    settings.MEMORY_EMBEDDING_DIMENSION = 64
    settings.REDIS_KEY_PREFIX = ""
    long_term.reset_backend()
    embeddings.reset_embedder()
    shared_redis.outage_reporter.reset()
    shared_redis.get_client().flushdb()  # only this run's database number (REDIS_URL)
    local_windows.reset()
    yield
    long_term.reset_backend()
    embeddings.reset_embedder()
    shared_redis.outage_reporter.reset()
    shared_redis.reset_client()
    local_windows.reset()


@pytest.fixture
def agent(db, memory_stores):
    from tests.agents.factories import AgentFactory

    return AgentFactory(name="reliability")


@pytest.fixture
def api(agent):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent.token}")
    return client


@pytest.fixture
def binance(db):
    from tests.factories import ExchangeFactory

    return ExchangeFactory(name="binance")
