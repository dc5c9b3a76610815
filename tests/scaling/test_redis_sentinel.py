"""The project's Redis client through Sentinel and over TLS: the factory resolves the primary through a
real sentinel process; short-term memory writes there and a backup reads and restores there."""

import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from redis.sentinel import SentinelConnectionPool

from apps.common import redis as shared_redis
from apps.memory.services import short_term
from apps.operations.services.backup import backup_create, backup_restore
from apps.system_events.models import SystemEvent
from apps.system_events.receivers import REDIS_OUTAGE_EVENT_TYPE

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture(autouse=True)
def fresh_clients():
    shared_redis.reset_client()
    yield
    shared_redis.reset_client()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sentinel(tmp_path, settings):
    """A sentinel process watching this run's Redis as the service 'testprimary'."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    primary = urlsplit(settings.REDIS_URL)
    if primary.scheme != "redis":
        pytest.skip("the test Redis is not reachable over TCP")
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor testprimary {primary.hostname} {primary.port or 6379} 1\n"
        "sentinel down-after-milliseconds testprimary 600000\n"
    )
    process = subprocess.Popen([REDIS_SERVER, str(config), "--sentinel"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, socket_timeout=0.5).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield port, int(primary.path.strip("/") or 0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_client_finds_the_primary_through_sentinel_and_writes_there(sentinel, settings):
    port, db = sentinel
    direct = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    direct.delete("market:context:SENTINEL/USDT")
    settings.REDIS_SENTINELS = [("127.0.0.1", port)]
    settings.REDIS_URL = f"redis://testprimary/{db}"
    try:
        client = shared_redis.get_client()
        assert isinstance(client.connection_pool, SentinelConnectionPool)
        assert client.connection_pool.service_name == "testprimary"

        assert short_term.market_context_set(symbol="SENTINEL/USDT", context={"trend": "up"}) is True

        assert direct.get("market:context:SENTINEL/USDT") == '{"trend":"up"}'
        assert short_term.market_context_get(symbol="SENTINEL/USDT") == {"trend": "up"}
    finally:
        direct.delete("market:context:SENTINEL/USDT")


def test_backup_and_restore_reach_redis_through_sentinel(sentinel, settings, tmp_path):
    """With a Sentinel URL the host is the service name: the backup must ask the sentinels, as everything
    else does, or it cannot reach Redis at all."""
    port, db = sentinel
    direct = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    direct.flushdb()  # this run's own database number only
    settings.REDIS_SENTINELS = [("127.0.0.1", port)]
    settings.REDIS_URL = f"redis://testprimary/{db}"
    try:
        assert short_term.trading_context_set(context={"regime": "range"}) is True
        short_term.tickers_set_many(tickers={"BTC/USDT": {"last": "64000.5"}})
        direct.set("market:prices:BTC/USDT:1h", "kept", ex=600)
        before = {key: direct.dump(key) for key in direct.keys("*")}

        backup = backup_create(out_dir=tmp_path, components=["redis"])
        assert backup.manifest["components"]["redis"]["keys"] == len(before) == 4
        direct.flushdb()
        restored = backup_restore(directory=backup.directory, components=["redis"])

        assert restored.restored["redis"]["keys"] == 4
        assert {key: direct.dump(key) for key in direct.keys("*")} == before
        assert short_term.trading_context_get() == {"regime": "range"}
        assert 0 < direct.ttl("market:prices:BTC/USDT:1h") <= 600
    finally:
        direct.flushdb()


@pytest.mark.django_db
def test_an_unknown_service_is_an_outage_not_a_crash(sentinel, settings):
    port, db = sentinel
    settings.REDIS_SENTINELS = [("127.0.0.1", port)]
    settings.REDIS_URL = f"redis://nosuchservice/{db}"
    shared_redis.outage_reporter.reset()
    try:
        assert short_term.market_context_get(symbol="BTC/USDT") is None
        assert short_term.market_context_set(symbol="BTC/USDT", context={}) is False
    finally:
        shared_redis.outage_reporter.reset()

    event = SystemEvent.objects.get(event_type=REDIS_OUTAGE_EVENT_TYPE)
    assert "MasterNotFoundError" in event.data["error"]


def test_rediss_is_tls_and_a_sentinel_url_needs_the_service(settings):
    settings.REDIS_SENTINELS = []
    settings.REDIS_URL = "rediss://:secret@redis.internal:6380/0"
    assert shared_redis.get_client().connection_pool.connection_class is redis.SSLConnection

    settings.REDIS_SENTINELS = [("127.0.0.1", 26379)]
    settings.REDIS_URL = "redis:///0"
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL names the service"):
        shared_redis.get_client()
