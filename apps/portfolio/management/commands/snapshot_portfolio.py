"""manage.py snapshot_portfolio [--date D] [--exchange NAME] [--cash NAME=AMOUNT | --from-exchange]."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.common.arguments import command_error, currency_rate, iso_date, name_amount
from apps.common.commands import MaintenanceCommand
from apps.exchanges.selectors import exchanges_named
from apps.portfolio.services.snapshots import portfolio_snapshot_take_all


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
            help="The exchange's cash in REPORTING_CURRENCY (repeatable). Required for an exchange's first "
            "snapshot; later ones carry the previous cash forward, moved by the trades since.",
        )
        parser.add_argument(
            "--from-exchange",
            action="store_true",
            help="Take cash and holdings from each exchange's balances (through its API, valued with its "
            "tickers in REPORTING_CURRENCY) instead of the record; a system event records the prices used.",
        )

        parser.add_argument(
            "--rate",
            action="append",
            type=currency_rate,
            default=[],
            metavar="CURRENCY=RATE",
            help="One unit of CURRENCY in REPORTING_CURRENCY (repeatable), used before any other rate: for a "
            "position quoted, or a cash flow made, in a currency nothing else prices.",
        )

    def run(self, **options) -> str:
        cash = dict(options["cash"])
        snapshot_date = options["date"] or timezone.now().date()
        try:
            exchanges = exchanges_named(options["exchange"], what="snapshot")
            outcomes = portfolio_snapshot_take_all(
                snapshot_date=snapshot_date,
                exchanges=exchanges,
                cash=cash,
                from_exchange=options["from_exchange"],
                rates=dict(options["rate"]),
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        for outcome in outcomes:
            s = outcome.snapshot
            rates = ", ".join(f"{c} {r['rate']} ({r['source']})" for c, r in (s.rates or {}).items())
            self.log(
                f"{s.exchange.name} {s.snapshot_date}: total {s.total_value:f} = cash {s.cash:f} "
                f"({outcome.cash_source}) + positions {s.positions_value:f} {s.reporting_currency}; net flow "
                f"{s.net_flow:f}; daily PnL {'none' if s.daily_pnl is None else format(s.daily_pnl, 'f')}"
                + (f"; rates {rates}" if rates else ""),
            )
        created = sum(o.created for o in outcomes)
        return (
            f"Snapshot {snapshot_date}: {created} written, {len(outcomes) - created} replaced "
            f"({len(outcomes)} exchange{'s' if len(outcomes) != 1 else ''})."
        )
