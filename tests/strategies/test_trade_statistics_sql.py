"""The trade statistics computed in PostgreSQL equal metrics.trade_statistics on the same pnls, to the digit:
runs broken by scratches and by the other sign, ties in time taken in id order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from apps.memory.models import Experience
from apps.strategies.services import metrics
from apps.strategies.services.performance import _trade_statistics
from tests.factories import ExperienceFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_statement_equals_the_fold(seed):
    rng = random.Random(seed)
    for _ in range(300):
        pnl = rng.choice(
            [D(0), D(str(round(rng.uniform(-50, 50), 8)))] + [D(str(round(rng.uniform(0, 9), 2)))] * 2
        )
        moment = START + timedelta(minutes=rng.randint(0, 200))  # many ties in time
        ExperienceFactory(pnl=pnl, datetime=moment)
    ExperienceFactory(pnl=None, datetime=START)  # no pnl: not a closed trade
    closed = Experience.objects.filter(pnl__isnull=False)
    expected = metrics.trade_statistics(list(closed.order_by("datetime", "id").values_list("pnl", flat=True)))
    assert _trade_statistics(closed) == expected


def test_hand_worked_runs_and_an_empty_set():
    for i, pnl in enumerate(["5", "3", "0", "2", "-1", "-4", "-2", "6", "0", "0", "-1"]):
        ExperienceFactory(pnl=D(pnl), datetime=START + timedelta(minutes=i))
    stats = _trade_statistics(Experience.objects.all())
    assert (stats.max_consecutive_wins, stats.max_consecutive_losses) == (2, 3)
    assert (stats.total_trades, stats.winning_trades, stats.losing_trades, stats.scratch_trades) == (
        11,
        4,
        4,
        3,
    )
    assert stats.profit_factor == D(16) / D(8)
    assert _trade_statistics(Experience.objects.none()) == metrics.trade_statistics([])
