"""manage.py restore DIR [--only STORE ...] [--yes]: verify a backup's checksums, then restore it."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.common.arguments import command_error
from apps.common.commands import MaintenanceCommand
from apps.operations.services.backup import COMPONENTS, BackupError, backup_restore, backup_verify


class Command(MaintenanceCommand):
    help = (
        "Restore a backup made by `backup`. Every checksum is verified before any store is touched. "
        "PostgreSQL's tables are replaced in one transaction, Redis keys of the same name replaced, the "
        "Qdrant collection recreated. --dry-run only verifies and says what would be restored."
    )
    supports_dry_run = True
    lock_name = "backup_restore"

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path, help="A backup directory (with its manifest.json).")
        parser.add_argument(
            "--only", nargs="+", choices=COMPONENTS, metavar="STORE",
            help=f"Only these stores ({', '.join(COMPONENTS)}); default all the backup holds.",
        )  # fmt: skip
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def run(self, **options) -> str:
        directory = options["directory"]
        try:
            manifest = backup_verify(directory=directory)
            if not self.dry_run and not options["yes"]:
                self._confirm(manifest)
            result = backup_restore(
                directory=directory,
                components=options["only"],
                dry_run=self.dry_run,
                log=lambda m: self.log(m, level=2),
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        except BackupError as exc:
            raise CommandError(
                f"Restore failed: {exc}. PostgreSQL is restored in one transaction (all or nothing); "
                "a store restored before the failure stays restored."
            ) from exc
        verb = "Would restore" if self.dry_run else "Restored"
        return (
            f"{verb} {', '.join(result.restored)} from {directory} "
            f"(taken {manifest['created_at']}; {result.verified_files} files verified)."
        )

    def _confirm(self, manifest: dict) -> None:
        if not (sys.stdin and sys.stdin.isatty()):
            raise CommandError("restore replaces live data: pass --yes to confirm (or --dry-run to check).")
        stores = ", ".join(manifest.get("components", {}))
        answer = input(f"Replace the live {stores} with the backup of {manifest['created_at']}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            raise CommandError("Restore cancelled; nothing was changed.")
