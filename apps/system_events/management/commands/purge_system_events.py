"""manage.py purge_system_events --older-than DAYS: delete old system events, in batches."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.common.arguments import positive_int
from apps.common.commands import MaintenanceCommand
from apps.common.purge import DEFAULT_BATCH_SIZE
from apps.system_events.services import system_event_purge


class Command(MaintenanceCommand):
    help = (
        "Delete system events older than DAYS days, in short batches that never hold a long lock. "
        "(The memory outbox keeps its own retention: sync_memory prunes it.)"
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("--older-than", type=positive_int, required=True, metavar="DAYS")
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per batch, each its own short transaction ({DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--pause", type=float, default=0.0, help="Seconds to sleep between batches (default 0)."
        )

    def run(self, **options) -> str:
        cutoff = timezone.now() - timedelta(days=options["older_than"])
        events = system_event_purge(
            older_than=cutoff,
            batch_size=options["batch_size"],
            dry_run=self.dry_run,
            pause=max(options["pause"], 0.0),
            on_batch=lambda n: self.log(f"system events: {n} deleted", level=2),
        )
        verb = "would delete" if self.dry_run else "deleted"
        return f"Older than {cutoff:%Y-%m-%d %H:%M} UTC: {verb} {events} system events."
