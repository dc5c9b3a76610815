"""manage.py import_trades FILE [--exchange NAME]: load ccxt trades or orders (JSON lines or CSV)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.common.arguments import command_error, positive_int
from apps.common.commands import MaintenanceCommand
from apps.exchanges.models import Exchange
from apps.execution.services.imports import BATCH_SIZE, trades_import

SHOWN_REJECTIONS = 20


class Command(MaintenanceCommand):
    help = (
        "Import ccxt trades and/or orders from a JSON lines or CSV file. Rows already recorded are left as "
        "they are, so importing the same file again changes nothing. Rejected lines are reported with "
        "their number and the reason; the other lines are imported (unless --strict)."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "file", type=Path, help="A .jsonl/.ndjson (one JSON object per line) or .csv file."
        )
        parser.add_argument("--exchange", metavar="NAME", help="The exchange the rows come from (its name).")
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=["jsonl", "csv"],
            help="Default: from the file's extension.",
        )
        parser.add_argument("--strict", action="store_true", help="Import nothing if any line is rejected.")
        parser.add_argument(
            "--batch-size", type=positive_int, default=BATCH_SIZE, help=f"Rows per COPY batch ({BATCH_SIZE})."
        )

    def run(self, **options) -> str:
        exchange = None
        if options["exchange"]:
            name = options["exchange"].strip().lower()
            exchange = Exchange.objects.filter(name=name).first()
            if exchange is None:
                known = ", ".join(Exchange.objects.order_by("name").values_list("name", flat=True)) or "none"
                raise CommandError(f"Unknown exchange {name!r}; registered: {known}.")
        try:
            report = trades_import(
                path=options["file"],
                exchange=exchange,
                file_format=options["file_format"],
                strict=options["strict"],
                batch_size=options["batch_size"],
                progress=lambda records: self.progress(records, desc="lines"),
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        shown = report.rejections if self.verbosity >= 2 else report.rejections[:SHOWN_REJECTIONS]
        for rejection in shown:
            self.stderr.write(f"line {rejection.line}: {rejection.reason}")
        if report.rejected > len(shown):
            self.stderr.write(
                f"... and {report.rejected - len(shown)} more rejected line(s)"
                + ("" if self.verbosity >= 2 else "; run with -v 2 to list more")
            )
        if exchange is None:
            self.log("note: no --exchange given; the rows are recorded without an exchange")
        return (
            f"{options['file']}: {report.lines} lines; inserted {report.trades_inserted} trades and "
            f"{report.orders_inserted} orders; already present {report.trades_present} trades and "
            f"{report.orders_present} orders; rejected {report.rejected}."
        )
