"""Backup and restore of the three stores: PostgreSQL (pg_dump), Redis (per-key DUMP), Qdrant (points).

A backup is one directory:

    postgres.dump   pg_dump's custom format (-Fc), replayed by pg_restore through psql
    redis.jsonl     one line per key: its name, its DUMP payload (Redis's own RDB encoding, base64)
                    and its remaining time to live; works against any Redis, local or not
    qdrant.jsonl    the collection's settings, then one line per point: id, vector, payload,
                    read and written through the memory service's long-term backend
    manifest.json   what was taken, when, from where, and a SHA-256 and size per file

`restore` reads the manifest and checks every file's checksum before it touches any store.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from apps.common.redis import get_client
from apps.memory.services.long_term import PAYLOAD_INDEXES, MemoryPoint, get_backend, payload_sparse

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
COMPONENTS = ("postgres", "redis", "qdrant")
FILES = {"postgres": "postgres.dump", "redis": "redis.jsonl", "qdrant": "qdrant.jsonl"}
REDIS_BATCH = 500
QDRANT_BATCH = 256
REDIS_BACKUP_TIMEOUT = 30.0
CHUNK = 1 << 20

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class BackupError(Exception):
    """A store could not be backed up or restored; the message says which and why."""


# --- PostgreSQL tools ---------------------------------------------------------------------------


def _tool_major(path: str) -> int | None:
    try:
        output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\) (\d+)", output) or re.search(r"(\d+)\.\d+", output)
    return int(match.group(1)) if match else None


def pg_tool(name: str) -> str:
    """pg_dump, pg_restore or psql able to handle this server: the lowest major version >= the server's.

    Looked for in PG_BIN_DIR (setting), on PATH, then in the embedded PostgreSQL's own install.
    """
    connection.ensure_connection()
    server_major = connection.connection.info.server_version // 10000
    candidates: list[str] = []
    bin_dir = getattr(settings, "PG_BIN_DIR", "") or os.environ.get("PG_BIN_DIR", "")
    if bin_dir:
        candidates.append(str(Path(bin_dir) / name))
    if found := shutil.which(name):
        candidates.append(found)
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name))
    usable = []
    for candidate in dict.fromkeys(candidates):
        if (
            Path(candidate).is_file()
            and (major := _tool_major(candidate)) is not None
            and major >= server_major
        ):
            usable.append((major, candidate))
    if not usable:
        raise BackupError(
            f"No {name} for PostgreSQL {server_major} or newer was found (looked in PG_BIN_DIR, PATH and the "
            f"embedded server). Install the client, e.g. apt-get install postgresql-client-{server_major}, "
            "or set PG_BIN_DIR."
        )
    return min(usable)[1]


def _pg_environment() -> dict[str, str]:
    """libpq's environment for the default database: the password never appears in a command line."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
    ):
        if db.get(key):
            env[variable] = str(db[key])
    env["PGDATABASE"] = connection.settings_dict["NAME"]
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = sslmode
    return env


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, env=_pg_environment(), capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def _postgres_backup(directory: Path, log: Log) -> dict[str, Any]:
    target = directory / FILES["postgres"]
    tool = pg_tool("pg_dump")
    log(f"postgres: {tool} -Fc")
    _run([tool, "--format=custom", "--file", str(target)], "pg_dump")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return {"database": connection.settings_dict["NAME"], "server_version": version}


# pg_restore --list lines: "<id>; <catalog> <oid> <DESC> <schema> <name> <owner>"
TOC_ENTRY = re.compile(r"^\d+; \d+ \d+ (TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE|FUNCTION) (\S+) (.+) \S+$")
DROP_ORDER = ("VIEW", "MATERIALIZED VIEW", "TABLE", "SEQUENCE", "FUNCTION")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _drop_statements(toc: str, *, schema: str) -> list[str]:
    """DROP ... IF EXISTS ... CASCADE for each relation and function the backup will create.

    pg_restore's own --clean drops constraint by constraint and cannot drop the primary key of a
    partition (PostgreSQL refuses to drop an inherited constraint), so the objects are dropped whole,
    in the same transaction that recreates them.
    """
    found: dict[str, list[str]] = {kind: [] for kind in DROP_ORDER}
    for line in toc.splitlines():
        match = TOC_ENTRY.match(line.strip())
        if match is None or match.group(2) != schema:  # e.g. "TABLE DATA", "TABLE ATTACH", other schemas
            continue
        kind, name = match.group(1), match.group(3)
        if kind == "FUNCTION":
            function, _, arguments = name.partition("(")
            found[kind].append(f"{_quote(schema)}.{_quote(function)}({arguments}")
        else:
            found[kind].append(f"{_quote(schema)}.{_quote(name)}")
    return [f"DROP {kind} IF EXISTS {target} CASCADE;" for kind in DROP_ORDER for target in found[kind]]


def _postgres_restore(directory: Path, log: Log) -> dict[str, Any]:
    """Replace the backup's objects in one transaction: drop them, then replay the dump through psql."""
    pg_restore, psql = pg_tool("pg_restore"), pg_tool("psql")
    dump = str(directory / FILES["postgres"])
    env = _pg_environment()
    listing = subprocess.run([pg_restore, "--list", dump], capture_output=True, text=True, env=env)
    if listing.returncode != 0:
        raise BackupError(f"pg_restore --list failed: {listing.stderr.strip()[-2000:]}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
    drops = _drop_statements(listing.stdout, schema=schema)
    # Comments on extensions need the extension's owner, which the application's role seldom is;
    # the extensions themselves are restored (CREATE EXTENSION IF NOT EXISTS).
    scratch = Path(tempfile.mkdtemp(prefix="tradeoffice-restore-"))
    use_list = scratch / "restore.list"
    use_list.write_text(
        "".join(
            (";" if " COMMENT - EXTENSION " in line else "") + line + "\n"
            for line in listing.stdout.splitlines()
        )
    )
    log(f"postgres: dropping {len(drops)} objects and replaying the dump with {psql}, in one transaction")
    producer = subprocess.Popen(
        [pg_restore, "--no-owner", "--file", "-", dump],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    consumer = subprocess.run(
        [psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1",
         "--command", "\n".join(drops) or "SELECT 1", "--file", "-"],
        stdin=producer.stdout, capture_output=True, text=True, env=env,
    )  # fmt: skip
    producer.stdout.close()
    produced = producer.wait()
    shutil.rmtree(scratch, ignore_errors=True)
    producer_errors = producer.stderr.read().decode(errors="replace")
    if produced != 0:
        raise BackupError(f"pg_restore failed (exit {produced}): {producer_errors.strip()[-2000:]}")
    if consumer.returncode != 0:
        raise BackupError(
            f"psql failed (exit {consumer.returncode}), the database is unchanged: "
            f"{consumer.stderr.strip()[-2000:]}"
        )
    return {"objects_replaced": len(drops)}


# --- Redis --------------------------------------------------------------------------------------


def _redis_client() -> redis.Redis:
    # The project's one client (the same URL, Sentinel and TLS set-up as everything else), with raw
    # replies (DUMP payloads are binary) and a longer timeout than an agent's: a backup may move large values.
    return get_client(decode_responses=False, socket_timeout=REDIS_BACKUP_TIMEOUT)


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _redis_backup(directory: Path, log: Log) -> dict[str, Any]:
    client = _redis_client()
    keys = 0
    with (directory / FILES["redis"]).open("w") as handle:
        for batch in _batched(client.scan_iter(count=1000), REDIS_BATCH):
            pipe = client.pipeline(transaction=False)
            for key in batch:
                pipe.dump(key)
                pipe.pttl(key)
            replies = pipe.execute()
            for key, payload, pttl in zip(batch, replies[::2], replies[1::2], strict=True):
                if payload is None:  # expired between SCAN and DUMP
                    continue
                line = {
                    "key": base64.b64encode(key).decode(),
                    "pttl": pttl if pttl and pttl > 0 else None,
                    "dump": base64.b64encode(payload).decode(),
                }
                handle.write(json.dumps(line) + "\n")
                keys += 1
    log(f"redis: {keys} keys")
    info = client.info("server")
    return {"keys": keys, "db": client.connection_pool.connection_kwargs.get("db", 0),
            "redis_version": info.get("redis_version")}  # fmt: skip


def _redis_restore(directory: Path, manifest: dict, log: Log) -> dict[str, Any]:
    """RESTORE ... REPLACE every key. A key keeps its expiry moment: one whose time ran out since the
    backup is not brought back (short-term memory is stale by then); keys without expiry always are."""
    client = _redis_client()
    taken = datetime.fromisoformat(manifest["created_at"]).timestamp() * 1000
    elapsed = max(0, int(time.time() * 1000 - taken))
    restored = expired = 0
    with (directory / FILES["redis"]).open() as handle:
        for batch in _batched(handle, REDIS_BATCH):
            pipe = client.pipeline(transaction=False)
            for line in batch:
                entry = json.loads(line)
                ttl = 0
                if entry["pttl"] is not None:
                    ttl = entry["pttl"] - elapsed
                    if ttl <= 0:
                        expired += 1
                        continue
                pipe.restore(
                    base64.b64decode(entry["key"]), ttl, base64.b64decode(entry["dump"]), replace=True
                )
                restored += 1
            pipe.execute()
    log(f"redis: {restored} keys restored, {expired} expired since the backup")
    return {"keys": restored, "expired": expired}


# --- Qdrant (through the memory service) --------------------------------------------------------


def _qdrant_backup(directory: Path, log: Log) -> dict[str, Any]:
    backend = get_backend()
    state = backend.describe()
    points = 0
    with (directory / FILES["qdrant"]).open("w") as handle:
        header = {"collection": state.name, "exists": state.exists, "dimension": state.dimension,
                  "metadata": state.metadata}  # fmt: skip
        handle.write(json.dumps(header) + "\n")
        if state.exists:
            for point in backend.scroll(batch_size=QDRANT_BATCH, with_vectors=True):
                handle.write(
                    json.dumps({"id": point.experience_id, "vector": point.vector, "payload": point.payload})
                    + "\n"
                )
                points += 1
    log(f"qdrant: {points} points from {state.name!r} ({backend.description})")
    return {"collection": state.name, "points": points, "dimension": state.dimension}


def _qdrant_restore(directory: Path, log: Log) -> dict[str, Any]:
    """Recreate the collection as it was (dimension, metadata, payload indexes) and upsert every point."""
    backend = get_backend()
    points = 0
    with (directory / FILES["qdrant"]).open() as handle:
        header = json.loads(handle.readline())
        if backend.describe().exists:
            backend.drop_collection()
        if header["exists"]:
            backend.create_collection(dimension=header["dimension"], metadata=header.get("metadata") or {})
            backend.create_payload_indexes(PAYLOAD_INDEXES)
            for batch in _batched(handle, QDRANT_BATCH):
                rows = [json.loads(line) for line in batch]
                # The lexical vector is rebuilt from the payload (a backup keeps the dense one only).
                backend.upsert([MemoryPoint(experience_id=r["id"], vector=r["vector"], payload=r["payload"],
                                            sparse=payload_sparse(r["payload"]))
                                for r in rows])  # fmt: skip
                points += len(rows)
    log(f"qdrant: {points} points restored into {header['collection']!r}")
    return {"points": points}


# --- files and manifest -------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class BackupResult:
    directory: Path
    manifest: dict[str, Any]


@dataclass
class RestoreResult:
    directory: Path
    restored: dict[str, dict[str, Any]] = field(default_factory=dict)
    verified_files: int = 0


def backup_create(
    *, out_dir: Path, components: Iterable[str] = COMPONENTS, log: Log = _quiet, now: datetime | None = None
) -> BackupResult:
    """Take a backup into a new directory under `out_dir`; it appears only once complete."""
    components = [c for c in COMPONENTS if c in set(components)]
    if not components:
        raise ValidationError({"components": "Nothing to back up."})
    now = now or datetime.now(tz=UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"tradeoffice-{now:%Y%m%dT%H%M%SZ}"
    final = out_dir / name
    if final.exists():
        raise ValidationError({"out": f"{final} already exists."})
    partial = out_dir / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700)
    steps = {"postgres": _postgres_backup, "redis": _redis_backup, "qdrant": _qdrant_backup}
    manifest: dict[str, Any] = {"format": FORMAT_VERSION, "created_at": now.isoformat(), "components": {},
                                "files": {}}  # fmt: skip
    try:
        for component in components:
            try:
                manifest["components"][component] = steps[component](partial, log)
            except BackupError:
                raise
            except Exception as exc:
                raise BackupError(f"{component}: {type(exc).__name__}: {exc}") from exc
            path = partial / FILES[component]
            manifest["files"][FILES[component]] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(directory=final, manifest=manifest)


def backup_verify(*, directory: Path) -> dict[str, Any]:
    """Read the manifest and check every file it lists; the manifest, or ValidationError."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ValidationError({"backup": f"{directory} holds no {MANIFEST}: not a backup directory."})
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as exc:
        raise ValidationError({"backup": f"{manifest_path} is not valid JSON ({exc})."}) from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise ValidationError({"backup": f"Unknown backup format {manifest.get('format')!r}."})
    problems = []
    for name, expected in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
            problems.append(f"{name} does not match its checksum")
    for component in manifest.get("components", {}):
        if FILES.get(component) not in manifest.get("files", {}):
            problems.append(f"the manifest lists {component} without its file")
    if problems:
        raise ValidationError(
            {"backup": "Verification failed, nothing restored: " + "; ".join(problems) + "."}
        )
    return manifest


def backup_restore(
    *, directory: Path, components: Iterable[str] | None = None, dry_run: bool = False, log: Log = _quiet
) -> RestoreResult:
    """Verify the whole backup, then restore the chosen components (default: all it holds).

    PostgreSQL: in one transaction, the backup's tables, views, sequences and functions are dropped
    and recreated from the dump; tables the backup does not know are left alone. Redis: the backup's
    keys replace the live keys of the same name; other keys stay. Qdrant: the collection is recreated
    from the backup.
    """
    directory = Path(directory)
    manifest = backup_verify(directory=directory)
    present = list(manifest.get("components", {}))
    chosen = present if components is None else [c for c in COMPONENTS if c in set(components)]
    missing = [c for c in chosen if c not in present]
    if missing:
        raise ValidationError(
            {"only": f"This backup holds no {', '.join(missing)} (it has: {', '.join(present)})."}
        )
    if connection.in_atomic_block and not dry_run:
        # pg_restore drops and recreates tables from its own session: it would wait on our locks.
        raise ValidationError({"restore": "restore cannot run inside a transaction."})
    result = RestoreResult(directory=directory, verified_files=len(manifest.get("files", {})))
    if dry_run:
        result.restored = {c: manifest["components"][c] for c in chosen}
        return result
    for component in chosen:
        try:
            if component == "postgres":
                result.restored[component] = _postgres_restore(directory, log)
            elif component == "redis":
                result.restored[component] = _redis_restore(directory, manifest, log)
            else:
                result.restored[component] = _qdrant_restore(directory, log)
        except BackupError:
            raise
        except Exception as exc:
            raise BackupError(f"{component}: {type(exc).__name__}: {exc}") from exc
    return result
