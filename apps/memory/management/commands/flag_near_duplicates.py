"""manage.py flag_near_duplicates [--since YYYY-MM-DD] [--batch-size N]: link experiences that nearly
duplicate one already kept."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError

from apps.common.arguments import command_error, iso_date
from apps.common.commands import MaintenanceCommand
from apps.memory.services.lifecycle import near_duplicates_flag_all


class Command(MaintenanceCommand):
    help = (
        "Compare experiences with long-term memory and link each to an experience it nearly duplicates "
        "(cosine similarity at least MEMORY_NEAR_DUPLICATE_SIMILARITY); nothing is merged. Writes of more "
        "than 500 experiences at once are not compared on write: run this after them."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--since", type=iso_date, help="Only experiences recorded from this day on (YYYY-MM-DD, UTC)."
        )
        parser.add_argument("--batch-size", type=int, default=100, help="Experiences per batch (100).")

    def run(self, **options) -> str:
        since = options["since"]
        try:
            report = near_duplicates_flag_all(
                since=datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None,
                batch_size=options["batch_size"],
                progress=lambda iterable, total, desc: self.progress(iterable, total=total, desc=desc),
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        return f"{report.compared} experience(s) compared, {report.linked} near duplicate(s) linked."
