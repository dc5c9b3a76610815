"""Connection settings from environment values: psycopg's pool, a read replica, Redis Sentinel.

Plain functions, no settings of their own: settings/base.py calls them, and the tests call them directly.
docs/scaling.md explains each set-up.
"""

from __future__ import annotations

from urllib.parse import unquote, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

REPLICA_ALIAS = "replica"  # the alias tradeoffice.db_routers reads from
SENTINEL_SCHEMES = {"redis+sentinel": "redis", "rediss+sentinel": "rediss"}
_SENTINEL_PORT = 26379


def pool_options(*, min_size: int, max_size: int, timeout: float) -> dict:
    """psycopg_pool.ConnectionPool arguments for Django's OPTIONS["pool"] (Django 5.1+)."""
    if min_size < 0 or max_size < 1 or min_size > max_size:
        raise ImproperlyConfigured(
            f"DATABASE_POOL_MIN_SIZE ({min_size}) and DATABASE_POOL_MAX_SIZE ({max_size}) must satisfy "
            "0 <= min <= max and max >= 1."
        )
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout}


def with_pool(database: dict, pool: dict | None) -> dict:
    """The database entry using psycopg's pool: a process keeps up to max_size connections open and
    lends them per request. A pool replaces persistent connections, so CONN_MAX_AGE becomes 0."""
    if not pool:
        return database
    return {**database, "CONN_MAX_AGE": 0, "OPTIONS": {**database.get("OPTIONS", {}), "pool": dict(pool)}}


def replica_database(url: str, default: dict) -> dict:
    """The DATABASES entry of the read replica: its URL, the primary's connection options, and in tests
    the primary's test database (a replica has the same rows)."""
    replica = environ.Env.db_url_config(url)
    for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS"):
        if key in default:
            replica[key] = default[key]
    replica["TEST"] = {"MIRROR": "default"}
    return replica


def parse_sentinels(values: list[str]) -> list[tuple[str, int]]:
    """["10.0.0.1:26379", "sentinel-2"] -> [("10.0.0.1", 26379), ("sentinel-2", 26379)]."""
    sentinels = []
    for value in values:
        host, _, port = value.strip().rpartition(":") if ":" in value else (value.strip(), "", "")
        host = host.strip("[]")
        if not host:
            raise ImproperlyConfigured(f"REDIS_SENTINELS entry {value!r} is not host:port.")
        try:
            sentinels.append((host, int(port) if port else _SENTINEL_PORT))
        except ValueError:
            raise ImproperlyConfigured(f"REDIS_SENTINELS entry {value!r} has no valid port.") from None
    return sentinels


def split_sentinel_url(url: str) -> tuple[str, list[tuple[str, int]]]:
    """redis+sentinel://[[user]:password@]host1:26379,host2:26379/service_name[/db][?query]
    -> ("redis://[[user]:password@]service_name/db[?query]", [(host1, 26379), (host2, 26379)]).

    The result is the form django-redis and the memory service use with REDIS_SENTINELS: the URL's
    host is the service name the sentinels know the primary by. rediss+sentinel:// keeps TLS.
    """
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    if scheme not in SENTINEL_SCHEMES:
        raise ImproperlyConfigured(
            f"{scheme!r} is not a Sentinel URL scheme (redis+sentinel, rediss+sentinel)."
        )
    netloc, _, tail = rest.partition("/")
    credentials, _, hosts = netloc.rpartition("@")
    path, _, query = tail.partition("?")
    parts = [unquote(part) for part in path.split("/") if part]
    if not hosts or not parts:
        raise ImproperlyConfigured(
            "A Sentinel URL names the sentinels and the service: "
            "redis+sentinel://[:password@]host1:26379,host2:26379/mymaster/0"
        )
    service, db = parts[0], parts[1] if len(parts) > 1 else "0"
    if not db.isdigit():
        raise ImproperlyConfigured(f"The database number in the Sentinel URL must be a number, not {db!r}.")
    netloc = f"{credentials}@{service}" if credentials else service
    direct = urlunsplit((SENTINEL_SCHEMES[scheme], netloc, f"/{db}", query, ""))
    return direct, parse_sentinels(hosts.split(","))
