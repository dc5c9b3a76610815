"""manage.py purge_system_events --older-than DAYS: delete old events and pushed outbox rows, in batches."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.common.commands import MaintenanceCommand
from apps.operations.arguments import positive_int
from apps.operations.services.purge import DEFAULT_BATCH_SIZE, memory_outbox_purge
from apps.system_events.services import system_event_purge


class Command(MaintenanceCommand):
    help = (
        "Delete system events older than DAYS days, and the memory outbox's rows pushed more than DAYS days "
        "ago (pending rows are never touched), in short batches that never hold a long lock."
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
        parser.add_argument("--events-only", action="store_true", help="Leave the memory outbox alone.")

    def run(self, **options) -> str:
        cutoff = timezone.now() - timedelta(days=options["older_than"])
        common = {
            "older_than": cutoff,
            "batch_size": options["batch_size"],
            "dry_run": self.dry_run,
            "pause": max(options["pause"], 0.0),
        }
        events = system_event_purge(
            **common, on_batch=lambda n: self.log(f"system events: {n} deleted", level=2)
        )
        outbox = 0
        if not options["events_only"]:
            outbox = memory_outbox_purge(
                **common, on_batch=lambda n: self.log(f"outbox: {n} deleted", level=2)
            )
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"Older than {cutoff:%Y-%m-%d %H:%M} UTC: {verb} {events} system events and {outbox} pushed "
            "memory outbox rows."
        )
