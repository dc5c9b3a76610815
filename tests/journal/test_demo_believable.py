"""The demo world reads as a trader would expect: overbought means a high RSI, a 2% stop loses about 2%,
a lesson about longs is attached to a long."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.demo.services import demo_build
from tests.factories import ExchangeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return demo_build(exchange=ExchangeFactory(name="binance"), now=datetime(2026, 3, 31, 12, tzinfo=UTC))


def test_the_rsi_matches_the_setup_and_the_side(world):
    tactical = [d for d in world.decisions if d.decision_layer == "tactical"]
    assert tactical
    for decision in tactical:
        rsi = decision.input_context["rsi_1h"]
        if "Overbought" in decision.thought_process:
            assert rsi >= 68 and decision.decision.startswith("Sell")
        else:
            assert "Oversold" in decision.thought_process and rsi <= 32
            assert decision.decision.startswith("Buy")
    for experience in world.experiences:
        rsi = int(experience.situation.split("RSI ")[1].split(" ")[0])
        assert ("overbought" in experience.situation) == (rsi >= 68)


def test_no_loss_runs_past_the_two_percent_stop(world):
    losses = [e for e in world.experiences if e.pnl < 0]
    assert losses
    assert min(e.pnl_percentage for e in losses) >= Decimal("-2.0001")
    stopped = [e for e in losses if "stop was hit" in e.reflection]
    assert stopped and all(e.pnl_percentage <= Decimal("-1.99") for e in stopped)


def test_lessons_fit_the_side_of_the_trade(world):
    for experience in world.experiences:
        lesson = " ".join(experience.lessons_learned)
        if "no longs" in lesson:
            assert "long entry" in experience.situation
        if "no shorts" in lesson:
            assert "short entry" in experience.situation
