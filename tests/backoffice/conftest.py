"""Fixtures for the back-office: one row of every model, and staff users in each role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from apps.agents.services import agent_create, agent_writes_record
from apps.memory.models import MemoryOutbox, OutboxOperation, OutboxStatus
from apps.memory.services import long_term
from tests.factories import (
    DecisionFactory,
    DiscrepancyFactory,
    ExchangeFactory,
    ExperienceFactory,
    OrderFactory,
    PerformanceMetricsFactory,
    PortfolioSnapshotFactory,
    PositionFactory,
    StrategyFactory,
    SystemEventFactory,
    TradeFactory,
)

PASSWORD = "back-office-test-password"


@dataclass
class World:
    """One row of each model, linked the way the agent links them."""

    exchange: object
    decision: object
    order: object
    trade: object
    today_trade: object
    position: object
    snapshot: object
    experience: object
    strategy: object
    metrics: object
    event: object
    agent: object
    outbox: object
    reconciliation_run: object
    discrepancy: object
    review: object = None
    candle: object = None
    excursion: object = None


@pytest.fixture
def world(db) -> World:
    from apps.decisions.costs import model_price_add
    from apps.portfolio.services.flows import cash_flow_record

    exchange = ExchangeFactory(name="binance")
    decision = DecisionFactory(thought_process="Funding is negative and the 1h RSI is 27: oversold.")
    order = OrderFactory(exchange=exchange, decision_id=decision.pk, status="filled", filled=Decimal("0.01"))
    trade = TradeFactory(order=order)
    today_trade = TradeFactory(order=order, datetime=timezone.now() - timedelta(minutes=5))
    position = PositionFactory(exchange=exchange, symbol="ETH/USDT")
    snapshot = PortfolioSnapshotFactory(exchange=exchange)
    experience = ExperienceFactory(decision_ref=decision, related_orders=[order.pk], outcome="failure")
    strategy = StrategyFactory(name="mean-reversion")
    metrics = PerformanceMetricsFactory(strategy=strategy)
    event = SystemEventFactory()
    agent = agent_create(name="btc-swing-trader").agent
    agent_writes_record(agent=agent, resource="orders", action="created", object_ids=[order.pk])
    outbox = MemoryOutbox.objects.create(
        experience_id=experience.pk,
        operation=OutboxOperation.UPSERT,
        status=OutboxStatus.DONE,
        processed_at=timezone.now(),
    )
    discrepancy = DiscrepancyFactory(exchange=exchange)
    model_price_add(model="gpt-4o", input_per_million=Decimal("2.5"), output_per_million=Decimal("10"),
                    effective_from=timezone.now() - timedelta(days=400))  # fmt: skip
    cash_flow_record(
        exchange=exchange, kind="deposit", currency="USDT", amount=Decimal("1000"), source="admin"
    )
    from tests.journal.factories import CandleFactory, PositionExcursionFactory, ReviewFactory

    review = ReviewFactory(decision=decision)
    candle = CandleFactory(exchange=exchange, symbol="ETH/USDT")
    excursion = PositionExcursionFactory(position=position)
    return World(
        review=review,
        candle=candle,
        excursion=excursion,
        reconciliation_run=discrepancy.run,
        discrepancy=discrepancy,
        exchange=exchange,
        decision=decision,
        order=order,
        trade=trade,
        today_trade=today_trade,
        position=position,
        snapshot=snapshot,
        experience=experience,
        strategy=strategy,
        metrics=metrics,
        event=event,
        agent=agent,
        outbox=outbox,
    )


def _staff(username: str, group: str | None = None, *, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    if group:
        # The groups come from the backoffice migration, not from this fixture.
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def superuser(db) -> User:
    return _staff("root", superuser=True)


@pytest.fixture
def operator(db) -> User:
    return _staff("olivia", "operators")


@pytest.fixture
def auditor(db) -> User:
    return _staff("aaron", "auditors")


@pytest.fixture
def root_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def fresh_memory():
    """A new, empty in-memory Qdrant for the test (long-term memory is process-wide)."""
    long_term.reset_backend()
    yield
    long_term.reset_backend()
