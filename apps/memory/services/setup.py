"""Readiness of the three stores: PostgreSQL migrations, Redis answering, the Qdrant collection."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from .long_term import CollectionReport, collection_ensure
from .short_term import short_term_health


class StoreNotReady(Exception):
    """A store cannot be made ready; the message says what to do."""


def migrations_pending() -> list[str]:
    """Migrations not yet applied to the default database, as `app.name`."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def redis_ready() -> str:
    status = short_term_health()
    if not status.ok:
        raise StoreNotReady(f"{status.detail}. Check REDIS_URL and that the Redis server is running.")
    return f"Redis answers ({status.latency_ms} ms)"


def qdrant_ready(*, create: bool = True) -> CollectionReport:
    """The collection and its payload indexes in place (created when `create`); raises
    long_term.EmbedderMismatchError when it was built by another embedder."""
    return collection_ensure(create=create)
