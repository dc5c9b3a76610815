"""Compare long-term memory with PostgreSQL: `manage.py check_memory` exits non-zero on drift."""

from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.memory.services.consistency import memory_check, memory_repair


class Command(MaintenanceCommand):
    help = (
        "Compare experiences in PostgreSQL with the points in Qdrant: ids on one side only and stale "
        "payloads. Exits non-zero on drift. --repair queues the drifted experiences in the outbox and "
        "pushes them, then checks again."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--repair",
            action="store_true",
            help="Push the drifted experiences (or remove stray points) through the outbox, then re-check.",
        )

    def _progress(self, iterable, total, desc):
        return self.progress(iterable, total=total, desc=desc)

    def run(self, **options) -> str:
        report = memory_check(progress=self._progress)
        if report.has_drift and options["repair"] and not report.problem:
            queued = memory_repair(report=report)
            self.log(f"Queued {queued} experiences for a push; checking again.")
            report = memory_check(progress=self._progress)
        if report.has_drift:
            for kind, ids in report.samples().items():
                if ids:
                    self.log(
                        f"  {kind}: {', '.join(ids)}{' …' if len(getattr(report, kind)) > len(ids) else ''}"
                    )
            hint = (
                ""
                if report.problem
                else " Fix with: python manage.py check_memory --repair (or sync_memory, or reindex_memory)."
            )
            raise CommandError(f"Drift between PostgreSQL and Qdrant: {report.summary()}.{hint}")
        return f"No drift: {report.summary()}"
