"""manage.py db_maintenance [--vacuum] [--table T] [--report-only] [--json]: upkeep and a health report."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from apps.common.arguments import command_error
from apps.common.commands import MaintenanceCommand
from apps.operations.services.maintenance import LARGE_TABLES, database_maintain


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class Command(MaintenanceCommand):
    help = (
        "ANALYZE (or, with --vacuum, VACUUM ANALYZE) the large tables, then report table sizes, dead rows "
        f"and indexes no query has used. Default tables: {', '.join(LARGE_TABLES)}."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("--vacuum", action="store_true", help="VACUUM ANALYZE instead of ANALYZE.")
        parser.add_argument("--table", action="append", default=[], help="Only this table (repeatable).")
        parser.add_argument("--report-only", action="store_true", help="Only the report; touch nothing.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def run(self, **options) -> str:
        try:
            report = database_maintain(
                tables=options["table"],
                vacuum=options["vacuum"],
                report_only=options["report_only"],
                on_table=lambda t: self.log(
                    f"{'VACUUM ANALYZE' if options['vacuum'] else 'ANALYZE'} {t}", level=2
                ),
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), cls=DjangoJSONEncoder, indent=2))
        elif self.verbosity >= 1:
            self._print(report)
        bloated = [t.table for t in report.tables if t.dead_ratio >= 0.2 and t.dead_rows >= 1000]
        total = sum(t.total_bytes for t in report.tables)
        summary = f"{report.action} on {len(report.processed)} tables" if report.processed else "Report only"
        return (
            f"{summary}; {len(report.tables)} tables, {_size(total)} in all; "
            f"{len(report.unused_indexes)} unused indexes; "
            + (f"worth a VACUUM: {', '.join(bloated)}." if bloated else "no table above 20 % dead rows.")
        )

    def _print(self, report) -> None:
        self.stdout.write(
            f"{'table':<28} {'total':>10} {'indexes':>10} {'live rows':>12} {'dead rows':>10} dead %"
        )
        for t in report.tables:
            self.stdout.write(
                f"{t.table:<28} {_size(t.total_bytes):>10} {_size(t.index_bytes):>10} {t.live_rows:>12} "
                f"{t.dead_rows:>10} {t.dead_ratio * 100:5.1f}"
            )
        since = f" (usage counted since {report.stats_since:%Y-%m-%d})" if report.stats_since else ""
        self.stdout.write(f"Indexes never used{since}:" if report.unused_indexes else "No unused index.")
        for i in report.unused_indexes:
            self.stdout.write(f"  {i.table}.{i.index} {_size(i.bytes)}")
