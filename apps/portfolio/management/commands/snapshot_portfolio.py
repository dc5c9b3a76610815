"""manage.py snapshot_portfolio [--date D] [--exchange NAME] [--cash NAME=AMOUNT]: daily snapshots."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone

from apps.common.arguments import command_error, iso_date, name_amount
from apps.common.commands import MaintenanceCommand
from apps.exchanges.models import Exchange
from apps.portfolio.services import portfolio_snapshot_take_all


class Command(MaintenanceCommand):
    help = (
        "Write the day's portfolio snapshot for each active exchange (or those named): cash plus the open "
        "positions' value. Re-running a date replaces that day's snapshot."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--date", type=iso_date, help="The snapshot's date, YYYY-MM-DD (default: today, UTC)."
        )
        parser.add_argument(
            "--exchange",
            action="append",
            default=[],
            metavar="NAME",
            help="Only this exchange (repeatable). Default: every active exchange.",
        )
        parser.add_argument(
            "--cash",
            action="append",
            type=name_amount,
            default=[],
            metavar="NAME=AMOUNT",
            help="The exchange's cash in its quote currency (repeatable). Required for an exchange's first "
            "snapshot; later ones carry the previous cash forward, moved by the trades since.",
        )

    def run(self, **options) -> str:
        exchanges = self._exchanges(options["exchange"])
        cash = dict(options["cash"])
        snapshot_date = options["date"] or timezone.now().date()
        try:
            outcomes = portfolio_snapshot_take_all(
                snapshot_date=snapshot_date, exchanges=exchanges, cash=cash
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        for outcome in outcomes:
            s = outcome.snapshot
            self.log(
                f"{s.exchange.name} {s.snapshot_date}: total {s.total_value:f} = cash {s.cash:f} "
                f"({outcome.cash_source}) + positions {s.positions_value:f}; daily PnL "
                f"{'none' if s.daily_pnl is None else format(s.daily_pnl, 'f')}",
            )
        created = sum(o.created for o in outcomes)
        return (
            f"Snapshot {snapshot_date}: {created} written, {len(outcomes) - created} replaced "
            f"({len(outcomes)} exchange{'s' if len(outcomes) != 1 else ''})."
        )

    def _exchanges(self, names: list[str]) -> list[Exchange]:
        if not names:
            exchanges = list(Exchange.objects.filter(is_active=True).order_by("name"))
            if not exchanges:
                raise CommandError("No active exchange to snapshot; register one with add_exchange.")
            return exchanges
        names = sorted({n.strip().lower() for n in names})
        exchanges = list(Exchange.objects.filter(name__in=names).order_by("name"))
        missing = sorted(set(names) - {e.name for e in exchanges})
        if missing:
            raise CommandError(f"Unknown exchange: {', '.join(missing)}. Registered: {_registered()}.")
        return exchanges


def _registered() -> str:
    return ", ".join(Exchange.objects.order_by("name").values_list("name", flat=True)) or "none"
