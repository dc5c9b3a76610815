"""Make PostgreSQL, Redis and Qdrant ready: `manage.py init_databases` (idempotent)."""

from django.core.management import call_command
from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.memory.services.consistency import memory_reindex
from apps.memory.services.errors import EmbedderMismatchError, LongTermMemoryError
from apps.memory.services.setup import StoreNotReady, migrations_pending, qdrant_ready, redis_ready


class Command(MaintenanceCommand):
    help = (
        "Apply pending migrations, check that Redis answers, and create the Qdrant collection with its "
        "payload indexes when missing. Safe to run any number of times. --dry-run reports without changing."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--rebuild-stale",
            action="store_true",
            help="When the collection was built by another embedder (or in an older layout), rebuild it from "
            "PostgreSQL (reindex_memory) instead of stopping. make run passes it.",
        )

    def run(self, **options) -> str:
        pending = migrations_pending()
        if not pending:
            postgres = "PostgreSQL: migrations up to date"
        elif self.dry_run:
            postgres = f"PostgreSQL: {len(pending)} migrations would be applied"
        else:
            self.log(f"Applying {len(pending)} migrations…")
            call_command("migrate", interactive=False, verbosity=max(0, self.verbosity - 1))
            postgres = f"PostgreSQL: {len(pending)} migrations applied"

        try:
            redis = redis_ready()
        except StoreNotReady as exc:
            raise CommandError(str(exc)) from exc

        try:
            collection = qdrant_ready(create=not self.dry_run)
        except EmbedderMismatchError as exc:
            if not options.get("rebuild_stale") or self.dry_run:
                raise CommandError(str(exc)) from exc
            self.stderr.write(f"{str(exc).split(' Rebuild it')[0]} Rebuilding it from PostgreSQL.")
            report = memory_reindex(
                recreate=True,
                progress=lambda iterable, total, desc: self.progress(iterable, total=total, desc=desc),
            )
            collection = qdrant_ready(create=False)
            self.log(f"Qdrant: {report.upserted} experiences indexed with {report.embedder}")
        except LongTermMemoryError as exc:
            raise CommandError(str(exc)) from exc
        state = collection.state
        if not state.exists:
            qdrant = f"Qdrant: collection {state.name!r} would be created"
        elif collection.created:
            qdrant = f"Qdrant: collection {state.name!r} created ({state.dimension} dimensions)"
        else:
            qdrant = f"Qdrant: collection {state.name!r} present ({state.points_count} points)"
        if collection.indexes_created:
            qdrant += f", payload indexes created: {', '.join(collection.indexes_created)}"
        return f"{postgres}; {redis}; {qdrant}"
