"""partition_trades: trades partitioned by month and back, with every row, key, index and view kept.

Each test runs inside the test's transaction, which PostgreSQL's transactional DDL rolls back,
so the conversion never outlives its test.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.execution.models import TodayTrade, Trade
from apps.operations.services.partitioning import trades_is_partitioned, trades_partition
from tests.factories import ExchangeFactory, OrderFactory, TradeFactory
from tests.operations.locks import other_session_holding_lock

pytestmark = pytest.mark.django_db


def partition(*args: str) -> str:
    out = StringIO()
    call_command("partition_trades", *args, "-v", "2", stdout=out, stderr=StringIO())
    return out.getvalue()


def _partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'trades'::regclass"
        )
        return {name for (name,) in cursor.fetchall()}


def _table_state() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'trades'::regclass"
        )
        constraints = sorted(d for (d,) in cursor.fetchall())
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'trades'")
        indexes = sorted(n for (n,) in cursor.fetchall())
    return {"constraints": constraints, "indexes": indexes}


@pytest.fixture
def trades():
    exchange = ExchangeFactory(name="binance")
    order = OrderFactory(id="o1", exchange=exchange)
    rows = [
        TradeFactory(id="t-2025-11", order=order, datetime=datetime(2025, 11, 30, 23, 59, tzinfo=UTC)),
        TradeFactory(id="t-2025-12", order=order, datetime=datetime(2025, 12, 1, 0, 0, tzinfo=UTC)),
        TradeFactory(id="t-now", order=order, datetime=timezone.now()),
    ]
    return {t.id: t for t in rows}


def _rows() -> list:
    return list(Trade.objects.order_by("id").values())


def test_conversion_keeps_every_row_key_index_and_view(trades):
    before = _rows()
    output = partition("--months-ahead", "2")

    assert trades_is_partitioned()
    assert _rows() == before
    today = timezone.now().date().replace(day=1)
    expected = {"trades_2025_11", "trades_2025_12", f"trades_{today:%Y_%m}", "trades_default"}
    assert expected <= _partitions()
    assert len(_partitions()) == len(expected | {f"trades_{m:%Y_%m}" for m in _ahead(today, 2)})
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM trades WHERE id = 't-2025-11'")
        assert cursor.fetchone()[0] == "trades_2025_11"
    state = _table_state()
    assert "PRIMARY KEY (id, datetime)" in state["constraints"]
    assert any("REFERENCES orders(id)" in c for c in state["constraints"])
    assert {"idx_trades_order", "idx_trades_symbol", "idx_trades_datetime"} <= set(state["indexes"])
    assert list(TodayTrade.objects.values_list("id", flat=True)) == ["t-now"]
    assert "Partitioned trades by month: 3 rows" in output

    # the foreign key to orders still holds
    with pytest.raises(IntegrityError), transaction.atomic():
        TradeFactory(id="t-orphan", order_id="no-such-order", exchange=trades["t-now"].exchange)


def _ahead(month: date, n: int) -> list[date]:
    months = []
    for _ in range(n):
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        months.append(month)
    return months


def test_orm_and_import_still_work_once_partitioned(trades, tmp_path):
    partition()
    TradeFactory(id="t-new", order=trades["t-now"].order, datetime=datetime(2024, 5, 1, tzinfo=UTC))
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM trades WHERE id = 't-new'")
        assert cursor.fetchone()[0] == "trades_default"  # no partition for May 2024 (yet)
    path = tmp_path / "t.jsonl"
    record = {"id": "t-now", "symbol": "BTC/USDT", "side": "buy", "price": "1", "amount": "1",
              "timestamp": 1767225600000}  # fmt: skip
    path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "t-imported"}) + "\n")
    out = StringIO()
    call_command("import_trades", str(path), "--exchange", "binance", stdout=out, stderr=StringIO())
    # t-now exists with another datetime: still "already present", the id stays unique
    assert "inserted 1 trades" in out.getvalue() and "already present 1 trades" in out.getvalue()
    assert Trade.objects.filter(id="t-now").count() == 1


def test_rerun_creates_only_missing_months_and_empties_the_default_partition(trades):
    partition("--months-ahead", "1")
    TradeFactory(id="t-old", order=trades["t-now"].order, datetime=datetime(2023, 3, 3, tzinfo=UTC))
    output = partition("--months-ahead", "1")
    assert "trades_2023_03" in _partitions()
    assert "1 rows moved out of the default partition" in output
    assert "1 partitions created" in output
    assert Trade.objects.get(id="t-old").datetime == datetime(2023, 3, 3, tzinfo=UTC)
    assert "0 partitions created" in partition("--months-ahead", "1")


def test_undo_restores_the_plain_table_exactly(trades):
    before_rows, before_state = _rows(), _table_state()
    partition()
    output = partition("--undo")
    assert not trades_is_partitioned()
    assert _rows() == before_rows
    assert _table_state() == before_state
    assert list(TodayTrade.objects.values_list("id", flat=True)) == ["t-now"]
    assert "plain table again; 3 rows kept" in output
    assert "already a plain table" in partition("--undo")


def test_undo_refuses_duplicate_ids_across_months(trades):
    partition()
    with connection.cursor() as cursor:  # only possible once partitioned: the key is (id, datetime)
        cursor.execute("CREATE TEMP TABLE twin AS SELECT * FROM trades WHERE id = 't-now'")
        cursor.execute("UPDATE twin SET datetime = datetime - interval '40 days'")
        cursor.execute("INSERT INTO trades SELECT * FROM twin")
    with pytest.raises(CommandError, match=r"more than one month \(t-now\)"):
        partition("--undo")
    assert trades_is_partitioned()


def test_dry_run_changes_nothing(trades):
    output = partition("--dry-run")
    assert "dry run" in output and "Partitioned trades by month" in output
    assert not trades_is_partitioned()


def test_bad_months_ahead_is_refused(trades):
    with pytest.raises(CommandError, match="between 0 and 120"):
        partition("--months-ahead", "-1")
    assert not trades_is_partitioned()


def test_a_second_run_refuses_while_one_holds_the_lock(trades):
    with other_session_holding_lock("partition_trades"), pytest.raises(CommandError, match="Another"):
        partition()
    assert not trades_is_partitioned()


def test_service_is_idempotent_for_a_fixed_day(trades):
    first = trades_partition(months_ahead=0, today=date(2026, 1, 15))
    second = trades_partition(months_ahead=0, today=date(2026, 1, 15))
    assert first.converted and not second.converted and second.partitions_created == []
