"""Every migration reverses: on an empty database, migrate, every project app back to zero, and
migrate again, as `manage.py` runs them; and no model change lacks its migration."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader

BASE_DIR = Path(settings.BASE_DIR)
SQL_FUNCTIONS = {"update_updated_at_column", "calculate_win_rate"}


def _server() -> dict:
    """Connection parameters of the server the tests use (TCP, or a socket directory)."""
    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }


def _database_url(name: str) -> str:
    """A DATABASE_URL for `name` on the same server, as django-environ reads it."""
    server = _server()
    credentials = quote(server["user"] or "", safe="")
    if server["password"]:
        credentials += ":" + quote(server["password"], safe="")
    host = server["host"] or ""
    if host.startswith("/"):
        # A socket directory goes percent-encoded at the start of the path.
        return f"postgres://{credentials}@/{quote(host, safe='')}/{name}"
    port = f":{server['port']}" if server["port"] else ""
    return f"postgres://{credentials}@{host}{port}/{name}"


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards; yields its name."""
    name = f"test_migrations_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **_server()) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **_server()) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(database: str, *args: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tradeoffice.settings.test",
        "DATABASE_URL": _database_url(database),
        "REDIS_URL": settings.REDIS_URL,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args, "--no-input"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"manage.py {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def _project_apps_in_unapply_order() -> list[str]:
    """Project apps with migrations, each before every app its migrations depend on."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    project = {
        config.label
        for config in apps.get_app_configs()
        if config.name.startswith("apps.") and any(app == config.label for app, _ in graph.nodes)
    }
    depends_on = {label: set() for label in project}
    for app, name in graph.nodes:
        if app in project:
            for parent_app, _ in graph.node_map[(app, name)].parents:
                if parent_app in project and parent_app != app:
                    depends_on[app].add(parent_app)
    order = []
    while depends_on:
        # An app nobody left depends on can go back to zero now.
        free = sorted(a for a in depends_on if not any(a in deps for deps in depends_on.values()))
        assert free, f"the project apps' migrations depend on each other in a cycle: {depends_on}"
        order += free
        for app in free:
            del depends_on[app]
    return order


def _objects(database: str) -> dict[str, set[str]]:
    """The project's tables, views, functions and triggers present in `database`."""
    with psycopg.connect(dbname=database, **_server()) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        views = {r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public'")}
        functions = {
            r[0]
            for r in conn.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public'"
            )
        }
        triggers = {r[0] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
    project_models = [m for m in apps.get_models() if m.__module__.startswith("apps.")]
    return {
        "tables": tables & {m._meta.db_table for m in project_models if m._meta.managed},
        "views": views & {m._meta.db_table for m in project_models if not m._meta.managed},
        "functions": functions & SQL_FUNCTIONS,
        "triggers": triggers,
    }


def test_every_app_migrates_to_zero_and_back(scratch_database):
    _manage(scratch_database, "migrate")
    built = _objects(scratch_database)
    assert {"orders", "trades", "positions", "experiences", "exchanges"} <= built["tables"]
    assert built["views"] == {"current_positions", "today_trades"}
    assert built["functions"] == SQL_FUNCTIONS
    assert "update_orders_updated_at" in built["triggers"]

    for app in _project_apps_in_unapply_order():
        _manage(scratch_database, "migrate", app, "zero")
    left = _objects(scratch_database)
    assert not any(left.values()), f"left behind after every app went back to zero: {left}"

    _manage(scratch_database, "migrate")
    assert _objects(scratch_database) == built


def test_no_model_change_lacks_a_migration(scratch_database):
    _manage(scratch_database, "makemigrations", "--check", "--dry-run")
