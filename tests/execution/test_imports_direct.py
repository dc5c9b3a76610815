"""import_trades' two paths: new trades go straight into `trades` with COPY, anything that may conflict
through the staged merge; either way the rows, the report and the rejections are the merge's own."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection, transaction

from apps.execution.services import imports
from apps.execution.services.imports import trades_import
from apps.operations.services.partitioning import trades_partition
from tests.factories import ExchangeFactory, OrderFactory, TradeFactory

from .test_imports import jsonl, order_record, trade_record

pytestmark = pytest.mark.django_db

# `info` as exchanges send it, and what JSON allows: digits past a float, exponents, nesting, escapes.
INFOS = [
    '{"price": 45000.123456789012345678901234567890, "qty": 1.50, "big": 123456789012345678901234567890}',
    '{"ok": true, "none": null, "list": [1.50, "x", {"y": 2E+3, "z": -0.0}], "e": 1e-7}',
    '{"text": "caf\\u00e9 \\"quoted\\" back\\\\slash\\nnew\\tline \\u2028 \\ud83d\\ude00"}',
    '{"a": 1, "a": 2}',
    '"a string"',
    "[1, 2.50]",
    "null",
    None,  # no `info` key at all
]


@pytest.fixture
def binance():
    return ExchangeFactory(name="binance")


@pytest.fixture
def staged_runs(monkeypatch):
    """How many times the staged merge ran (a list, one entry per run)."""
    runs = []
    merge = imports._import_staged

    def counted(*args, **kwargs):
        runs.append(1)
        return merge(*args, **kwargs)

    monkeypatch.setattr(imports, "_import_staged", counted)
    return runs


def _trade_line(n: int, info: str | None, **overrides) -> str:
    record = trade_record(n, **overrides)
    del record["info"]
    text = json.dumps(record)
    return text if info is None else text[:-1] + f', "info": {info}' + "}"


def _snapshot() -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, order_id, exchange_id, symbol, side, price, amount, cost, fee, fee_currency, "
            "timestamp, datetime, raw_data::text FROM trades ORDER BY id"
        )
        trades = cursor.fetchall()
        cursor.execute(
            "SELECT id, client_order_id, exchange_id, status, type, filled, fee, raw_data::text FROM orders "
            "ORDER BY id"
        )
        return [trades, cursor.fetchall()]


def _outcome(path, exchange, *, staged_only=False, **options):
    """The report and the rows an import leaves, rolled back afterwards so the next run starts alike."""
    with transaction.atomic():
        if staged_only:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(imports, "_import_direct", lambda *args, **kwargs: None)
                report = trades_import(path=path, exchange=exchange, **options)
        else:
            report = trades_import(path=path, exchange=exchange, **options)
        rows = _snapshot()
        transaction.set_rollback(True)
    return report, rows


def test_new_trades_go_straight_into_trades_and_are_the_rows_the_merge_would_write(
    tmp_path, binance, staged_runs
):
    OrderFactory(id="o1", client_order_id="c1", exchange=binance)
    lines = [_trade_line(n, info, order="o1" if n % 2 else None) for n, info in enumerate(INFOS, start=1)]
    lines += [trade_record(90, cost=None, fee=None, fees=[{"cost": "0.1", "currency": "USDT"}])]
    lines += [trade_record(91, side="hold"), trade_record(92, fee={"cost": "-0.0092", "currency": "USDT"})]
    path = jsonl(tmp_path, lines)

    direct, direct_rows = _outcome(path, binance, batch_size=3)
    assert staged_runs == []  # nothing in this file could conflict
    merged, merged_rows = _outcome(path, binance, staged_only=True, batch_size=3)

    assert direct == merged
    assert direct_rows == merged_rows
    assert (direct.trades_inserted, direct.rejected) == (len(lines) - 1, 1)
    assert direct.rejections[0].line == len(lines) - 1
    raw = {row[0]: row[-1] for row in direct_rows[0]}
    assert raw["t1"] == (
        '{"big": 123456789012345678901234567890, "qty": 1.50, "price": 45000.123456789012345678901234567890}'
    )
    assert raw["t7"] is None and raw["t8"] is None  # info null, and no info


def test_a_csv_file_goes_straight_in_with_its_info_cells_as_they_are(tmp_path, binance, staged_runs):
    OrderFactory(id="o9", exchange=binance)
    path = tmp_path / "trades.csv"
    path.write_text(
        "id,order,symbol,side,price,amount,cost,fee.cost,fee.currency,timestamp,datetime,info\n"
        't1,o9,BTC/USDT,sell,45000.5,0.01,450.005,0.45,USDT,1767225600000,,"{""a"": 1.50, ""b"": [1e3]}"\n'
        "t2,,ETH/USDT,buy,2500,2,,,,,2026-01-02T10:00:00Z,null\n"
        "t3,,ETH/USDT,buy,2500,2,,-0.01,ETH,1767225600000,,\n"
    )

    direct, direct_rows = _outcome(path, binance)
    assert staged_runs == []
    merged, merged_rows = _outcome(path, binance, staged_only=True)

    assert (direct, direct_rows) == (merged, merged_rows)
    assert [row[-1] for row in direct_rows[0]] == ['{"a": 1.50, "b": [1000]}', None, None]


@pytest.mark.parametrize(
    "case",
    [
        "id already recorded",
        "id recorded for another symbol",
        "id repeated in the file",
        "order not recorded",
        "order on another exchange",
        "order in the file after its trades",
        "info the database refuses",
    ],
)
def test_what_may_conflict_is_merged_through_the_stage_as_if_it_were_the_only_path(
    tmp_path, binance, staged_runs, case
):
    OrderFactory(id="o1", exchange=binance)
    OrderFactory(id="o-okx", exchange=ExchangeFactory(name="okx"))
    lines = [trade_record(n, order="o1") for n in range(1, 8)]  # three batches of 2 go in first
    if case == "id already recorded":
        TradeFactory(id="t99", order=OrderFactory(id="o-t99", exchange=binance), symbol="BTC/USDT")
        lines.append(trade_record(99))
    elif case == "id recorded for another symbol":
        TradeFactory(id="t99", order=OrderFactory(id="o-t99", exchange=binance), symbol="ETH/USDT")
        lines.append(trade_record(99))
    elif case == "id repeated in the file":
        lines.append(trade_record(2, price="1"))
    elif case == "order not recorded":
        lines.append(trade_record(99, order="o404"))
    elif case == "order on another exchange":
        lines.append(trade_record(99, order="o-okx"))
    elif case == "order in the file after its trades":
        lines[1:1] = [trade_record(98, order="o2")]
        lines.append(order_record(2))
    else:  # JSON that Python reads and PostgreSQL's JSONB does not: a lone surrogate, in the merge too
        lines.append(_trade_line(99, '{"x": "\\ud800"}'))
    path = jsonl(tmp_path, [*lines, trade_record(100)])

    if case == "info the database refuses":
        with pytest.raises(Exception, match="surrogate"):
            trades_import(path=path, exchange=binance, batch_size=2)
        assert staged_runs == [1]
        return
    report, rows = _outcome(path, binance, batch_size=2)
    assert staged_runs == [1]
    merged, merged_rows = _outcome(path, binance, staged_only=True, batch_size=2)

    assert (report, rows) == (merged, merged_rows)
    assert report.trades_inserted >= 8  # the file's other trades, once: the direct attempt left nothing


def test_a_partitioned_trades_table_is_always_merged_through_the_stage(tmp_path, binance, staged_runs):
    OrderFactory(id="o1", exchange=binance)
    trades_partition(months_ahead=1)

    report = trades_import(
        path=jsonl(tmp_path, [trade_record(1, order="o1"), trade_record(2)]), exchange=binance
    )

    assert staged_runs == [1]
    assert report.trades_inserted == 2


def test_a_rebate_and_a_fee_list_go_in_exactly(tmp_path, binance, staged_runs):
    lines = [
        trade_record(1, fee={"cost": "-0.00920000", "currency": "USDT"}),
        trade_record(
            2, fee=None, fees=[{"cost": "0.1", "currency": "USDT"}, {"cost": "0.05", "currency": "USDT"}]
        ),
    ]

    trades_import(path=jsonl(tmp_path, lines), exchange=binance)

    assert staged_runs == []
    fees = [row[8:10] for row in _snapshot()[0]]
    assert fees == [(Decimal("-0.0092"), "USDT"), (Decimal("0.15"), "USDT")]


@pytest.mark.parametrize("info", [i for i in INFOS if i is not None])
def test_raw_data_is_the_same_json_without_the_c_encoder(info, monkeypatch):
    record = imports._DECODER.decode(f'{{"info": {info}}}')
    with_c = imports._raw_data(record)
    monkeypatch.setattr(imports, "_C_ENCODE", None)

    assert imports._raw_data(record) == with_c
    assert with_c is None or json.loads(with_c) == json.loads(info)
