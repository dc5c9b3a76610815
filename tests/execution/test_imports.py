"""import_trades: ccxt trades and orders from JSON lines and CSV, staged with COPY and merged."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.execution.models import Order, OrderStatus, Trade
from tests.factories import ExchangeFactory, OrderFactory, TradeFactory
from tests.operations.locks import other_session_holding_lock

pytestmark = pytest.mark.django_db

D = Decimal
T0 = 1767225600000  # 2026-01-01T00:00:00Z


def order_record(n: int, **overrides) -> dict:
    record = {
        "id": f"o{n}", "clientOrderId": f"c{n}", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
        "status": "closed", "price": "45000.5", "amount": "0.01", "filled": "0.01", "remaining": "0",
        "cost": "450.005", "timestamp": T0 + n, "fee": {"cost": "0.45", "currency": "USDT"},
        "info": {"orderId": n},
    }  # fmt: skip
    record.update(overrides)
    return record


def trade_record(n: int, **overrides) -> dict:
    record = {
        "id": f"t{n}", "order": None, "symbol": "BTC/USDT", "side": "buy", "price": "45000.5",
        "amount": "0.01", "cost": "450.005", "fee": {"cost": "0.45", "currency": "USDT"},
        "timestamp": T0 + n, "datetime": "2026-01-01T00:00:00.000Z", "info": {"id": n},
    }  # fmt: skip
    record.update(overrides)
    return record


def jsonl(tmp_path: Path, lines: list, name: str = "trades.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_trades", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def binance():
    return ExchangeFactory(name="binance")


def test_orders_and_their_trades_are_imported_with_exact_decimals(tmp_path, binance):
    # the info's numbers are kept with the exchange's own digits, beyond what a float holds
    trade_line = json.dumps(
        trade_record(1, order="o1", price="45000.12345678", amount="0.00000001", cost=None)
    )
    trade_line = trade_line.replace('{"id": 1}', '{"price": 45000.123456789012345678901234567890}')
    out, _ = run(jsonl(tmp_path, [order_record(1), trade_line]), "--exchange", "binance")

    order = Order.objects.get(pk="o1")
    assert order.status == OrderStatus.FILLED  # ccxt's "closed"
    assert order.exchange == binance and order.client_order_id == "c1"
    assert order.fee == D("0.45") and order.fee_currency == "USDT"
    trade = Trade.objects.get(pk="t1")
    assert trade.order_id == "o1" and trade.exchange == binance
    assert trade.price == D("45000.12345678")
    assert trade.cost == D("0.00045000")  # price x amount when the file has no cost
    assert trade.timestamp == T0 + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT raw_data::text FROM trades WHERE id = 't1'")
        assert cursor.fetchone()[0] == '{"price": 45000.123456789012345678901234567890}'
    assert "inserted 1 trades and 1 orders" in out and "rejected 0" in out


def test_reimport_of_the_same_file_changes_nothing(tmp_path, binance):
    path = jsonl(tmp_path, [order_record(1), trade_record(1, order="o1"), trade_record(2)])
    run(path, "--exchange", "binance")
    before = list(Trade.objects.order_by("id").values())
    out, _ = run(path, "--exchange", "binance")
    assert list(Trade.objects.order_by("id").values()) == before
    assert "inserted 0 trades and 0 orders; already present 2 trades and 1 orders; rejected 0" in out


def test_malformed_lines_are_rejected_with_line_and_reason_and_the_rest_imported(tmp_path, binance):
    path = jsonl(
        tmp_path,
        [
            trade_record(1),
            "not json at all",
            trade_record(2, side="hold"),
            trade_record(3, amount="-1"),
            trade_record(4, price="1e13"),
            trade_record(5, timestamp=1767225600),  # seconds, not milliseconds
            trade_record(6, order="o404"),
            "[1, 2]",
            trade_record(7, symbol="X" * 21),
            trade_record(8, price="NaN"),
            trade_record(9),
        ],
    )
    out, err = run(path, "--exchange", "binance")
    assert sorted(Trade.objects.values_list("id", flat=True)) == ["t1", "t9"]
    assert "line 2: not valid JSON" in err
    assert "line 3: side: 'hold' is not one of: buy, sell." in err
    assert "line 4: amount must be greater than zero" in err
    assert "line 5: price 1e13 does not fit NUMERIC(20, 8)" in err
    assert "line 6: timestamp 1767225600 is before 2001" in err
    assert "line 7: order o404 is not recorded" in err
    assert "line 8: not a JSON object" in err
    assert "line 9: symbol is longer than 20 characters" in err
    assert "line 10: price 'NaN' is not a finite number" in err
    assert "rejected 9" in out


def test_strict_imports_nothing_when_a_line_is_rejected(tmp_path, binance):
    path = jsonl(tmp_path, [trade_record(1), trade_record(2, side="hold")])
    with pytest.raises(CommandError, match=r"1 line\(s\) rejected, nothing imported"):
        run(path, "--exchange", "binance", "--strict")
    assert Trade.objects.count() == 0


def test_a_file_with_nothing_valid_is_an_error(tmp_path, binance):
    path = jsonl(tmp_path, ["garbage", "more garbage"])
    with pytest.raises(CommandError, match="Every line"):
        run(path, "--exchange", "binance")


def test_csv_with_flat_fee_columns_and_order_lookup(tmp_path, binance):
    OrderFactory(id="o9", exchange=binance)
    path = tmp_path / "trades.csv"
    path.write_text(
        "id,order,symbol,side,price,amount,cost,fee.cost,fee.currency,timestamp,datetime,info\n"
        't1,o9,BTC/USDT,sell,45000.5,0.01,450.005,0.45,USDT,1767225600000,,"{""a"": 1.50}"\n'
        "t2,,ETH/USDT,buy,2500,2,,,,,2026-01-02T10:00:00Z,\n"
        "t3,,ETH/USDT,buy,abc,2,,,,1767225600000,,\n"
    )
    _, err = run(path, "--exchange", "binance")
    t1, t2 = Trade.objects.get(pk="t1"), Trade.objects.get(pk="t2")
    assert (t1.order_id, t1.side, t1.fee, t1.fee_currency) == ("o9", "sell", D("0.45"), "USDT")
    assert t1.raw_data == {"a": 1.5}
    assert t2.cost == D("5000") and t2.timestamp == 1767348000000 and t2.raw_data is None
    assert "line 4: price 'abc' is not a number" in err


def test_duplicates_in_the_file_keep_the_first(tmp_path, binance):
    path = jsonl(tmp_path, [trade_record(1, price="1"), trade_record(1, price="2")])
    out, _ = run(path, "--exchange", "binance")
    assert Trade.objects.get().price == D("1")
    assert "inserted 1 trades" in out and "already present 1 trades" in out


def test_a_trade_id_recorded_for_another_exchange_is_rejected(tmp_path, binance):
    TradeFactory(id="t1", order__exchange=ExchangeFactory(name="okx"))
    _, err = run(jsonl(tmp_path, [trade_record(1), trade_record(2)]), "--exchange", "binance")
    assert "line 1: trade t1 is already recorded for another exchange or symbol" in err
    assert Trade.objects.get(pk="t1").exchange.name == "okx"


def test_client_order_id_of_another_order_is_rejected(tmp_path, binance):
    OrderFactory(id="existing", client_order_id="c1", exchange=binance)
    _, err = run(jsonl(tmp_path, [order_record(1), order_record(2)]), "--exchange", "binance")
    assert "line 1: client order id c1 already belongs to order existing" in err
    assert Order.objects.filter(pk="o2").exists()


def test_open_order_with_fills_is_partially_filled_and_missing_client_id_defaults(tmp_path, binance):
    record = order_record(1, status="open", filled="0.004", clientOrderId=None)
    run(jsonl(tmp_path, [record]), "--exchange", "binance")
    order = Order.objects.get()
    assert order.status == OrderStatus.PARTIALLY_FILLED
    assert order.client_order_id == "o1"


def test_dry_run_writes_nothing(tmp_path, binance):
    out, _ = run(jsonl(tmp_path, [order_record(1), trade_record(1)]), "--exchange", "binance", "--dry-run")
    assert "dry run" in out and "inserted 1 trades and 1 orders" in out
    assert Trade.objects.count() == 0 and Order.objects.count() == 0


def test_small_batches_stream_the_same_result(tmp_path, binance):
    path = jsonl(tmp_path, [trade_record(n) for n in range(1, 26)])
    out, _ = run(path, "--exchange", "binance", "--batch-size", "4")
    assert Trade.objects.count() == 25 and "inserted 25 trades" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--exchange", "binance"], "does not exist"),
        (["trades.jsonl", "--exchange", "kraken"], "Unknown exchange 'kraken'"),
        (["trades.jsonl", "--exchange", "binance", "--batch-size", "0"], "at least 1"),
    ],
)
def test_bad_arguments_are_clear_errors_and_write_nothing(tmp_path, binance, args, message, monkeypatch):
    jsonl(tmp_path, [trade_record(1)])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert Trade.objects.count() == 0


def test_a_second_run_refuses_while_one_holds_the_lock(tmp_path, binance):
    path = jsonl(tmp_path, [trade_record(1)])
    with other_session_holding_lock("import_trades"), pytest.raises(CommandError, match="Another"):
        run(path, "--exchange", "binance")
    assert Trade.objects.count() == 0
