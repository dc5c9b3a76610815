"""factory-boy factories of the journal's models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from apps.journal.models import Candle, PositionExcursion, Review, Verdict
from tests.factories import DecisionFactory, ExchangeFactory, PositionFactory


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    decision = factory.SubFactory(DecisionFactory)
    experience = None
    verdict = Verdict.GOOD
    reasoning_score = 4
    risk_score = 3
    timing_score = 4
    corrected_decision = ""
    notes = "Sound read of the funding flip; the stop was placed where the thesis fails."
    reviewer = "olivia"


class CandleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candle

    exchange = factory.SubFactory(ExchangeFactory)
    symbol = "BTC/USDT"
    timeframe = "1h"
    open_time = factory.Sequence(lambda n: datetime(2026, 1, 1, n % 24, tzinfo=UTC))
    open = Decimal("43000")
    high = Decimal("43250")
    low = Decimal("42810")
    close = Decimal("43120")
    volume = Decimal("812.4")


class PositionExcursionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PositionExcursion

    position = factory.SubFactory(PositionFactory)
    stop_loss_price = Decimal("98")
    risk_amount = Decimal("1")
    r_multiple = Decimal("2.5")
    mae = Decimal("1.2")
    mfe = Decimal("6")
    mae_r = Decimal("0.6")
    mfe_r = Decimal("3")
    timeframe = "1h"
    candles = 12
