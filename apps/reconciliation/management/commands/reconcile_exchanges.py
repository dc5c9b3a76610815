"""manage.py reconcile_exchanges [--exchange NAME] [--since D] [--dry-run]: the record vs the exchange."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone

from apps.common.arguments import command_error, iso_date
from apps.common.commands import MaintenanceCommand
from apps.exchanges.selectors import exchanges_named
from apps.reconciliation.models import Discrepancy, DiscrepancyState, RunStatus, RunTrigger
from apps.reconciliation.services.runs import ReconciliationBusy, reconciliation_run_all


class Command(MaintenanceCommand):
    help = (
        "Fetch each active exchange account's orders, fills, balances, cash flows and positions (ccxt), "
        "compare them with the record and keep each difference as a discrepancy for review. Nothing in the "
        "record changes unless RECONCILIATION_AUTO_ADOPT says so. Exits non-zero while a run is partial or "
        "failed, or drift is open."
    )
    supports_dry_run = True
    command_lock = False  # each account has its own lock: two accounts may be reconciled at once

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--exchange",
            action="append",
            default=[],
            metavar="NAME",
            help="Only this account (repeatable). Default: every active exchange.",
        )
        parser.add_argument(
            "--since",
            type=iso_date,
            help="Read fills and orders from this day (YYYY-MM-DD, UTC) instead of the last watermark.",
        )

    def run(self, **options) -> str:
        try:
            exchanges = exchanges_named(options["exchange"], what="reconcile")
        except ValidationError as exc:
            raise command_error(exc) from exc
        since = options["since"]
        if since is not None:
            since = datetime(since.year, since.month, since.day, tzinfo=UTC)
            if since > timezone.now():
                # A run from tomorrow reads no fill and compares no balance, and would still report ok.
                raise CommandError(
                    f"--since {since:%Y-%m-%d} is in the future; give a day up to today (UTC)."
                )
        results = reconciliation_run_all(
            exchanges=exchanges,
            trigger=RunTrigger.COMMAND,
            since=since,
            dry_run=self.dry_run,
            progress=lambda message: self.log(message, level=1),
        )
        problems, lines = [], []
        for exchange, result in zip(exchanges, results, strict=True):
            if isinstance(result, ReconciliationBusy):
                problems.append(str(result))
                continue
            counts = result.counts
            lines.append(
                f"{exchange.name}: {result.status}, {counts.get('orders_fetched', 0)} orders and "
                f"{counts.get('fills_fetched', 0)} fills read, {counts.get('new', 0)} new discrepancies, "
                f"{counts.get('resolved', 0)} resolved, {counts.get('adopted', 0)} adopted"
            )
            if result.status != RunStatus.OK:
                problems.append(f"{exchange.name} run {result.pk} is {result.status}: {result.reason}")
        for line in lines:
            self.log(line)
        open_drift = Discrepancy.objects.filter(exchange__in=exchanges, state=DiscrepancyState.OPEN).count()
        summary = f"Reconciled {len(lines)} of {len(exchanges)} accounts; {open_drift} discrepancies open."
        if open_drift:
            problems.append(
                f"{open_drift} discrepancies are open: review them in the admin (Reconciliation > "
                "Discrepancies), or GET /api/v1/reconciliation/discrepancies/?state=open"
            )
        if problems and not self.dry_run:
            raise CommandError(summary + " " + " ".join(problems))
        return summary
