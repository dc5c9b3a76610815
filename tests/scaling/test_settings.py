"""The scale-out settings: pool and replica entries, Sentinel URLs, and what a process started with
them configures (DATABASES, routers, middleware, the cache, the memory's Redis)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tradeoffice.connections import (
    parse_sentinels,
    pool_options,
    replica_database,
    split_sentinel_url,
    with_pool,
)

ROOT = Path(__file__).resolve().parents[2]


def test_a_pool_replaces_persistent_connections():
    database = {"NAME": "x", "CONN_MAX_AGE": 60, "OPTIONS": {"sslmode": "require"}}

    pooled = with_pool(database, pool_options(min_size=2, max_size=8, timeout=5))

    assert pooled["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert pooled["OPTIONS"] == {"sslmode": "require", "pool": {"min_size": 2, "max_size": 8, "timeout": 5}}
    assert database["CONN_MAX_AGE"] == 60  # the original entry is left as it was
    assert with_pool(database, None) is database


@pytest.mark.parametrize(("low", "high"), [(5, 2), (-1, 4), (0, 0)])
def test_impossible_pool_sizes_are_refused_naming_the_settings(low, high):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOL_MIN_SIZE"):
        pool_options(min_size=low, max_size=high, timeout=1)


def test_the_replica_takes_its_url_and_the_primarys_connection_options():
    default = {"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True, "OPTIONS": {"pool": {"max_size": 4}}}

    replica = replica_database("postgres://reader:secret@replica.internal:5433/crypto_trading", default)

    assert (replica["HOST"], replica["PORT"], replica["NAME"], replica["USER"]) == (
        "replica.internal",
        5433,
        "crypto_trading",
        "reader",
    )
    assert replica["OPTIONS"] == {"pool": {"max_size": 4}}
    assert replica["CONN_HEALTH_CHECKS"] is True
    assert replica["TEST"] == {"MIRROR": "default"}  # tests read the primary's test database


@pytest.mark.parametrize(
    ("url", "direct", "sentinels"),
    [
        (
            "redis+sentinel://s1:26379,s2:26380/mymaster/3",
            "redis://mymaster/3",
            [("s1", 26379), ("s2", 26380)],
        ),
        (
            "rediss+sentinel://:p%40ss@10.0.0.1,10.0.0.2/cache",
            "rediss://:p%40ss@cache/0",
            [("10.0.0.1", 26379), ("10.0.0.2", 26379)],
        ),
        (
            "redis+sentinel://app:pw@[::1]:26379/mymaster/1?health_check_interval=10",
            "redis://app:pw@mymaster/1?health_check_interval=10",
            [("::1", 26379)],
        ),
    ],
)
def test_a_sentinel_url_becomes_the_service_url_and_the_sentinels(url, direct, sentinels):
    assert split_sentinel_url(url) == (direct, sentinels)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://s1:26379", "names the sentinels and the service"),
        ("redis+sentinel:///mymaster/0", "names the sentinels and the service"),
        ("redis+sentinel://s1/mymaster/first", "must be a number"),
        ("redis+sentinel://s1:port/mymaster/0", "no valid port"),
        ("redis://s1/0", "not a Sentinel URL scheme"),
    ],
)
def test_a_malformed_sentinel_url_says_what_is_wrong(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        split_sentinel_url(url)


def test_sentinel_hosts_default_to_the_sentinel_port():
    assert parse_sentinels(["a", "b:1", " c:26380 "]) == [("a", 26379), ("b", 1), ("c", 26380)]


def settings_in_a_new_process(**environment) -> dict:
    """The settings a process started with these variables ends up with."""
    script = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({'databases': s.DATABASES, 'routers': s.DATABASE_ROUTERS,"
        " 'middleware': s.MIDDLEWARE, 'redis_url': s.REDIS_URL, 'sentinels': s.REDIS_SENTINELS,"
        " 'cache': s.CACHES['default'], 'factory': getattr(s, 'DJANGO_REDIS_CONNECTION_FACTORY', None),"
        " 'engine': s.QDRANT_EMBEDDED_ENGINE, 'shards': s.QDRANT_SHARD_NUMBER,"
        " 'replication': s.QDRANT_REPLICATION_FACTOR}, default=str))"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "QDRANT_", "DJANGO_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="tradeoffice.settings.test", **environment)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    if done.returncode:
        raise AssertionError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_process_started_with_the_scale_out_variables_uses_them():
    found = settings_in_a_new_process(
        DATABASE_URL="postgres://app:pw@primary.internal:5432/crypto_trading",
        DATABASE_REPLICA_URL="postgres://reader:pw@replica.internal:5432/crypto_trading",
        DATABASE_POOL="true",
        DATABASE_POOL_MAX_SIZE="20",
        REDIS_URL="redis+sentinel://:secret@s1:26379,s2:26379/mymaster/2",
        QDRANT_SHARD_NUMBER="6",
        QDRANT_REPLICATION_FACTOR="2",
    )

    default, replica = found["databases"]["default"], found["databases"]["replica"]
    assert default["HOST"] == "primary.internal" and replica["HOST"] == "replica.internal"
    for database in (default, replica):
        assert database["CONN_MAX_AGE"] == 0
        assert database["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 10.0}
    assert found["routers"] == ["tradeoffice.db_routers.ReplicaRouter"]
    assert found["middleware"][-1] == "tradeoffice.db_routers.ReplicaReadsMiddleware"
    assert found["redis_url"] == "redis://:secret@mymaster/2"
    assert found["sentinels"] == [["s1", 26379], ["s2", 26379]]
    assert found["cache"]["LOCATION"] == "redis://:secret@mymaster/2"
    assert found["cache"]["OPTIONS"]["CLIENT_CLASS"] == "django_redis.client.SentinelClient"
    assert found["factory"] == "django_redis.pool.SentinelConnectionFactory"
    assert (found["engine"], found["shards"], found["replication"]) == ("edge", 6, 2)


def test_without_the_variables_one_machine_is_configured_as_before():
    found = settings_in_a_new_process(
        DATABASE_URL="postgres://app:pw@db:5432/crypto_trading", REDIS_URL="redis://cache:6379/0"
    )

    assert set(found["databases"]) == {"default"}
    assert "pool" not in found["databases"]["default"].get("OPTIONS", {})
    assert found["routers"] == []
    assert "tradeoffice.db_routers.ReplicaReadsMiddleware" not in found["middleware"]
    assert (found["redis_url"], found["sentinels"], found["factory"]) == ("redis://cache:6379/0", [], None)
    assert found["cache"]["LOCATION"] == "redis://cache:6379/0"


def test_an_unknown_embedded_engine_stops_the_process_naming_the_choices():
    with pytest.raises(AssertionError, match="use 'edge' or 'local'"):
        settings_in_a_new_process(
            DATABASE_URL="postgres://app@db/x", REDIS_URL="redis://cache/0", QDRANT_EMBEDDED_ENGINE="faiss"
        )
