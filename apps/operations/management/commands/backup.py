"""manage.py backup [--out DIR] [--only STORE ...]: PostgreSQL, Redis and Qdrant into one directory."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.common.arguments import command_error
from apps.common.commands import MaintenanceCommand
from apps.operations.services.backup import COMPONENTS, BackupError, backup_create


def default_backup_dir() -> Path:
    return Path(getattr(settings, "BACKUP_DIR", "") or Path(settings.VAR_DIR) / "backups")


class Command(MaintenanceCommand):
    help = (
        "Back up PostgreSQL (pg_dump, custom format), Redis (every key with its TTL) and Qdrant "
        "(every point) into a new directory with a manifest of SHA-256 checksums."
    )
    lock_name = "backup_restore"  # a backup and a restore never overlap

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--out",
            type=Path,
            help="Where to create the backup directory (default: BACKUP_DIR or var/backups).",
        )
        parser.add_argument(
            "--only", nargs="+", choices=COMPONENTS, metavar="STORE",
            help=f"Only these stores ({', '.join(COMPONENTS)}); default all.",
        )  # fmt: skip

    def run(self, **options) -> str:
        out = options["out"] or default_backup_dir()
        try:
            result = backup_create(
                out_dir=out, components=options["only"] or COMPONENTS, log=lambda m: self.log(m, level=2)
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        except BackupError as exc:
            raise CommandError(f"Backup failed, nothing kept: {exc}") from exc
        parts = result.manifest["components"]
        described = []
        if "postgres" in parts:
            described.append(f"PostgreSQL {parts['postgres']['database']}")
        if "redis" in parts:
            described.append(f"{parts['redis']['keys']} Redis keys")
        if "qdrant" in parts:
            described.append(f"{parts['qdrant']['points']} Qdrant points")
        return f"Backup written to {result.directory}: {', '.join(described)}."
