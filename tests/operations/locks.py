"""Holding a maintenance command's advisory lock from a second database session, as a concurrent run would."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection


def command_lock_key(command_name: str) -> int:
    key = int.from_bytes(hashlib.sha256(f"tradeoffice:{command_name}".encode()).digest()[:8], "big")
    return key - (1 << 63)


@contextmanager
def other_session_holding_lock(command_name: str) -> Iterator[None]:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [command_lock_key(command_name)])
        yield
