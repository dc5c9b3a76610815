"""import_trades where size shows: many lines the database rejects (counted, not all held), numbers past
any column, a repeated id on a later line with and without repeats elsewhere, a batch boundary exactly at
the end of the file, and orders and trades in one file whatever their order."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from apps.execution.models import Order, Trade
from apps.execution.services import imports
from apps.execution.services.imports import trades_import

from .test_imports import jsonl, order_record, trade_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def binance():
    from tests.factories import ExchangeFactory

    return ExchangeFactory(name="binance")


def test_many_database_rejections_are_all_counted_and_the_first_listed(tmp_path, binance, monkeypatch):
    monkeypatch.setattr(imports, "MAX_REPORTED_REJECTIONS", 3)
    lines = [trade_record(n, order=f"unknown{n}") for n in range(1, 8)] + [trade_record(8)]
    lines.insert(1, "not json")

    report = trades_import(path=jsonl(tmp_path, lines), exchange=binance)

    assert report.rejected == 8  # one by the parser, seven by the database
    assert [r.line for r in report.rejections] == [1, 2, 3]
    assert "order unknown1 is not recorded" in report.rejections[0].reason
    assert report.trades_inserted == 1 and Trade.objects.get().id == "t8"


def test_a_number_past_any_column_is_rejected_not_a_crash(tmp_path, binance):
    huge = json.dumps(trade_record(2, amount=0)).replace('"amount": 0', '"amount": 1E+999')  # a JSON number
    lines = [trade_record(1, price="1e40"), huge, trade_record(3)]

    report = trades_import(path=jsonl(tmp_path, lines), exchange=binance)

    assert [(r.line, r.reason) for r in report.rejections] == [
        (1, "price 1e40 does not fit NUMERIC(20, 8)"),
        (2, "amount 1E+999 does not fit NUMERIC(20, 8)"),
    ]
    assert Trade.objects.get().id == "t3"


@pytest.mark.parametrize("repeats_elsewhere", [False, True])
def test_the_first_line_of_an_id_wins_however_many_ids_repeat(tmp_path, binance, repeats_elsewhere):
    lines = [trade_record(1, price="1"), trade_record(2), trade_record(1, price="2")]
    if repeats_elsewhere:
        lines += [trade_record(2, price="3")]

    report = trades_import(path=jsonl(tmp_path, lines), exchange=binance)

    assert Trade.objects.get(pk="t1").price == Decimal("1")
    assert Trade.objects.get(pk="t2").price == Decimal("45000.5")
    assert (report.trades_inserted, report.trades_present) == (2, len(lines) - 2)


def test_a_batch_ending_exactly_at_the_last_line_loses_nothing(tmp_path, binance):
    report = trades_import(
        path=jsonl(tmp_path, [trade_record(n) for n in range(1, 9)]), exchange=binance, batch_size=4
    )
    assert report.trades_inserted == 8 and Trade.objects.count() == 8


def test_trades_before_their_orders_in_the_file_are_imported(tmp_path, binance):
    lines = [trade_record(1, order="o1"), order_record(1), trade_record(2, order="o1")]

    report = trades_import(path=jsonl(tmp_path, lines), exchange=binance, batch_size=1)

    assert (report.orders_inserted, report.trades_inserted, report.rejected) == (1, 2, 0)
    assert set(Order.objects.get(pk="o1").trades.values_list("id", flat=True)) == {"t1", "t2"}
