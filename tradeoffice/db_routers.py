"""Reads of the record's tables from the read replica where a request allows it; all else from the primary.

Active only when DATABASE_REPLICA_URL is set (settings/base.py adds the router and the middleware).
ReplicaReadsMiddleware marks the GET and HEAD requests whose path matches DATABASE_REPLICA_PATHS (the
admin's changelists, the API's list endpoints); inside such a request, and inside `replica_reads()`,
ReplicaRouter sends reads of the apps in DATABASE_REPLICA_APPS to the replica. Writes, reads of the
other apps (users, sessions, permissions, agents' tokens) and any read inside a transaction on the
primary stay there, so what a request has just written is what it reads back.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads():
    """Reads of the record's tables in this block may come from the replica (a few seconds behind)."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if (
            _replica_reads.get()
            and model._meta.app_label in settings.DATABASE_REPLICA_APPS
            and replica_configured()
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's rows: an object from either relates to both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(pattern) for pattern in patterns)


def reads_from_replica(method: str, path: str) -> bool:
    """Whether a request's reads may come from the replica: safe methods on the configured paths."""
    if method not in ("GET", "HEAD"):
        return False
    return any(pattern.match(path) for pattern in _compiled(tuple(settings.DATABASE_REPLICA_PATHS)))


class ReplicaReadsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if reads_from_replica(request.method, request.path_info):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)
