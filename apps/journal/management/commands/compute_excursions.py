"""manage.py compute_excursions [--exchange NAME] [--since D] [--recompute]: R, MAE and MFE of closed
positions."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError

from apps.common.arguments import command_error, iso_date
from apps.common.commands import MaintenanceCommand
from apps.exchanges.selectors import exchanges_named
from apps.journal.services.excursions import excursions_compute


class Command(MaintenanceCommand):
    help = (
        "For each closed position: its R-multiple (realized PnL over the entry order's planned risk) and its "
        "MAE/MFE from the exchange's OHLCV bars over its life, fetched through the exchange client and kept. "
        "Positions already computed are skipped unless --recompute."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--exchange", action="append", default=[], metavar="NAME",
            help="Only this account (repeatable). Default: every active exchange.",
        )  # fmt: skip
        parser.add_argument(
            "--since", type=iso_date, help="Only positions closed from this day (YYYY-MM-DD, UTC)."
        )
        parser.add_argument("--recompute", action="store_true", help="Compute again those already computed.")

    def run(self, **options) -> str:
        try:
            exchanges = exchanges_named(options["exchange"], what="compute excursions for")
        except ValidationError as exc:
            raise command_error(exc) from exc
        since = options["since"]
        report = excursions_compute(
            exchanges=exchanges,
            recompute=options["recompute"],
            since=datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None,
            progress=lambda message: self.log(message, level=1),
        )
        return (
            f"{report.computed} closed position(s): {report.with_r} with an R-multiple, "
            f"{report.with_path} with MAE/MFE; {report.failed_fetches} whose price path could not be fetched "
            "(see each one's note)."
        )
