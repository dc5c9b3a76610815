"""manage.py partition_trades [--months-ahead N] [--undo]: trades partitioned by month, or back."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.common.arguments import command_error
from apps.common.commands import MaintenanceCommand
from apps.operations.services.partitioning import trades_partition, trades_unpartition


def _months(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number.") from exc
    if not 0 <= value <= 120:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 120.")
    return value


class Command(MaintenanceCommand):
    help = (
        "Partition the trades table by month (once), and create the partitions of the coming months; "
        "run it monthly. Every row, index, foreign key and the today_trades view are kept. --undo turns "
        "it back into one plain table. Takes an exclusive lock on trades for the duration: "
        "run it in a quiet moment."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--months-ahead",
            type=_months,
            default=3,
            metavar="N",
            help="Create the partitions of the next N months too (default 3).",
        )
        parser.add_argument(
            "--undo", action="store_true", help="Turn the partitioned table back into a plain one."
        )

    def run(self, **options) -> str:
        try:
            if options["undo"]:
                report = trades_unpartition()
                if not report.reverted:
                    return f"trades is already a plain table ({report.rows} rows); nothing to undo."
                return f"trades is a plain table again; {report.rows} rows kept."
            report = trades_partition(months_ahead=options["months_ahead"])
        except ValidationError as exc:
            raise command_error(exc) from exc
        for name in report.partitions_created:
            self.log(f"created partition {name}", level=2)
        moved = (
            f", {report.rows_moved_from_default} rows moved out of the default partition"
            if (report.rows_moved_from_default)
            else ""
        )
        head = "Partitioned trades by month" if report.converted else "trades is partitioned"
        return (
            f"{head}: {report.rows} rows in {report.partitions} monthly partitions; "
            f"{len(report.partitions_created)} partitions created{moved}."
        )
