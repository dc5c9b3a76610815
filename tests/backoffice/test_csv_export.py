"""“Export selected as CSV”: streamed, a header and the selected rows, formulas defused."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from apps.backoffice.admin import DECISION_CSV_FIELDS
from apps.common.admin import stream_csv
from apps.execution.admin import ORDER_CSV_FIELDS, TRADE_CSV_FIELDS
from apps.memory.admin import EXPERIENCE_CSV_FIELDS
from tests.factories import DecisionFactory, ExperienceFactory, OrderFactory, TradeFactory

pytestmark = pytest.mark.django_db


def export(client, info: str, ids: list[str], **extra) -> StreamingHttpResponse:
    data = {"action": "export_as_csv", "_selected_action": ids, "index": "0", **extra}
    return client.post(reverse(f"admin:{info}_changelist"), data)


def read(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_orders_export_streams_the_selected_rows(root_client, world):
    other = OrderFactory(exchange=world.exchange, symbol="ETH/USDT", amount=Decimal("1.25000000"))
    OrderFactory(exchange=world.exchange)  # not selected
    response = export(root_client, "execution_order", [world.order.pk, other.pk])
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="orders.csv"'
    rows = read(response)
    assert rows[0] == ORDER_CSV_FIELDS
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_id) == {world.order.pk, other.pk}
    assert by_id[other.pk]["symbol"] == "ETH/USDT"
    assert by_id[other.pk]["amount"] == "1.25000000"  # Decimal, exactly as stored
    assert by_id[other.pk]["exchange__name"] == "binance"
    assert by_id[world.order.pk]["decision_id"] == world.decision.pk


def test_trades_decisions_and_experiences_export(root_client, world):
    trades = read(export(root_client, "execution_trade", [world.trade.pk]))
    assert trades[0] == TRADE_CSV_FIELDS and len(trades) == 2
    assert trades[1][:2] == [world.trade.pk, world.order.pk]

    decisions = read(export(root_client, "decisions_decision", [world.decision.pk]))
    assert decisions[0] == DECISION_CSV_FIELDS
    row = dict(zip(decisions[0], decisions[1], strict=True))
    assert row["thought_process"] == world.decision.thought_process
    assert row["tools_used"] == "get_ticker; get_indicators"  # a list of words as plain text

    experiences = read(export(root_client, "memory_experience", [world.experience.pk]))
    assert experiences[0] == EXPERIENCE_CSV_FIELDS
    row = dict(zip(experiences[0], experiences[1], strict=True))
    assert row["lessons_learned"] == "Wait for confirmation"
    assert row["situation_tags"] == "btc; oversold; reversal"  # plain text, not ["btc", ...]
    assert row["pnl"] == "125.50000000"


def test_select_all_exports_every_matching_row(root_client, world):
    for _ in range(3):
        TradeFactory(order=world.order)
    rows = read(export(root_client, "execution_trade", [world.trade.pk], select_across="1"))
    assert len(rows) == 1 + 5  # the world's two trades and the three new ones


def test_formula_looking_text_is_prefixed_with_a_quote(root_client, world):
    decision = DecisionFactory(
        thought_process="=1+1",
        decision="@SUM(A1:A9)",
        action_taken="+cmd|' /C calc'!A0",
        model_used="-2+3",
    )
    ExperienceFactory(id="exp_formula", situation='=HYPERLINK("http://x")', reflection="plain text")
    rows = read(export(root_client, "decisions_decision", [decision.pk]))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["thought_process"] == "'=1+1"
    assert row["decision"] == "'@SUM(A1:A9)"
    assert row["action_taken"] == "'+cmd|' /C calc'!A0"
    assert row["model_used"] == "'-2+3"
    assert row["tokens_used"] == "1234"  # numbers are not text: untouched

    rows = read(export(root_client, "memory_experience", ["exp_formula"]))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["situation"] == '\'=HYPERLINK("http://x")'
    assert row["reflection"] == "plain text"
    assert row["pnl"] == "125.50000000"


def test_auditors_export_too(client, auditor, world):
    client.force_login(auditor)
    rows = read(export(client, "execution_order", [world.order.pk]))
    assert [row[0] for row in rows[1:]] == [world.order.pk]


def test_stream_csv_is_lazy():
    # One line per row, produced as it is consumed: a large selection never sits in memory.
    consumed = []

    def rows():
        for n in range(3):
            consumed.append(n)
            yield [n, f"row {n}"]

    lines = stream_csv(rows(), header=["n", "text"])
    assert next(lines) == "n,text\r\n"
    assert consumed == []
    assert next(lines) == "0,row 0\r\n"
    assert consumed == [0]
