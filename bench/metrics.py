"""Target 6: compute_performance_metrics over ten years of daily snapshots and 1,000,000 trades in <= 2 s.

A scratch database holds ten years of daily portfolio snapshots (the equity curve), 1,000,000 fills in
`trades` and, for the trade statistics (win rate, profit factor, runs), one experience with its pnl per
closed trade: 1,000,000 as well. The command runs in this process, three times (median and first run
reported). The baseline, measured on the same rows, is the least any implementation reads: the equity
curve, the fills count and the million pnls fetched from PostgreSQL, with no arithmetic.
"""

from __future__ import annotations

import io
import random
import statistics
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from _common import Results, drop_database, expect, log, parser, setup_django, timed

DATABASE = "bench_metrics"
END = date(2026, 10, 31)


def copy_rows(table: str, columns: str, rows) -> None:
    """COPY rows (tuples of text-ready values) into a table, 50,000 at a time."""
    from django.db import connection

    def flush(buffer: io.StringIO) -> None:
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            copy.write(buffer.getvalue())

    buffer = io.StringIO()
    for n, row in enumerate(rows, start=1):
        buffer.write("\t".join("\\N" if value is None else str(value) for value in row) + "\n")
        if n % 50_000 == 0:
            flush(buffer)
            buffer = io.StringIO()
    flush(buffer)


def load(*, years: int, trades: int, experiences: int) -> tuple[str, date, date]:
    from django.db import connection

    from apps.exchanges.services import exchange_register
    from apps.strategies.models import Strategy

    rng = random.Random(6)
    exchange = exchange_register(name="bench", api_key="bench-key", api_secret="bench-secret")  # noqa: S106
    start = END - timedelta(days=365 * years)
    days = (END - start).days + 1
    log(f"{days:,} daily snapshots, {trades:,} trades, {experiences:,} experiences with a pnl")
    value = Decimal("100000")
    snapshots = []
    for n in range(days):
        day = start + timedelta(days=n)
        value = (value * Decimal(str(1 + rng.gauss(0.0004, 0.02)))).quantize(Decimal("0.00000001"))
        moment = datetime.combine(day, time(23, 59), tzinfo=UTC)
        snapshots.append(
            (exchange.pk, value, value / 2, value / 2, day, int(moment.timestamp() * 1000), moment)
        )
    copy_rows(
        "portfolio_snapshots",
        "exchange_id, total_value, cash, positions_value, snapshot_date, timestamp, datetime",
        snapshots,
    )
    span = int(
        (
            datetime.combine(END, time(23, 59), tzinfo=UTC) - datetime.combine(start, time(), tzinfo=UTC)
        ).total_seconds()
    )
    begin = datetime.combine(start, time(), tzinfo=UTC)

    def moment(n: int, count: int) -> datetime:
        return begin + timedelta(seconds=span * n // count)

    copy_rows(
        "trades",
        "id, exchange_id, symbol, side, price, amount, cost, fee, fee_currency, timestamp, datetime",
        (
            (
                f"t{n:09d}", exchange.pk, "BTC/USDT", "buy" if n % 2 else "sell", "45000.10000000",
                "0.01000000", "450.00100000", "0.45000000", "USDT",
                int(moment(n, trades).timestamp() * 1000), moment(n, trades).isoformat(),
            )
            for n in range(trades)
        ),
    )  # fmt: skip
    copy_rows(
        "experiences",
        "id, situation, decision, decision_reasoning, outcome, pnl, importance_score, symbol, timestamp, "
        "datetime",
        (
            (
                f"exp_{n:09d}", "BTC/USDT 1h breakout", "buy", "momentum",
                "success" if pnl > 0 else "failure",
                f"{pnl:.8f}", "0.5", "BTC/USDT", int(moment(n, experiences).timestamp() * 1000),
                moment(n, experiences).isoformat(),
            )
            for n, pnl in ((n, rng.uniform(-100, 120)) for n in range(experiences))
        ),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    Strategy.objects.create(name="momentum", version="1.0", config={}, is_active=True)
    return "momentum", start, END


def baseline_reads(start: date, end: date) -> float:
    """What any implementation must read: the curve, the fills count, every pnl in the range."""
    from apps.execution.models import Trade
    from apps.memory.models import Experience
    from apps.portfolio.selectors import equity_curve

    with timed() as elapsed:
        equity_curve(start_date=start, end_date=end)
        Trade.objects.filter(datetime__date__gte=start, datetime__date__lte=end).count()
        list(
            Experience.objects.filter(
                datetime__date__gte=start, datetime__date__lte=end, pnl__isnull=False
            ).values_list("pnl", flat=True)
        )
    return elapsed()


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--years", type=int, default=10, help="Years of daily snapshots (10).")
    arguments.add_argument("--trades", type=int, default=1_000_000, help="Fills in trades (1,000,000).")
    arguments.add_argument(
        "--experiences",
        type=int,
        default=None,
        help="Closed trades with a pnl (default: as many as --trades).",
    )
    arguments.add_argument("--runs", type=int, default=3, help="Runs of the command (3).")
    options = arguments.parse_args()
    results = Results(bench="metrics")

    setup_django(DATABASE)
    from django.core.management import call_command

    from apps.strategies.models import PerformanceMetrics

    try:
        name, start, end = load(
            years=options.years, trades=options.trades, experiences=options.experiences or options.trades
        )
        runs = []
        for _ in range(options.runs):
            with timed() as elapsed:
                call_command(
                    "compute_performance_metrics", "--strategy", name,
                    "--start", str(start), "--end", str(end),
                    verbosity=0, stdout=io.StringIO(),
                )  # fmt: skip
            runs.append(elapsed())
        row = PerformanceMetrics.objects.get()
        expect(
            row.total_trades == (options.experiences or options.trades), "not every closed trade was counted"
        )
        reads = statistics.median(baseline_reads(start, end) for _ in range(options.runs))
    finally:
        if not options.keep_db:
            drop_database(DATABASE)

    median = statistics.median(runs)
    results.add(
        figure=(
            f"compute_performance_metrics, {options.years} years of daily snapshots, "
            f"{options.trades:,} trades and {options.experiences or options.trades:,} closed-trade pnls"
        ),
        result=f"{median:.2f} s (median of {len(runs)}; first run {runs[0]:.2f} s)",
        baseline=f"reading the same rows without computing: {reads:.2f} s",
        target="<= 2 s",
        met=median <= 2,
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
