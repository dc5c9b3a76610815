"""manage.py compute_realized_pnl [--exchange NAME] [--dry-run]: positions' realized PnL from their fills."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.common.arguments import command_error
from apps.common.commands import MaintenanceCommand
from apps.exchanges.selectors import exchanges_named
from apps.execution.services.realized import realized_pnl_update


class Command(MaintenanceCommand):
    help = (
        "Compute every position's realized PnL from its fills by average cost (docs/metrics.md) and store "
        "what changed: closed positions (a close computes its own; this fills rows closed before, or whose "
        "fills came later) and open ones (realized so far, fills up to now). A position its fills do not "
        "explain gets NULL and the reason in realized_note."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--exchange",
            action="append",
            default=[],
            metavar="NAME",
            help="Only this exchange's positions (repeatable). Default: every position.",
        )

    def run(self, **options) -> str:
        exchanges = [None]
        if options["exchange"]:
            try:
                exchanges = exchanges_named(options["exchange"], what="compute realized PnL for")
            except ValidationError as exc:
                raise command_error(exc) from exc
        summaries = []
        for exchange in exchanges:
            report = realized_pnl_update(exchange=exchange)
            summaries.append(f"{exchange.name}: {report.summary()}" if exchange else report.summary())
        return " ".join(summaries)
