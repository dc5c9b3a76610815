"""factory-boy factories for every model, believable enough to read in a failing test."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory import fuzzy

from apps.common.clock import to_ms
from apps.decisions.models import Decision, DecisionLayer
from apps.exchanges import crypto
from apps.exchanges.models import Exchange
from apps.execution.models import Order, OrderStatus, OrderType, Position, Side, Trade
from apps.memory.models import Experience, Outcome
from apps.portfolio.models import PortfolioSnapshot
from apps.reconciliation.models import (
    Discrepancy,
    DiscrepancyKind,
    ReconciliationRun,
    RunStatus,
    RunTrigger,
)
from apps.strategies.models import PerformanceMetrics, Strategy
from apps.system_events.models import Severity, SystemEvent

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
EIGHT = Decimal("0.00000001")  # NUMERIC(20, 8)


def _moment(n: int) -> datetime:
    return BASE_TIME + timedelta(minutes=n)


class ExchangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exchange
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"exchange{n}")
    api_key_encrypted = factory.LazyFunction(lambda: crypto.encrypt("test-api-key-0000"))
    api_secret_encrypted = factory.LazyFunction(lambda: crypto.encrypt("test-api-secret-0000"))
    password_encrypted = None
    testnet = False
    is_active = True


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    id = factory.Sequence(lambda n: f"dec_{n:06d}")
    decision_layer = DecisionLayer.TACTICAL
    input_context = factory.LazyAttribute(lambda o: {"symbol": "BTC/USDT", "price": "45000.00", "rsi": 28})
    thought_process = "RSI is oversold on the 1h chart and funding is negative; a bounce is likely."
    tools_used = factory.LazyFunction(lambda: ["get_ticker", "get_indicators"])
    decision = "Buy 0.01 BTC at market."
    action_taken = "place_order"
    model_used = "gpt-4o"
    tokens_used = 1234
    latency_ms = 850
    datetime = factory.Sequence(_moment)
    timestamp = factory.LazyAttribute(lambda o: to_ms(o.datetime))


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    id = factory.Sequence(lambda n: f"ord_{n:08d}")
    client_order_id = factory.Sequence(lambda n: f"cli_{n:08d}")
    exchange = factory.SubFactory(ExchangeFactory)
    symbol = "BTC/USDT"
    side = Side.BUY
    type = OrderType.LIMIT
    status = OrderStatus.OPEN
    price = Decimal("45000.00000000")
    amount = Decimal("0.01000000")
    filled = Decimal("0")
    remaining = factory.LazyAttribute(lambda o: o.amount - o.filled)
    cost = Decimal("0")
    decision_id = None
    datetime = factory.Sequence(_moment)
    timestamp = factory.LazyAttribute(lambda o: to_ms(o.datetime))
    raw_data = factory.LazyFunction(dict)


class TradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trade

    id = factory.Sequence(lambda n: f"trd_{n:08d}")
    order = factory.SubFactory(OrderFactory)
    exchange = factory.SelfAttribute("order.exchange")
    symbol = factory.SelfAttribute("order.symbol")
    side = factory.SelfAttribute("order.side")
    price = Decimal("45000.00000000")
    amount = Decimal("0.01000000")
    cost = factory.LazyAttribute(lambda o: (o.price * o.amount).quantize(EIGHT))
    fee = Decimal("0.45000000")
    fee_currency = "USDT"
    datetime = factory.Sequence(_moment)
    timestamp = factory.LazyAttribute(lambda o: to_ms(o.datetime))
    raw_data = factory.LazyFunction(dict)


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    exchange = factory.SubFactory(ExchangeFactory)
    symbol = factory.Sequence(lambda n: f"COIN{n}/USDT")
    side = Side.BUY
    amount = Decimal("0.50000000")
    entry_price = Decimal("100.00000000")
    current_price = Decimal("110.00000000")
    unrealized_pnl = factory.LazyAttribute(
        lambda o: ((o.current_price - o.entry_price) * o.amount).quantize(EIGHT)
    )
    unrealized_pnl_percentage = factory.LazyAttribute(
        lambda o: ((o.current_price - o.entry_price) / o.entry_price * 100).quantize(Decimal("0.0001"))
    )
    value = factory.LazyAttribute(lambda o: (o.current_price * o.amount).quantize(EIGHT))
    is_open = True
    opened_at = factory.Sequence(_moment)
    closed_at = None


class PortfolioSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PortfolioSnapshot

    exchange = factory.SubFactory(ExchangeFactory)
    total_value = Decimal("10000.00000000")
    cash = Decimal("6000.00000000")
    positions_value = Decimal("4000.00000000")
    total_pnl = Decimal("0")
    daily_pnl = Decimal("0")
    total_return = Decimal("0")
    positions = factory.LazyFunction(list)
    snapshot_date = factory.Sequence(lambda n: date(2026, 1, 1) + timedelta(days=n))
    datetime = factory.LazyAttribute(
        lambda o: datetime.combine(o.snapshot_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23)
    )
    timestamp = factory.LazyAttribute(lambda o: to_ms(o.datetime))


class ExperienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Experience

    id = factory.Sequence(lambda n: f"exp_{n:06d}")
    situation = "BTC price at 45000, RSI oversold on the 1h, funding negative."
    situation_tags = factory.LazyFunction(lambda: ["btc", "oversold", "reversal"])
    decision = "Enter long position"
    decision_reasoning = "Oversold bounce setups have worked in this range."
    decision_ref = None
    outcome = fuzzy.FuzzyChoice(Outcome.values)
    pnl = Decimal("125.50000000")
    pnl_percentage = Decimal("2.5000")
    reflection = "Entry was early; waiting for the 4h close would have been better."
    lessons_learned = factory.LazyFunction(lambda: ["Wait for confirmation"])
    importance_score = Decimal("0.50")
    related_orders = factory.LazyFunction(list)
    symbol = "BTC/USDT"
    datetime = factory.Sequence(_moment)
    timestamp = factory.LazyAttribute(lambda o: to_ms(o.datetime))


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy

    name = factory.Sequence(lambda n: f"strategy{n}")
    version = "1.0.0"
    description = "Mean reversion on oversold RSI."
    config = factory.LazyFunction(lambda: {"rsi_period": 14, "rsi_buy": 30, "rsi_sell": 70})
    is_active = False
    total_trades = 0


class PerformanceMetricsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PerformanceMetrics

    strategy = factory.SubFactory(StrategyFactory)
    start_date = date(2026, 1, 1)
    end_date = date(2026, 3, 31)
    total_return = Decimal("4.2000")
    total_trades = 40
    winning_trades = 24
    losing_trades = 16
    win_rate = Decimal("60.00")


class SystemEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemEvent

    id = factory.Sequence(lambda n: f"evt_{n:08d}")
    event_type = "order_status_changed"
    severity = Severity.INFO
    data = factory.LazyFunction(dict)
    message = "Order ord_00000001 moved from open to filled."
    datetime = factory.Sequence(_moment)
    timestamp = factory.LazyAttribute(lambda o: to_ms(o.datetime))


class ReconciliationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReconciliationRun

    exchange = factory.SubFactory(ExchangeFactory)
    status = RunStatus.OK
    trigger = RunTrigger.COMMAND
    since = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    finished_at = factory.LazyFunction(timezone.now)
    counts = factory.LazyFunction(lambda: {"orders_fetched": 1, "fills_fetched": 2, "new": 1})


class DiscrepancyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discrepancy

    exchange = factory.SubFactory(ExchangeFactory)
    run = factory.SubFactory(ReconciliationRunFactory, exchange=factory.SelfAttribute("..exchange"))
    last_seen_run = factory.SelfAttribute("run")
    kind = DiscrepancyKind.MISSING_TRADE
    subject = factory.Sequence(lambda n: f"9{n:08d}")
    symbol = "BTC/USDT"
    exchange_version = factory.LazyAttribute(
        lambda o: {"id": o.subject, "symbol": "BTC/USDT", "side": "buy", "price": 45000.1, "amount": 0.01}
    )
