"""Target 11: the tearsheet over 10 years of daily snapshots and 1,000,000 trades renders in <= 2 s, beside a
plain read of the same rows.

A scratch database holds ten years (3,653 days) of daily snapshots of two exchanges, each with BTC's rate
recorded, a deposit or a withdrawal every 30 days, 1,000,000 fills over the ten years, 40,000 closed
positions with a realized PnL and 100,000 decisions priced by two models. The tearsheet of the strategy
version over the whole range is built and rendered to HTML (the admin page, as an operator's browser gets
it: the figures, the tables and the charts' data) in this process, three times after one warm-up; the
median is reported, with the download (the same page as one self-contained file) timed beside it.

Baseline, measured on the same rows in the same run: a plain read into Python of what the tearsheet
summarises: every snapshot (date, total value, net flow, rates) and every fill (fee, fee currency, cost,
symbol), through a server-side cursor, no arithmetic.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta

from _common import Results, drop_database, expect, log, parser, setup_django, timed

DATABASE = "bench_tearsheet"
START = date(2016, 1, 1)
DAYS = 3653
EXCHANGES = ("binance", "okx")

SNAPSHOTS_SQL = """
INSERT INTO portfolio_snapshots (exchange_id, total_value, cash, positions_value, total_pnl, daily_pnl,
    total_return, positions, snapshot_date, timestamp, datetime, net_flow, reporting_currency, rates)
SELECT e.id,
       round((10000 * exp(0.0004 * d + 0.05 * sin(d / 17.0) + 0.03 * cos(d / 5.0))
              + (d / 30) * 500)::numeric, 8),
       5000, 0, 0, 0, 0, '[]'::jsonb, %(start)s::date + d,
       (extract(epoch FROM (%(start)s::date + d)::timestamptz) * 1000)::bigint + 82800000,
       (%(start)s::date + d)::timestamptz + interval '23 hours',
       CASE WHEN d > 0 AND d %% 30 = 0 THEN 500 ELSE 0 END, 'USDT',
       jsonb_build_object('BTC', jsonb_build_object(
           'rate', round((20000 * exp(0.0003 * d + 0.1 * sin(d / 40.0)))::numeric, 2)::text,
           'source', 'given'))
FROM generate_series(0, %(days)s - 1) AS d, exchanges e
"""

TRADES_SQL = """
INSERT INTO trades (id, exchange_id, symbol, side, price, amount, cost, fee, fee_currency, timestamp,
    datetime)
SELECT 't' || i, (SELECT min(id) FROM exchanges) + (i %% 2),
       (ARRAY['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'ETH/BTC'])[1 + i %% 4],
       CASE WHEN i %% 2 = 0 THEN 'buy' ELSE 'sell' END, 100, 0.5, 50, 0.05,
       (ARRAY['USDT', 'BNB'])[1 + i %% 2],
       (extract(epoch FROM moment) * 1000)::bigint, moment
FROM (SELECT i,
             %(start)s::timestamptz + (i * (%(days)s * 86400.0 / %(trades)s)) * interval '1 second' AS moment
      FROM generate_series(1, %(trades)s) AS i) t
"""

POSITIONS_SQL = """
INSERT INTO positions (exchange_id, symbol, side, amount, entry_price, current_price, is_open, opened_at,
    closed_at, realized_pnl, realized_fees)
SELECT (SELECT min(id) FROM exchanges) + (i %% 2), 'BTC/USDT', 'buy', 1, 100, 100, false,
       %(start)s::timestamptz + (i * 7000) * interval '1 second',
       %(start)s::timestamptz + (i * 7000 + 3600) * interval '1 second',
       round((((i * 7919) %% 200) - 90)::numeric, 8), 0.1
FROM generate_series(1, %(positions)s) AS i
"""

DECISIONS_SQL = """
INSERT INTO decisions (id, decision_layer, input_context, thought_process, decision, model_used, tokens_used,
    input_tokens, output_tokens, timestamp, datetime)
SELECT 'dec_' || i, 'tactical', '{}'::jsonb, 'bench', 'hold', (ARRAY['gpt-4o', 'claude'])[1 + i %% 2],
       3000, CASE WHEN i %% 3 = 0 THEN NULL ELSE 2400 END, CASE WHEN i %% 3 = 0 THEN NULL ELSE 600 END,
       (extract(epoch FROM moment) * 1000)::bigint, moment
FROM (SELECT i,
             %(start)s::timestamptz + (i * (%(days)s * 86400.0 / %(decisions)s)) * interval '1 second'
             AS moment
      FROM generate_series(1, %(decisions)s) AS i) t
"""


def load(*, trades: int, positions: int, decisions: int) -> None:
    from decimal import Decimal

    from django.db import connection

    from apps.decisions.costs import model_price_add
    from apps.exchanges import crypto
    from apps.exchanges.models import Exchange
    from apps.strategies.models import Strategy

    for name in EXCHANGES:
        Exchange.objects.create(
            name=name,
            api_key_encrypted=crypto.encrypt("bench-key"),
            api_secret_encrypted=crypto.encrypt("bench"),
        )
    parameters = {
        "start": START,
        "days": DAYS,
        "trades": trades,
        "positions": positions,
        "decisions": decisions,
    }
    with connection.cursor() as cursor:
        for label, sql in (("snapshots", SNAPSHOTS_SQL), ("trades", TRADES_SQL), ("positions", POSITIONS_SQL),
                           ("decisions", DECISIONS_SQL)):  # fmt: skip
            with timed() as elapsed:
                cursor.execute(sql, parameters)
            log(f"{label}: {cursor.rowcount:,} rows in {elapsed():.1f} s")
    since = datetime(2015, 1, 1, tzinfo=UTC)
    with timed() as elapsed:
        model_price_add(model="gpt-4o", input_per_million=Decimal("2.5"), output_per_million=Decimal("10"),
                        effective_from=since)  # fmt: skip
        model_price_add(model="claude", input_per_million=Decimal("3"), output_per_million=Decimal("15"),
                        effective_from=since)  # fmt: skip
    log(f"{decisions:,} decisions priced in {elapsed():.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return Strategy.objects.create(
        name="trend",
        version="1.0",
        config={},
        is_active=True,
        activated_at=datetime(2015, 12, 31, tzinfo=UTC),
    )


def render(strategy, *, download: bool) -> int:
    from django.test import Client

    client = Client()
    client.force_login(_root())
    end = START + timedelta(days=DAYS - 1)
    response = client.get(
        f"/admin/tearsheet/{strategy.pk}/",
        {"start": START.isoformat(), "end": end.isoformat(), **({"download": "1"} if download else {})},
    )
    expect(response.status_code == 200, f"the tearsheet answered {response.status_code}")
    return len(response.content)


_USER = []


def _root():
    from django.contrib.auth import get_user_model

    if not _USER:
        _USER.append(get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pass-1"))
    return _USER[0]


def plain_read() -> tuple[float, int]:
    from django.db import connection

    rows = 0
    with timed() as elapsed:
        with connection.cursor() as cursor:
            cursor.execute("SELECT snapshot_date, total_value, net_flow, rates FROM portfolio_snapshots")
            rows += len(cursor.fetchall())
        with connection.chunked_cursor() as cursor:
            cursor.execute("SELECT fee, fee_currency, cost, symbol FROM trades")
            while batch := cursor.fetchmany(10_000):
                rows += len(batch)
    return elapsed(), rows


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--trades", type=int, default=1_000_000, help="Fills in trades (1,000,000).")
    arguments.add_argument("--positions", type=int, default=40_000, help="Closed positions (40,000).")
    arguments.add_argument("--decisions", type=int, default=100_000, help="Decisions (100,000).")
    arguments.add_argument("--runs", type=int, default=3, help="Timed renders (3).")
    options = arguments.parse_args()
    results = Results(bench="tearsheet")

    setup_django(DATABASE)
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test Client's host

    try:
        strategy = load(trades=options.trades, positions=options.positions, decisions=options.decisions)
        render(strategy, download=False)  # warm-up: templates compiled, caches filled
        pages, files = [], []
        for _ in range(options.runs):
            with timed() as elapsed:
                size = render(strategy, download=False)
            pages.append(elapsed())
            with timed() as elapsed:
                file_size = render(strategy, download=True)
            files.append(elapsed())
        reads = [plain_read() for _ in range(options.runs)]
        expect(
            all(rows == DAYS * len(EXCHANGES) + options.trades for _, rows in reads), "the read missed rows"
        )
    finally:
        if not options.keep_db:
            drop_database(DATABASE)

    page, download, read = (
        statistics.median(pages),
        statistics.median(files),
        statistics.median(r for r, _ in reads),
    )
    results.add(
        figure=(
            f"tearsheet page, {DAYS:,} days x {len(EXCHANGES)} exchanges of snapshots, {options.trades:,} "
            f"trades, {options.positions:,} closed positions, {options.decisions:,} decisions"
        ),
        result=f"{page:.2f} s (median of {len(pages)}; {size / 1024:,.0f} KB of HTML)",
        baseline=f"a plain read of the snapshots and trades into Python: {read:.2f} s",
        target="<= 2 s",
        met=page <= 2,
        detail=f"the download (one self-contained file, {file_size / 1024:,.0f} KB): {download:.2f} s",
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
