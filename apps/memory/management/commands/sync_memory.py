"""Push pending memory outbox rows to Qdrant: `manage.py sync_memory` (safe to repeat and to overlap)."""

from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.memory.services.outbox import outbox_drain


class Command(MaintenanceCommand):
    help = (
        "Push every pending memory outbox row to Qdrant once, then delete rows pushed longer ago than "
        "MEMORY_OUTBOX_RETENTION_DAYS. Rows that fail stay pending with their error; the command then "
        "exits non-zero. --dry-run only counts."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Rows per batch (MEMORY_OUTBOX_BATCH_SIZE)."
        )

    def run(self, **options) -> str:
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = outbox_drain(
            batch_size=options["batch_size"],
            dry_run=self.dry_run,
            progress=lambda iterable, total, desc: self.progress(iterable, total=total, desc=desc),
        )
        if self.dry_run:
            return f"{report.remaining} outbox rows pending"
        summary = (
            f"Pushed {report.pushed} outbox rows, {report.failed} failed, "
            f"{report.remaining} still pending, {report.pruned} old rows deleted"
        )
        if report.failed:
            first = next(iter(report.errors.items()))
            raise CommandError(
                f"{summary}. First error (outbox row {first[0]}): {first[1]} "
                "Fix the cause and run sync_memory again; nothing is lost meanwhile."
            )
        return summary
