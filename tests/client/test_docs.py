"""docs/api.md's loop with the Python client, run as written against a live server: the block must run
to its end, and what it recorded must be there."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from apps.decisions.models import Decision
from apps.execution.models import Order, Trade
from apps.memory.models import Experience
from tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SECTION = "## The same loop with the Python client"


def client_loop() -> str:
    text = DOC.read_text()
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start + 3)]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


def test_the_client_loop_of_the_api_docs_runs_as_written(live_server, agent, binance, monkeypatch, capsys):
    StrategyFactory(name="rsi_mean_reversion", is_active=True)
    monkeypatch.setenv("TOKEN", agent.token)
    monkeypatch.setenv("BASE", live_server.url)
    monkeypatch.setenv("RUN", "1767225")

    exec(compile(client_loop(), str(DOC), "exec"), {"__name__": "docs_loop"})  # noqa: S102 - our own docs

    assert "final state" in capsys.readouterr().out
    order = Order.objects.get(pk="176722571")
    assert (order.status, order.decision_id, order.filled) == ("filled", "dec-py-1767225", Decimal("0.012"))
    assert Trade.objects.filter(order_id="176722571").count() == 1
    assert Decision.objects.filter(pk="dec-py-1767225").count() == 1
    experience = Experience.objects.get(pk="exp-py-1767225")
    assert experience.pnl == Decimal("22.79") and experience.reflection.startswith("Entry was early")
