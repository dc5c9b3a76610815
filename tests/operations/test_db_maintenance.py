"""db_maintenance: ANALYZE / VACUUM ANALYZE of the large tables and the health report."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.factories import SystemEventFactory, TradeFactory
from tests.operations.locks import other_session_holding_lock


def maintain(*args: str) -> str:
    out = StringIO()
    call_command("db_maintenance", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _last_analyze(table: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_last_analyze_time(%s::regclass)", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_report_lists_sizes_rows_and_unused_indexes():
    with connection.cursor() as cursor:  # an index no query has read yet
        cursor.execute("CREATE INDEX idx_trades_fee_currency_unused ON trades (fee_currency)")
    TradeFactory.create_batch(3)
    output = maintain("--report-only", "--json", "-v", "0")
    report = json.loads(output)
    tables = {t["table"]: t for t in report["tables"]}
    assert {"trades", "orders", "system_events"} <= tables.keys()
    assert tables["trades"]["total_bytes"] > 0
    unused = {(i["table"], i["index"]) for i in report["unused_indexes"]}
    assert ("trades", "idx_trades_fee_currency_unused") in unused
    assert not any(index.endswith("_pkey") for _, index in unused)  # keys enforce rules: never "unused"
    assert report["action"] == "none" and report["processed"] == []


@pytest.mark.django_db
def test_analyze_runs_on_the_named_table():
    TradeFactory()
    output = maintain("--table", "trades")
    assert _last_analyze("trades") is not None
    assert "ANALYZE on 1 tables" in output


@pytest.mark.django_db(transaction=True)
def test_vacuum_analyze_runs_outside_a_transaction():
    SystemEventFactory.create_batch(5)
    output = maintain("--vacuum", "--table", "system_events", "--table", "trades")
    assert "VACUUM ANALYZE on 2 tables" in output
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_last_vacuum_time('system_events'::regclass)")
        assert cursor.fetchone()[0] is not None


@pytest.mark.django_db
def test_vacuum_inside_a_transaction_is_a_clear_error():
    with pytest.raises(CommandError, match="VACUUM cannot run inside a transaction"):
        maintain("--vacuum", "--table", "trades")


@pytest.mark.django_db
def test_unknown_table_is_refused():
    with pytest.raises(CommandError, match="No such table: nosuch"):
        maintain("--table", "nosuch")


@pytest.mark.django_db
def test_a_second_run_refuses_while_one_holds_the_lock():
    with other_session_holding_lock("db_maintenance"), pytest.raises(CommandError, match="Another"):
        maintain("--table", "trades")
