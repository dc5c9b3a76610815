"""Target 1: import_trades of 1,000,000 ccxt trades beside a bare psycopg COPY and Django bulk_create.

The same trades (referencing 100,000 orders already recorded) are loaded three ways into the same empty
`trades` table of a scratch database:
  - COPY: psycopg's COPY of a ready COPY-format file (no parsing, no validation): the ceiling;
  - import_trades: the command on the ccxt JSON lines file, as an operator runs it (a child process,
    whose peak resident memory is measured, also on a file a tenth the size: it must not grow);
  - bulk_create: each JSON line parsed into a Trade and saved with bulk_create(batch_size=5000).
Target: import_trades >= 50% of COPY's rate and >= 5x bulk_create's; peak memory < 200 MB.

The bare COPY and import_trades are timed --repeat times (3), alternately, and their medians compared:
on a machine shared with other work a single pair can land on a burst of someone else's load (single
pairs of the same code measured 39% to 51% here).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from _common import (
    ROOT,
    Results,
    django_environment,
    drop_database,
    expect,
    log,
    parser,
    run_measured,
    setup_django,
    timed,
)

DATABASE = "bench_import"
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT", "LINK/USDT"]
BASE_PRICES = {
    "BTC": 45000, "ETH": 2500, "SOL": 100, "BNB": 300, "XRP": 0.6, "ADA": 0.5, "DOGE": 0.08, "LINK": 15,
}  # fmt: skip
START_MS = 1_704_067_200_000  # 2024-01-01
TRADE_COLUMNS = (
    "id, order_id, exchange_id, symbol, side, price, amount, cost, fee, fee_currency, timestamp, datetime, "
    "raw_data"
)


def write_files(directory: Path, rows: int, orders: int, exchange_id: int) -> tuple[Path, Path, Path]:
    """The ccxt JSON lines file, the same trades in COPY format, and the orders they belong to (COPY)."""
    rng = random.Random(20240101)
    jsonl, copy_file = directory / "trades.jsonl", directory / "trades.copy"
    orders_file = directory / "orders.copy"
    with orders_file.open("w") as out:
        for n in range(orders):
            symbol = SYMBOLS[n % len(SYMBOLS)]
            moment = START_MS + n * 30_000
            when = datetime.fromtimestamp(moment / 1000, tz=UTC).isoformat()
            out.write(
                f"o{n:08d}\tc{n:08d}\t{exchange_id}\t{symbol}\tbuy\tlimit\tfilled\t1\t1\t1\t{moment}\t{when}\n"
            )
    with jsonl.open("w") as lines, copy_file.open("w") as copy:
        for n in range(rows):
            order = n * orders // rows
            symbol = SYMBOLS[order % len(SYMBOLS)]
            base, quote = symbol.split("/")
            price = Decimal(str(round(BASE_PRICES[base] * (1 + rng.uniform(-0.05, 0.05)), 4)))
            amount = Decimal(str(round(rng.uniform(0.001, 5), 6)))
            cost = (price * amount).quantize(Decimal("0.00000001"))
            fee = (cost * Decimal("0.001")).quantize(Decimal("0.00000001"))
            side = "buy" if rng.random() < 0.5 else "sell"
            moment = START_MS + n * 3_000
            when = datetime.fromtimestamp(moment / 1000, tz=UTC).isoformat(timespec="milliseconds")
            info = {"tradeId": f"{n}", "px": str(price), "sz": str(amount), "side": side, "ts": str(moment)}
            record = {
                "info": info, "id": f"t{n:09d}", "order": f"o{order:08d}", "timestamp": moment,
                "datetime": when.replace("+00:00", "Z"), "symbol": symbol, "type": "limit", "side": side,
                "takerOrMaker": "taker", "price": float(price), "amount": float(amount), "cost": float(cost),
                "fee": {"cost": float(fee), "currency": quote},
                "fees": [{"cost": float(fee), "currency": quote}],
            }  # fmt: skip
            lines.write(json.dumps(record, separators=(",", ":")) + "\n")
            copy.write(
                f"t{n:09d}\to{order:08d}\t{exchange_id}\t{symbol}\t{side}\t{price}\t{amount}\t{cost}\t{fee}\t"
                f"{quote}\t{moment}\t{when}\t{json.dumps(info, separators=(',', ':'))}\n"
            )
    return jsonl, copy_file, orders_file


def copy_file_into(table: str, columns: str, path: Path) -> float:
    from django.db import connection

    with (
        timed() as elapsed,
        connection.cursor() as cursor,
        path.open("rb") as handle,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        while chunk := handle.read(1 << 20):
            copy.write(chunk)
    return elapsed()


def truncate_trades() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE trades")
        cursor.execute("CHECKPOINT")  # each run starts without the previous one's dirty pages to write


def count_trades() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM trades")
        return cursor.fetchone()[0]


def bulk_create_file(path: Path, rows: int, exchange_id: int) -> float:
    """The plain Django way: json.loads each line, build a Trade, bulk_create in batches of 5,000."""
    from apps.execution.models import Trade

    batch: list[Trade] = []
    with timed() as elapsed, path.open() as handle:
        for n, line in enumerate(handle):
            if n >= rows:
                break
            record = json.loads(line, parse_float=Decimal)
            fee = record.get("fee") or {}
            batch.append(
                Trade(
                    id=record["id"],
                    order_id=record["order"],
                    exchange_id=exchange_id,
                    symbol=record["symbol"],
                    side=record["side"],
                    price=record["price"],
                    amount=record["amount"],
                    cost=record["cost"],
                    fee=fee.get("cost"),
                    fee_currency=fee.get("currency"),
                    timestamp=record["timestamp"],
                    datetime=datetime.fromisoformat(record["datetime"].replace("Z", "+00:00")),
                    raw_data=record["info"],
                )
            )
            if len(batch) == 5000:
                Trade.objects.bulk_create(batch)
                batch = []
        if batch:
            Trade.objects.bulk_create(batch)
    return elapsed()


def import_command(path: Path) -> tuple[float, float, str]:
    env = django_environment(DATABASE)
    command = [sys.executable, "manage.py", "import_trades", str(path), "--exchange", "bench", "-v", "0"]
    return run_measured(command, env=env, cwd=ROOT)


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--rows", type=int, default=1_000_000, help="Trades in the file (1,000,000).")
    arguments.add_argument("--orders", type=int, default=100_000, help="Orders they belong to (100,000).")
    arguments.add_argument(
        "--bulk-rows", type=int, default=None, help="Trades saved by bulk_create (default: all of them)."
    )
    arguments.add_argument(
        "--repeat", type=int, default=3, help="Time COPY and import_trades this many times, alternately (3)."
    )
    options = arguments.parse_args()
    bulk_rows = min(options.bulk_rows or options.rows, options.rows)
    results = Results(bench="import_trades")

    setup_django(DATABASE)
    from django.db import connection

    from apps.exchanges.services import exchange_register

    exchange = exchange_register(name="bench", api_key="bench-key", api_secret="bench-secret")  # noqa: S106
    try:
        with tempfile.TemporaryDirectory(prefix="bench-import-") as directory:
            log(f"writing {options.rows:,} ccxt trades of {options.orders:,} orders")
            jsonl, copy_path, orders_path = write_files(
                Path(directory), options.rows, options.orders, exchange.pk
            )
            small_rows = max(options.rows // 10, 1)
            small = Path(directory) / "small.jsonl"
            with jsonl.open() as source, small.open("w") as out:
                for n, line in enumerate(source):
                    if n >= small_rows:
                        break
                    out.write(line)
            copy_file_into(
                "orders",
                "id, client_order_id, exchange_id, symbol, side, type, status, price, amount, filled, "
                "timestamp, datetime",
                orders_path,
            )
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE orders")
            size_mb = jsonl.stat().st_size / 1e6

            log(f"import_trades of the {small_rows:,}-line file (memory at a tenth of the size)")
            _, small_rss, _ = import_command(small)
            expect(count_trades() == small_rows, "the table does not hold every row")
            truncate_trades()

            copy_times, import_times, import_rss = [], [], 0.0
            for run in range(1, options.repeat + 1):
                of = f" ({run} of {options.repeat})" if options.repeat > 1 else ""
                log(f"bare COPY{of}")
                copy_times.append(copy_file_into("trades", TRADE_COLUMNS, copy_path))
                expect(count_trades() == options.rows, "the table does not hold every row")
                truncate_trades()

                log(f"import_trades{of}")
                seconds, rss, output = import_command(jsonl)
                imported = count_trades()
                if imported != options.rows:
                    raise RuntimeError(
                        f"import_trades recorded {imported} of {options.rows} trades:\n{output}"
                    )
                truncate_trades()
                import_times.append(seconds)
                import_rss = max(import_rss, rss)
            copy_seconds, import_seconds = statistics.median(copy_times), statistics.median(import_times)

            log(f"Django bulk_create of {bulk_rows:,} trades")
            bulk_seconds = bulk_create_file(jsonl, bulk_rows, exchange.pk)
            expect(count_trades() == bulk_rows, "the table does not hold every row")
            truncate_trades()
    finally:
        if not options.keep_db:
            drop_database(DATABASE)

    copy_rate = options.rows / copy_seconds
    import_rate = options.rows / import_seconds
    bulk_rate = bulk_rows / bulk_seconds
    median = f"median of {options.repeat}: " if options.repeat > 1 else ""
    pairs = ", ".join(
        f"{c:.1f}/{i:.1f} s = {c / i:.0%}" for c, i in zip(copy_times, import_times, strict=True)
    )
    results.add(
        figure=f"import_trades, {options.rows:,} ccxt trades ({size_mb:,.0f} MB of JSON lines)",
        result=(
            f"{median}{import_rate:,.0f} trades/s ({import_seconds:.1f} s) "
            f"= {import_rate / copy_rate:.0%} of COPY"
        ),
        baseline=f"bare psycopg COPY {median}{copy_rate:,.0f} rows/s ({copy_seconds:.1f} s)",
        target=">= 50% of COPY",
        met=import_rate >= 0.5 * copy_rate,
        detail=f"each run, COPY/import_trades: {pairs}" if options.repeat > 1 else "",
    )
    results.add(
        figure="import_trades vs Django bulk_create",
        result=f"{import_rate / bulk_rate:.1f}x bulk_create",
        baseline=f"bulk_create {bulk_rate:,.0f} trades/s ({bulk_rows:,} trades, {bulk_seconds:.1f} s)",
        target=">= 5x bulk_create",
        met=import_rate >= 5 * bulk_rate,
    )
    results.add(
        figure="import_trades peak resident memory",
        result=f"{import_rss:.0f} MB at {options.rows:,} lines",
        baseline=f"{small_rss:.0f} MB at {small_rows:,} lines (a tenth of the file)",
        target="< 200 MB, whatever the file size",
        met=import_rss < 200 and import_rss <= small_rss * 1.25,
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
