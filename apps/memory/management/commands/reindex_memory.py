"""Rebuild long-term memory from PostgreSQL: `manage.py reindex_memory [--recreate]`."""

from django.conf import settings
from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.memory.services.consistency import memory_reindex
from apps.memory.services.embeddings import reset_embedder


class Command(MaintenanceCommand):
    help = (
        "Re-embed every experience and upsert it to Qdrant in batches, then remove points whose experience "
        "no longer exists. A collection built by another embedder (or in an older layout) is detected and "
        "rebuilt from empty; --recreate always drops and recreates it first."
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
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="Threads for the ONNX embedder during this run (default MEMORY_ONNX_THREADS).",
        )

    def run(self, **options) -> str:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["threads"] is not None:
            if options["threads"] < 1:
                raise CommandError("--threads must be at least 1.")
            settings.MEMORY_ONNX_THREADS = options["threads"]
            reset_embedder()
        report = memory_reindex(
            recreate=options["recreate"],
            batch_size=options["batch_size"],
            dry_run=self.dry_run,
            progress=lambda iterable, total, desc: self.progress(iterable, total=total, desc=desc),
        )
        if report.stale_collection:
            self.stderr.write(f"{report.stale_collection.split(' Rebuild it')[0]} Rebuilding it.")
        recreated = "recreated, " if report.recreated else ""
        return (
            f"Collection {report.collection!r} {recreated}{report.upserted} experiences indexed "
            f"with {report.embedder} ({report.dimension} dimensions), {report.removed} stray points removed"
        )
