"""The base every maintenance command shares.

- `--dry-run` for commands that change data (set `supports_dry_run = True`): the work runs
  inside a transaction that is rolled back at the end, so the report is real and nothing stays.
- progress: a bar on a terminal, log lines otherwise; `--verbosity 0` silences both.
- a PostgreSQL advisory lock per command name: a second run of the same command refuses at
  once (or waits, with `--wait-for-lock`), so cron overlaps never double the work.
- failures become `CommandError` (exit code 1) with what to do; the run ends with one summary line.

Subclasses implement `run(**options) -> str` (the summary line) and call services only.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

T = TypeVar("T")


class DryRunRollback(Exception):
    """Raised inside the dry-run transaction to roll it back."""


class MaintenanceCommand(BaseCommand):
    supports_dry_run = False
    lock_name: str | None = None  # defaults to the command's module name
    # False for a command whose service takes finer locks of its own (one per exchange account, say).
    command_lock = True

    def add_arguments(self, parser) -> None:
        if self.supports_dry_run:
            parser.add_argument(
                "--dry-run",
                action="store_true",
                help="Do the work and report it, then roll everything back.",
            )
        parser.add_argument(
            "--wait-for-lock",
            action="store_true",
            help="Wait for a running instance of this command to finish instead of refusing.",
        )
        self.add_command_arguments(parser)

    def add_command_arguments(self, parser) -> None:
        """Subclasses add their own arguments here."""

    def run(self, **options) -> str:
        raise NotImplementedError

    def handle(self, *args, **options) -> None:
        self.verbosity = options.get("verbosity", 1)
        self.dry_run = bool(options.get("dry_run"))
        started = time.monotonic()
        lock = (
            self.advisory_lock(wait=options.get("wait_for_lock", False))
            if self.command_lock
            else nullcontext()
        )
        with lock:
            try:
                summary = self._run_dry(**options) if self.dry_run else self.run(**options)
            except CommandError:
                raise
            except Exception as exc:  # every failure becomes a clear CommandError
                raise CommandError(f"{self.command_name} failed: {exc}") from exc
        if self.verbosity >= 1:
            prefix = "[dry run, nothing changed] " if self.dry_run else ""
            elapsed = time.monotonic() - started
            self.stdout.write(self.style.SUCCESS(f"{prefix}{summary} ({elapsed:.1f}s)"))

    def _run_dry(self, **options) -> str:
        summary = ""
        try:
            with transaction.atomic():
                summary = self.run(**options)
                raise DryRunRollback
        except DryRunRollback:
            pass
        return summary

    @property
    def command_name(self) -> str:
        return self.lock_name or type(self).__module__.rsplit(".", 1)[-1]

    @contextmanager
    def advisory_lock(self, *, wait: bool) -> Iterator[None]:
        """A session-level PostgreSQL advisory lock keyed on the command's name."""
        key = int.from_bytes(hashlib.sha256(f"tradeoffice:{self.command_name}".encode()).digest()[:8], "big")
        key -= 1 << 63  # into bigint's signed range
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
            else:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                if not cursor.fetchone()[0]:
                    raise CommandError(
                        f"Another {self.command_name} is running; wait for it to finish "
                        "or run again with --wait-for-lock."
                    )
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])

    # --- progress -------------------------------------------------------------------------------

    def progress(self, iterable: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
        """Yield from `iterable`, showing a bar on a terminal or a log line every 10% otherwise."""
        if self.verbosity < 1:
            yield from iterable
            return
        if self._is_terminal():
            from tqdm import tqdm

            yield from tqdm(iterable, total=total, desc=desc, file=sys.stderr, unit=" rows")
            return
        step = max(1, (total or 0) // 10) if total else 10_000
        done = 0
        for item in iterable:
            yield item
            done += 1
            if done % step == 0:
                of = f"/{total}" if total else ""
                self.stderr.write(f"{desc}: {done}{of}")
        if done % step:
            of = f"/{total}" if total else ""
            self.stderr.write(f"{desc}: {done}{of}")

    def log(self, message: str, *, level: int = 1) -> None:
        if self.verbosity >= level:
            self.stdout.write(message)

    def _is_terminal(self) -> bool:
        return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
