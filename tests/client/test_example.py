"""examples/agent_loop.py runs its whole loop (recall, decide, a market order through the recording
wrapper, the fills, the experience) against the exchange emulator and a live TradeOffice."""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from apps.decisions.models import Decision
from apps.execution.models import Order, Trade
from apps.memory.models import Experience
from tests.reconciliation.emulator import EmulatorServer

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent_loop.py"


def load_example(monkeypatch):
    spec = importlib.util.spec_from_file_location("agent_loop", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "agent_loop", module)
    spec.loader.exec_module(module)
    return module


def test_the_example_agent_runs_its_whole_loop(live_server, agent, binance, tmp_path, monkeypatch, capsys):
    example = load_example(monkeypatch)
    monkeypatch.setenv("TRADEOFFICE_TOKEN", agent.token)
    with EmulatorServer() as emulator:
        account = emulator.add_account("binance")
        account.set_balance("USDT", "100000")
        account.set_ticker("BTC/USDT", "45000.1", bid="45000.0", ask="45000.2")
        args = ["--url", live_server.url, "--exchange-url", account.url, "--api-key", account.api_key]
        args += ["--secret", account.secret, "--spool", str(tmp_path / "spool.sqlite3")]
        assert example.main(args) == 0
        assert example.main(args) == 0  # a second round recalls the first one's experience

    assert "filled 0.01" in capsys.readouterr().out
    orders = Order.objects.order_by("timestamp")
    assert [o.status for o in orders] == ["filled", "filled"]
    assert all(o.filled == Decimal("0.01") and o.average == Decimal("45000.2") for o in orders)  # at the ask
    assert Trade.objects.count() == 2
    experiences = Experience.objects.order_by("created_at")
    assert len(experiences) == 2
    for order, experience in zip(orders, experiences, strict=True):
        assert experience.decision_ref_id == order.decision_id
        assert experience.related_orders == [order.id]
        assert experience.outcome == "success"
    second = Decision.objects.get(pk=orders[1].decision_id)
    assert second.input_context["memories"] == 1  # the first experience, recalled
    assert Decimal(second.input_context["last"]) == Decimal("45000.1")
