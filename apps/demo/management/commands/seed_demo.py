"""manage.py seed_demo [--if-empty]: load the demo world (idempotent)."""

from apps.common.commands import MaintenanceCommand
from apps.demo.services import demo_is_needed, demo_seed


class Command(MaintenanceCommand):
    help = (
        "Create the demo world: an exchange with encrypted demo keys, 90 days of orders, trades, positions, "
        "snapshots, decisions, experiences and two strategy versions. A second run changes nothing."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing unless the database has no exchange at all (used by `make run`).",
        )

    def run(self, **options) -> str:
        if options["if_empty"] and not demo_is_needed():
            return "The database already has data; demo not loaded."
        return str(demo_seed())
