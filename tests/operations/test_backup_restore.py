"""backup and restore: every row, key and point back after the stores are emptied; a damaged backup
is refused before anything is touched."""

from __future__ import annotations

import json
import math
from io import StringIO
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection

from apps.execution.models import Order, Trade
from apps.memory.models import Experience
from apps.memory.services import embeddings, long_term
from apps.memory.services.long_term import MemoryPoint
from apps.operations.services.partitioning import trades_is_partitioned
from tests.factories import ExchangeFactory, ExperienceFactory, TradeFactory
from tests.operations.locks import other_session_holding_lock

DIMENSION = 8


@pytest.fixture
def stores(settings):
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = ":memory:"
    settings.MEMORY_EMBEDDER = "hashing"
    settings.MEMORY_EMBEDDING_DIMENSION = DIMENSION
    long_term.reset_backend()
    embeddings.reset_embedder()
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.flushdb()  # this run's own database number only
    yield client
    client.flushdb()
    long_term.reset_backend()
    embeddings.reset_embedder()


def _unit(seed: int) -> list[float]:
    raw = [math.sin(seed * 7 + i) + 1.5 for i in range(DIMENSION)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def _fill(client) -> None:
    exchange = ExchangeFactory(name="binance")
    TradeFactory.create_batch(5, order__exchange=exchange)
    ExperienceFactory.create_batch(3)
    client.set("trading:context", json.dumps({"regime": "range"}))
    client.set("market:ticker:BTC/USDT", "45000.5", ex=600)
    client.hset("market:tickers", mapping={"BTC/USDT": "45000.5", "ETH/USDT": "2500"})
    client.rpush("market:prices:BTC/USDT:1h", *[str(p) for p in range(100)])
    client.expire("market:prices:BTC/USDT:1h", 3600)
    long_term.collection_ensure()
    long_term.get_backend().upsert(
        [
            MemoryPoint(experience_id=f"exp_{n}", vector=_unit(n), payload={"id": f"exp_{n}", "pnl": n})
            for n in range(4)
        ]
    )


def _only_child(directory: Path) -> Path:
    (child,) = [p for p in directory.iterdir() if not p.name.startswith(".")]
    return child


def _run(name: str, *args) -> str:
    out = StringIO()
    call_command(name, *map(str, args), stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def scratch_database(transactional_db):
    """A copy of the test database for this test alone: a restore rewrites the schema (PostgreSQL
    re-renders every CHECK expression it replays), which the tests after it must not see."""
    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    scratch = f"{original}_restore"
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    connection.close()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        admin.execute(f'CREATE DATABASE "{scratch}" TEMPLATE "{original}"')
    settings_dict["NAME"] = scratch
    try:
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = original
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_backup_emptied_stores_and_restore_brings_everything_back(stores, tmp_path, scratch_database):
    client = stores
    _fill(client)
    trades_before = list(Trade.objects.order_by("id").values())
    experiences_before = list(Experience.objects.order_by("id").values_list("id", "pnl"))

    # partitioned, so the restore must also rebuild partitions (whose keys pg_restore --clean cannot drop)
    _run("partition_trades")
    output = _run("backup", "--out", tmp_path)
    backup = _only_child(tmp_path)
    manifest = json.loads((backup / "manifest.json").read_text())
    assert set(manifest["files"]) == {"postgres.dump", "redis.jsonl", "qdrant.jsonl"}
    assert manifest["components"]["redis"]["keys"] == 4 and manifest["components"]["qdrant"]["points"] == 4
    assert "4 Redis keys, 4 Qdrant points" in output

    # the disaster
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE trades, orders, experiences, exchanges CASCADE")
    client.flushdb()
    long_term.get_backend().drop_collection()
    assert Trade.objects.count() == 0 and client.dbsize() == 0

    output = _run("restore", backup, "--yes")

    assert list(Trade.objects.order_by("id").values()) == trades_before
    assert Order.objects.count() == 5
    assert list(Experience.objects.order_by("id").values_list("id", "pnl")) == experiences_before
    assert json.loads(client.get("trading:context")) == {"regime": "range"}
    assert client.ttl("trading:context") == -1
    assert 590 <= client.ttl("market:ticker:BTC/USDT") <= 600  # the expiry moment is kept
    assert client.hgetall("market:tickers") == {b"BTC/USDT": b"45000.5", b"ETH/USDT": b"2500"}
    assert client.lrange("market:prices:BTC/USDT:1h", 0, -1) == [str(p).encode() for p in range(100)]
    points = {p.experience_id: p for p in long_term.get_backend().scroll(with_vectors=True)}
    assert set(points) == {f"exp_{n}" for n in range(4)}
    assert all(
        math.isclose(a, b, abs_tol=1e-6) for a, b in zip(points["exp_2"].vector, _unit(2), strict=True)
    )
    assert points["exp_3"].payload["pnl"] == 3
    assert "Restored postgres, redis, qdrant" in output
    assert trades_is_partitioned()

    # a backup of a partitioned table restores over a plain one as well
    _run("partition_trades", "--undo")
    _run("restore", backup, "--yes", "--only", "postgres")
    assert trades_is_partitioned()
    assert list(Trade.objects.order_by("id").values()) == trades_before


@pytest.mark.django_db
def test_damaged_backup_is_refused_before_anything_is_touched(stores, tmp_path):
    client = stores
    client.set("kept", "1")
    _run("backup", "--out", tmp_path, "--only", "redis")
    backup = _only_child(tmp_path)
    client.set("kept", "changed since the backup")
    with (backup / "redis.jsonl").open("a") as handle:
        handle.write("{}\n")
    with pytest.raises(CommandError, match=r"redis\.jsonl does not match its checksum"):
        _run("restore", backup, "--yes")
    assert client.get("kept") == b"changed since the backup"

    (backup / "redis.jsonl").unlink()
    with pytest.raises(CommandError, match=r"redis\.jsonl is missing"):
        _run("restore", backup, "--yes")


@pytest.mark.django_db
def test_restore_dry_run_verifies_and_changes_nothing(stores, tmp_path):
    client = stores
    client.set("key", "before")
    _run("backup", "--out", tmp_path, "--only", "redis")
    client.set("key", "after")
    output = _run("restore", _only_child(tmp_path), "--dry-run")
    assert "Would restore redis" in output and "1 files verified" in output
    assert client.get("key") == b"after"


@pytest.mark.django_db
def test_restore_asks_for_confirmation_without_yes(stores, tmp_path):
    _run("backup", "--out", tmp_path, "--only", "redis")
    with pytest.raises(CommandError, match="pass --yes"):
        _run("restore", _only_child(tmp_path))


@pytest.mark.django_db
def test_restore_of_a_store_the_backup_lacks_is_refused(stores, tmp_path):
    _run("backup", "--out", tmp_path, "--only", "redis")
    with pytest.raises(CommandError, match="holds no postgres"):
        _run("restore", _only_child(tmp_path), "--only", "postgres", "--yes")


@pytest.mark.django_db
def test_not_a_backup_directory(tmp_path):
    with pytest.raises(CommandError, match="not a backup directory"):
        _run("restore", tmp_path, "--yes")


@pytest.mark.django_db
def test_a_backup_refuses_while_a_restore_holds_the_lock(stores, tmp_path):
    with other_session_holding_lock("backup_restore"), pytest.raises(CommandError, match="Another"):
        _run("backup", "--out", tmp_path)
    assert list(tmp_path.iterdir()) == []
