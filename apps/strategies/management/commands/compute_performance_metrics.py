"""manage.py compute_performance_metrics --strategy NAME [--version V] --start D --end D."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.common.arguments import command_error, date_range, decimal_value, iso_date
from apps.common.commands import MaintenanceCommand
from apps.strategies.services.performance import performance_metrics_compute, strategy_get


class Command(MaintenanceCommand):
    help = (
        "Compute a strategy's performance metrics over a date range from the portfolio snapshots and the "
        "experiences, upsert them on (strategy, start, end) and refresh the strategy's figures."
    )
    supports_dry_run = True

    def add_base_argument(self, parser, *args, **kwargs) -> None:
        # --version names the strategy's version here, as the seed's vocabulary has it; Django's own
        # --version (print Django's version) is left out of this one command.
        if "--version" in args:
            return
        super().add_base_argument(parser, *args, **kwargs)

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("--strategy", required=True, metavar="NAME", help="The strategy's name.")
        parser.add_argument(
            "--version",
            dest="strategy_version",
            metavar="V",
            help="The version (default: the active one, or the only one).",
        )
        parser.add_argument(
            "--start", required=True, type=iso_date, help="First day, YYYY-MM-DD (inclusive)."
        )
        parser.add_argument("--end", required=True, type=iso_date, help="Last day, YYYY-MM-DD (inclusive).")
        parser.add_argument(
            "--risk-free-rate",
            type=decimal_value,
            metavar="RATE",
            help="Annual risk-free rate as a fraction, e.g. 0.04 (default: PERFORMANCE_RISK_FREE_RATE or 0).",
        )

    def run(self, **options) -> str:
        date_range(options["start"], options["end"])
        try:
            strategy = strategy_get(name=options["strategy"], version=options["strategy_version"])
            outcome = performance_metrics_compute(
                strategy=strategy,
                start_date=options["start"],
                end_date=options["end"],
                risk_free_rate=options["risk_free_rate"],
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        row = outcome.row
        for note in outcome.notes:
            self.log(f"note: {note}")
        self.log(
            f"total return {row.total_return} %, annualized {row.annualized_return} %, volatility "
            f"{row.volatility} %, max drawdown {row.max_drawdown} %, Sharpe {row.sharpe_ratio}, "
            f"Sortino {row.sortino_ratio}, Calmar {row.calmar_ratio}",
            level=2,
        )
        verb = "written" if outcome.created else "updated"
        return (
            f"{strategy} {row.start_date}..{row.end_date}: metrics {verb} from {outcome.equity_points} "
            f"equity points and {row.total_trades} trades (win rate {row.win_rate} %, "
            f"total return {row.total_return} %)."
        )
