"""Rebuild long-term memory from PostgreSQL: `manage.py reindex_memory [--recreate]`."""

from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.memory.services.consistency import memory_reindex


class Command(MaintenanceCommand):
    help = (
        "Re-embed every experience and upsert it to Qdrant in batches, then remove points whose experience "
        "no longer exists. --recreate drops and recreates the collection first (needed after changing the "
        "embedder or its dimension)."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--recreate",
            action="store_true",
            help="Drop the collection and create it for the configured embedder before reindexing.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=100, help="Experiences per batch (default 100)."
        )

    def run(self, **options) -> str:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = memory_reindex(
            recreate=options["recreate"],
            batch_size=options["batch_size"],
            dry_run=self.dry_run,
            progress=lambda iterable, total, desc: self.progress(iterable, total=total, desc=desc),
        )
        recreated = "recreated, " if report.recreated else ""
        return (
            f"Collection {report.collection!r} {recreated}{report.upserted} experiences indexed "
            f"with {report.embedder} ({report.dimension} dimensions), {report.removed} stray points removed"
        )
