"""manage.py rebuild_rollups [--check]: recompute the daily roll-ups behind the changelists' figures."""

from __future__ import annotations

from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.journal.rollups import rollups_check, rollups_rebuild


class Command(MaintenanceCommand):
    help = (
        "Recompute every daily roll-up (apps/journal/rollups.py) from its table, the tables locked against "
        "writes meanwhile. Triggers keep them current; this is for after writes that bypassed triggers (a "
        "restore with session_replication_role = replica, ALTER TABLE ... DISABLE TRIGGER). With --check, "
        "only compare each roll-up with its table and fail if one differs."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Compare only; fail (exit 1) if a roll-up differs."
        )

    def run(self, **options) -> str:
        if options["check"]:
            reports = rollups_check()
            wrong = [r for r in reports if r.differences]
            if wrong:
                raise CommandError(
                    "These roll-ups differ from their tables: "
                    + ", ".join(f"{r.table} ({r.differences} key(s))" for r in wrong)
                    + ". Run manage.py rebuild_rollups to recompute them."
                )
            return f"{len(reports)} roll-ups checked: each equals its table."
        reports = rollups_rebuild()
        for report in reports:
            self.log(f"{report.table}: {report.rows:,} rows", level=1)
        return f"{len(reports)} roll-ups rebuilt: " + ", ".join(f"{r.table} {r.rows:,} rows" for r in reports)
