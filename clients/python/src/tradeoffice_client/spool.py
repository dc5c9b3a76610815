"""The agent-side spool: what is to be recorded waits in a SQLite file until TradeOffice has it.

Each write is committed to the file (WAL, synchronous=FULL) before anything is sent, and leaves it only
once TradeOffice has answered it, in the order it was written. An entry TradeOffice refuses (a 4xx: bad
input, a conflict) moves to the `refused` table with the API's answer, so it is neither lost nor
blocking the entries behind it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = "tradeoffice-spool.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    params TEXT,
    body BLOB,
    idempotency_key TEXT,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    params TEXT,
    body BLOB,
    created_at REAL NOT NULL,
    refused_at REAL NOT NULL,
    status INTEGER,
    error TEXT NOT NULL
);
"""


def default_path() -> str:
    return os.environ.get("TRADEOFFICE_SPOOL") or DEFAULT_PATH


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    method: str
    path: str
    params: dict[str, Any] | None
    body: bytes | None
    idempotency_key: str | None
    created_at: float
    attempts: int


@dataclass(frozen=True)
class Refused:
    seq: int
    kind: str
    path: str
    body: bytes | None
    status: int | None
    error: Any  # the API's error body: {"code", "message", "details"}


class Spool:
    """A durable FIFO of API writes, safe to share between threads of one process."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path or default_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r}, pending={len(self)})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(
        self,
        *,
        kind: str,
        method: str,
        path: str,
        body: bytes | None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO pending (kind, method, path, params, body, idempotency_key, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    method,
                    path,
                    json.dumps(dict(params)) if params else None,
                    body,
                    idempotency_key,
                    time.time(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def head(self) -> Entry | None:
        """The oldest entry still to send."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq, kind, method, path, params, body, idempotency_key, created_at, attempts "
                "FROM pending ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return Entry(
            seq=row[0],
            kind=row[1],
            method=row[2],
            path=row[3],
            params=json.loads(row[4]) if row[4] else None,
            body=row[5],
            idempotency_key=row[6],
            created_at=row[7],
            attempts=row[8],
        )

    def pending(self) -> list[Entry]:
        with self._lock:
            seqs = [r[0] for r in self._db.execute("SELECT seq FROM pending ORDER BY seq")]
        entries = []
        for seq in seqs:
            with self._lock:
                row = self._db.execute(
                    "SELECT seq, kind, method, path, params, body, idempotency_key, created_at, attempts "
                    "FROM pending WHERE seq = ?",
                    (seq,),
                ).fetchone()
            if row is not None:
                entries.append(
                    Entry(row[0], row[1], row[2], row[3], json.loads(row[4]) if row[4] else None, *row[5:])
                )
        return entries

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def done(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE seq = ?", (seq,))

    def failed(self, seq: int, error: str) -> None:
        """A try that did not reach TradeOffice: the entry stays first in line."""
        with self._lock:
            self._db.execute(
                "UPDATE pending SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                (error[:2000], seq),
            )

    def replace_body(self, seq: int, body: bytes, idempotency_key: str | None) -> None:
        """What is left of a list after its refused items were set aside (sent again as is)."""
        with self._lock:
            self._db.execute(
                "UPDATE pending SET body = ?, idempotency_key = ? WHERE seq = ?", (body, idempotency_key, seq)
            )

    def refuse(self, entry: Entry, *, status: int | None, error: Any, body: bytes | None = None) -> None:
        """Set an entry (or, with `body`, some items of it) aside with TradeOffice's answer."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if body is None:
                    self._db.execute("DELETE FROM pending WHERE seq = ?", (entry.seq,))
                self._db.execute(
                    "INSERT INTO refused (seq, kind, method, path, params, body, created_at, refused_at, "
                    "status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.seq,
                        entry.kind,
                        entry.method,
                        entry.path,
                        json.dumps(entry.params) if entry.params else None,
                        body if body is not None else entry.body,
                        entry.created_at,
                        time.time(),
                        status,
                        json.dumps(error, default=str),
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def refused(self) -> list[Refused]:
        """What TradeOffice refused, oldest first, with its answer: to correct and send again by hand."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, path, body, status, error FROM refused ORDER BY id"
            ).fetchall()
        return [Refused(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def last_seq(self) -> int:
        """The seq of the newest entry ever written (0 for a new spool)."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'pending'").fetchone()
        return int(row[0]) if row else 0
