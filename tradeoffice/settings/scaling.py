"""Settings for more than one machine: a read replica, connection pooling, Redis Sentinel, a distributed
Qdrant, and the embedded vector engine used when there is no Qdrant server. docs/scaling.md explains each.

Imported last by base.py, so the connection settings it completes (DATABASES, CACHES, REDIS_URL,
MIDDLEWARE) already exist there; it changes them only when one of its variables is set.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from .base import ADMIN_URL, CACHES, DATABASES, MIDDLEWARE, REDIS_URL

_env = environ.Env()

_REPLICA = "replica"  # the alias tradeoffice.db_routers reads from
_SENTINEL_SCHEMES = {"redis+sentinel": "redis", "rediss+sentinel": "rediss"}
_SENTINEL_PORT = 26379


# --- helpers (pure, so the tests can call them) ------------------------------------------------


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
    if scheme not in _SENTINEL_SCHEMES:
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
    direct = urlunsplit((_SENTINEL_SCHEMES[scheme], netloc, f"/{db}", query, ""))
    return direct, parse_sentinels(hosts.split(","))


# --- PostgreSQL: connection pool and read replica ----------------------------------------------

# psycopg's pool in each process (pip install psycopg-pool). Off: one persistent connection per
# thread (CONN_MAX_AGE). With PgBouncer in transaction mode in front, leave it off and set
# DATABASE_CONN_MAX_AGE=0 instead (docs/scaling.md).
DATABASE_POOL = _env.bool("DATABASE_POOL", default=False)
DATABASE_POOL_MIN_SIZE = _env.int("DATABASE_POOL_MIN_SIZE", default=2)
DATABASE_POOL_MAX_SIZE = _env.int("DATABASE_POOL_MAX_SIZE", default=10)
DATABASE_POOL_TIMEOUT = _env.float("DATABASE_POOL_TIMEOUT", default=10.0)
_pool = (
    pool_options(
        min_size=DATABASE_POOL_MIN_SIZE, max_size=DATABASE_POOL_MAX_SIZE, timeout=DATABASE_POOL_TIMEOUT
    )
    if DATABASE_POOL
    else None
)
DATABASES["default"] = with_pool(DATABASES["default"], _pool)

# A streaming replica of the primary. Set, the admin's changelists and the API's list endpoints
# (GET requests on DATABASE_REPLICA_PATHS) read the record's tables there; every write, every other
# read and everything inside a transaction stays on the primary.
DATABASE_REPLICA_URL = _env("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_APPS = _env.list(
    "DATABASE_REPLICA_APPS",
    default=["exchanges", "execution", "portfolio", "decisions", "memory", "strategies", "system_events"],
)
DATABASE_REPLICA_PATHS = _env.list(
    "DATABASE_REPLICA_PATHS",
    default=[
        rf"^/{re.escape(ADMIN_URL)}\w+/\w+/$",  # a changelist: /admin/<app>/<model>/
        r"^/api/v1/(?!health|memory|schema|docs|redoc)[\w-]+/?$",  # a list endpoint: /api/v1/<resource>/
    ],
)
DATABASE_ROUTERS: list[str] = []
if DATABASE_REPLICA_URL:
    DATABASES[_REPLICA] = with_pool(replica_database(DATABASE_REPLICA_URL, DATABASES["default"]), _pool)
    DATABASE_ROUTERS = ["tradeoffice.db_routers.ReplicaRouter"]
    MIDDLEWARE.append("tradeoffice.db_routers.ReplicaReadsMiddleware")

# --- Redis: TLS and Sentinel ---------------------------------------------------------------------
# REDIS_URL=rediss://... is TLS as it stands. For Sentinel, either
#   REDIS_URL=redis+sentinel://[:password@]sentinel-1:26379,sentinel-2:26379/mymaster/0
# or REDIS_SENTINELS=sentinel-1:26379,sentinel-2:26379 with REDIS_URL=redis://[:password@]mymaster/0
# (the host is the service name). Both end as the second form. Redis Cluster is not supported: the
# short-term memory writes a batch as one MULTI/EXEC, which Cluster allows only within one hash slot.
REDIS_SENTINELS = parse_sentinels(_env.list("REDIS_SENTINELS", default=[]))
if urlsplit(REDIS_URL).scheme in _SENTINEL_SCHEMES:
    REDIS_URL, REDIS_SENTINELS = split_sentinel_url(REDIS_URL)
# The sentinels' own password, when they have one (often not the primary's).
REDIS_SENTINEL_PASSWORD = _env("REDIS_SENTINEL_PASSWORD", default="")
if REDIS_SENTINELS:
    DJANGO_REDIS_CONNECTION_FACTORY = "django_redis.pool.SentinelConnectionFactory"
    CACHES["default"]["LOCATION"] = REDIS_URL
    CACHES["default"]["OPTIONS"].update(
        {
            "CLIENT_CLASS": "django_redis.client.SentinelClient",
            "SENTINELS": REDIS_SENTINELS,
            "SENTINEL_KWARGS": {"password": REDIS_SENTINEL_PASSWORD} if REDIS_SENTINEL_PASSWORD else {},
        }
    )

# --- Qdrant: a distributed cluster ----------------------------------------------------------------
# Used when the collection is created on a server (init_databases, reindex_memory --recreate);
# unset, the server's defaults (one shard, no replica). Changing them later needs a recreate.
QDRANT_SHARD_NUMBER = _env.int("QDRANT_SHARD_NUMBER", default=None)
QDRANT_REPLICATION_FACTOR = _env.int("QDRANT_REPLICATION_FACTOR", default=None)
QDRANT_WRITE_CONSISTENCY_FACTOR = _env.int("QDRANT_WRITE_CONSISTENCY_FACTOR", default=None)

# --- Qdrant without a server ----------------------------------------------------------------------
# QDRANT_URL unset: "edge" = Qdrant Edge in-process (HNSW graph and payload indexes; data under
# QDRANT_PATH/edge/), "local" = qdrant-client's local mode (every search a full scan in Python).
QDRANT_EMBEDDED_ENGINE = _env("QDRANT_EMBEDDED_ENGINE", default="edge")
if QDRANT_EMBEDDED_ENGINE not in ("edge", "local"):
    raise ImproperlyConfigured(
        f"QDRANT_EMBEDDED_ENGINE is {QDRANT_EMBEDDED_ENGINE!r}; use 'edge' or 'local'."
    )
# The HNSW graph: links per point, candidates while building, candidates while searching.
QDRANT_EDGE_HNSW_M = _env.int("QDRANT_EDGE_HNSW_M", default=16)
QDRANT_EDGE_HNSW_EF_CONSTRUCT = _env.int("QDRANT_EDGE_HNSW_EF_CONSTRUCT", default=128)
QDRANT_EDGE_HNSW_EF = _env.int("QDRANT_EDGE_HNSW_EF", default=128)
# Points written since the last index build that make the next write build it (searched exactly until then).
QDRANT_EDGE_INDEXING_THRESHOLD = _env.int("QDRANT_EDGE_INDEXING_THRESHOLD", default=20_000)
