"""A believable small demo world for `make run`: one exchange, two symbols, 90 days of trading.

Deterministic (a seeded random generator, fixed ids) and anchored to the day the demo exchange
was first created, so a second run inserts nothing and changes nothing, whatever the date.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction

from apps.common.clock import to_ms
from apps.decisions.costs import model_price_add
from apps.decisions.models import Decision, DecisionLayer, ModelPrice
from apps.exchanges.models import Exchange
from apps.exchanges.services import exchange_register
from apps.execution.models import Order, OrderStatus, OrderType, Position, Side, Trade
from apps.memory.models import Experience, Outcome
from apps.memory.services.experiences import experience_bulk_create
from apps.portfolio.models import PortfolioSnapshot
from apps.strategies.models import Strategy
from apps.system_events.models import Severity, SystemEvent

DEMO_EXCHANGE = "binance"
DEMO_DAYS = 90
STARTING_CASH = Decimal("100000")
SYMBOLS = {"BTC/USDT": Decimal("60000"), "ETH/USDT": Decimal("3000")}
STRATEGY_NAME = "rsi_mean_reversion"

EIGHT = Decimal("0.00000001")
FOUR = Decimal("0.0001")
TWO = Decimal("0.01")


def q8(value: Decimal) -> Decimal:
    return value.quantize(EIGHT, rounding=ROUND_HALF_EVEN)


def q4(value: Decimal) -> Decimal:
    return value.quantize(FOUR, rounding=ROUND_HALF_EVEN)


@dataclass
class DemoWorld:
    """The rows of the demo world, built in memory before anything is written."""

    strategies: list[Strategy] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    snapshots: list[PortfolioSnapshot] = field(default_factory=list)
    experiences: list[Experience] = field(default_factory=list)
    events: list[SystemEvent] = field(default_factory=list)


@dataclass(frozen=True)
class SeedReport:
    created: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.created.values())

    def __str__(self) -> str:
        if not self.total:
            return "Demo data already present; nothing changed."
        parts = ", ".join(f"{count} {name}" for name, count in self.created.items() if count)
        return f"Demo data created: {parts}."


def demo_is_needed() -> bool:
    """True when the database holds no exchange at all (a fresh install)."""
    return not Exchange.objects.exists()


@transaction.atomic
def demo_seed() -> SeedReport:
    """Create whatever part of the demo world is missing; existing rows are left as they are."""
    exchange = Exchange.objects.filter(name=DEMO_EXCHANGE).first()
    created = {"exchanges": 0}
    if exchange is None:
        created["exchanges"] = 1
        exchange = exchange_register(
            name=DEMO_EXCHANGE,
            api_key="demo-binance-testnet-api-key-7f3a9c21",
            api_secret="demo-binance-testnet-api-secret-5e8d0b64",  # noqa: S106 - demo testnet keys
            testnet=True,
        )
        exchange.refresh_from_db()
    world = demo_build(exchange=exchange, now=exchange.created_at)
    for label, model, rows in (
        ("strategies", Strategy, world.strategies),
        ("decisions", Decision, world.decisions),
        ("orders", Order, world.orders),
        ("trades", Trade, world.trades),
        ("positions", Position, world.positions),
        ("portfolio snapshots", PortfolioSnapshot, world.snapshots),
        ("experiences", Experience, world.experiences),
        ("system events", SystemEvent, world.events),
    ):
        created[label] = _insert_missing(model, rows)
    created["model prices"] = _model_prices(since=exchange.created_at - timedelta(days=DEMO_DAYS + 1))
    return SeedReport(created=created)


# The demo agent's models at list prices per million tokens (input, output), so its decisions have a cost.
DEMO_MODEL_PRICES = {
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
}


def _model_prices(*, since: datetime) -> int:
    added = 0
    for model, (input_price, output_price) in DEMO_MODEL_PRICES.items():
        if not ModelPrice.objects.filter(model=model).exists():
            model_price_add(model=model, input_per_million=input_price, output_per_million=output_price,
                            effective_from=since, note="list price (demo)")  # fmt: skip
            added += 1
    return added


def _insert_missing(model, rows) -> int:
    """Insert the rows whose natural key is not present yet; return how many were inserted."""
    if not rows:
        return 0
    if model is Experience:
        # Through the memory service, so long-term memory follows (outbox, pushed after commit).
        present = set(Experience.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))
        fresh = [_experience_fields(r) for r in rows if r.pk not in present]
        if fresh:
            experience_bulk_create(experiences=fresh)
        return len(fresh)
    if model is Strategy:
        present = set(Strategy.objects.values_list("name", "version"))
        fresh = [r for r in rows if (r.name, r.version) not in present]
    elif model is Position:
        present = set(Position.objects.values_list("exchange_id", "symbol", "opened_at"))
        fresh = [r for r in rows if (r.exchange_id, r.symbol, r.opened_at) not in present]
    elif model is PortfolioSnapshot:
        present = set(PortfolioSnapshot.objects.values_list("exchange_id", "snapshot_date"))
        fresh = [r for r in rows if (r.exchange_id, r.snapshot_date) not in present]
    else:
        present = set(model.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))
        fresh = [r for r in rows if r.pk not in present]
    model.objects.bulk_create(fresh, batch_size=500)
    return len(fresh)


def demo_build(*, exchange: Exchange, now: datetime) -> DemoWorld:
    """Build the demo world for the DEMO_DAYS days ending at `now` (no database writes).

    Nothing is dated after `now`: today holds only what happened before it.
    """
    rng = random.Random(20240101)  # noqa: S311 - demo data, not security
    world = DemoWorld()
    end = now.date()
    start = end - timedelta(days=DEMO_DAYS - 1)
    days = [start + timedelta(days=i) for i in range(DEMO_DAYS)]

    world.strategies = [
        Strategy(
            name=STRATEGY_NAME,
            version="1.0.0",
            description="Buy oversold RSI dips on the 1h chart, sell into overbought.",
            config={
                "timeframe": "1h",
                "rsi_period": 14,
                "rsi_buy": 30,
                "rsi_sell": 70,
                "risk_per_trade": "0.01",
            },
            is_active=False,
            activated_at=_at(start, 0),
            deactivated_at=_at(start + timedelta(days=45), 0),
            reason_for_update=None,
        ),
        Strategy(
            name=STRATEGY_NAME,
            version="1.1.0",
            description="v1.0.0 with a 4h trend filter: no longs below the 4h 200 EMA.",
            config={
                "timeframe": "1h",
                "rsi_period": 14,
                "rsi_buy": 28,
                "rsi_sell": 72,
                "trend_filter": {"timeframe": "4h", "ema": 200},
                "risk_per_trade": "0.01",
            },
            is_active=True,
            activated_at=_at(start + timedelta(days=45), 0),
            reason_for_update="Too many failed longs in downtrends; added a 4h trend filter.",
        ),
    ]

    prices = _price_paths(rng, days)
    order_seq = 0
    trade_seq = 0
    realised = Decimal("0")
    realised_by_day: dict[date, Decimal] = {}

    for day_index, day in enumerate(days):
        if day_index % 7 == 0:
            world.decisions.append(_strategic_decision(day, day_index))
        for symbol in SYMBOLS:
            if rng.random() < 0.35:
                continue
            price = prices[symbol][day_index]
            # Mean reversion trades the extremes only: oversold (<= 32) longs, overbought (>= 68) shorts.
            low, high = rng.randint(18, 32), rng.randint(68, 82)
            rsi = low if rng.random() < 0.5 else high
            decision = _tactical_decision(day, day_index, symbol, price, rsi, rng)
            world.decisions.append(decision)
            amount = q8((Decimal("2500") / price) * Decimal(rng.choice(["0.5", "1", "1.5", "2"])))
            status = rng.choices(
                [
                    OrderStatus.FILLED,
                    OrderStatus.PARTIALLY_FILLED,
                    OrderStatus.CANCELED,
                    OrderStatus.REJECTED,
                ],
                weights=[70, 12, 12, 6],
            )[0]
            moment = _at(day, rng.randint(1, 22), rng.randint(0, 59))
            entry_side = Side.BUY if rsi < 50 else Side.SELL
            order_seq += 1
            entry = _order(
                exchange, order_seq, symbol, entry_side, amount, price, status, moment, decision.id, rng
            )
            world.orders.append(entry)
            fills = _fills(entry, rng)
            for fill_price, fill_amount, fill_moment in fills:
                trade_seq += 1
                world.trades.append(_trade(exchange, trade_seq, entry, fill_price, fill_amount, fill_moment))
            filled = sum((f[1] for f in fills), Decimal("0"))
            if not filled:
                continue
            # Close the round trip a few hours later at the next price, as a market order.
            exit_price = q8(price * (Decimal("1") + Decimal(str(rng.gauss(0.002, 0.02))).quantize(FOUR)))
            # The order's 2% stop and 4% take-profit bound the exit: a loss never runs past the stop.
            exit_price, stopped = _bounded_exit(entry, exit_price)
            exit_moment = moment + timedelta(hours=rng.randint(2, 20))
            order_seq += 1
            exit_side = Side.SELL if entry_side == Side.BUY else Side.BUY
            exit_order = _order(
                exchange,
                order_seq,
                symbol,
                exit_side,
                filled,
                exit_price,
                OrderStatus.FILLED,
                exit_moment,
                decision.id,
                rng,
                order_type=OrderType.MARKET,
            )
            world.orders.append(exit_order)
            trade_seq += 1
            world.trades.append(_trade(exchange, trade_seq, exit_order, exit_price, filled, exit_moment))
            direction = Decimal("1") if entry_side == Side.BUY else Decimal("-1")
            avg_entry = entry.average or price
            pnl = q8((exit_price - avg_entry) * filled * direction)
            realised += pnl
            realised_by_day[exit_moment.date()] = realised_by_day.get(exit_moment.date(), Decimal("0")) + pnl
            if rng.random() < 0.45 or day_index >= DEMO_DAYS - 7:
                world.experiences.append(
                    _experience(
                        len(world.experiences) + 1, decision, entry, exit_order, pnl, avg_entry, filled, rsi,
                        stopped=stopped,
                    )
                )

    world.positions = _positions(exchange, days, prices)
    world.snapshots = _snapshots(exchange, days, realised_by_day, world.positions, prices)
    world.events = _events(days, world.orders, rng)
    return _until(world, now)


def _until(world: DemoWorld, now: datetime) -> DemoWorld:
    """Drop what would lie in the future, and whatever depends on a dropped row."""
    decisions = [d for d in world.decisions if d.datetime <= now]
    decision_ids = {d.id for d in decisions}
    orders = [o for o in world.orders if o.datetime <= now and o.decision_id in decision_ids]
    order_ids = {o.id for o in orders}
    return DemoWorld(
        strategies=world.strategies,
        decisions=decisions,
        orders=orders,
        trades=[t for t in world.trades if t.datetime <= now and t.order_id in order_ids],
        positions=world.positions,
        snapshots=[s for s in world.snapshots if s.datetime <= now],
        experiences=[e for e in world.experiences if set(e.related_orders) <= order_ids],
        events=[
            e
            for e in world.events
            if e.datetime <= now and (not e.related_order_id or e.related_order_id in order_ids)
        ],
    )


# --- builders ----------------------------------------------------------------------------------


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _price_paths(rng: random.Random, days: list[date]) -> dict[str, list[Decimal]]:
    paths = {}
    for symbol, price in SYMBOLS.items():
        path = []
        for _ in days:
            price = q8(price * (Decimal("1") + Decimal(str(rng.gauss(0.0005, 0.025))).quantize(FOUR)))
            path.append(price)
        paths[symbol] = path
    return paths


def _strategic_decision(day: date, index: int) -> Decision:
    moment = _at(day, 0, 5)
    regime = ["range-bound", "trending up", "choppy", "trending down"][(index // 7) % 4]
    return Decision(
        id=f"demo_dec_s{index:03d}",
        decision_layer=DecisionLayer.STRATEGIC,
        input_context={"week_start": day.isoformat(), "regime": regime, "symbols": list(SYMBOLS)},
        thought_process=(
            f"The market looks {regime}. Mean reversion works best in ranges; in trends the RSI "
            "stays pinned, so position sizes should shrink and the trend filter matters more."
        ),
        tools_used=["get_ohlcv", "get_funding_rates", "recall_experiences"],
        decision=f"Keep {STRATEGY_NAME} running; risk per trade 1%; regime: {regime}.",
        action_taken="update_risk_parameters",
        model_used="gpt-4o",
        tokens_used=2400 + index * 3,
        latency_ms=2100 + index * 5,
        timestamp=to_ms(moment),
        datetime=moment,
    )


def _tactical_decision(
    day: date, index: int, symbol: str, price: Decimal, rsi: int, rng: random.Random
) -> Decision:
    moment = _at(day, 0, 30)
    base = symbol.split("/")[0]
    side = "buy" if rsi < 50 else "sell"
    return Decision(
        id=f"demo_dec_t{index:03d}_{base.lower()}",
        decision_layer=DecisionLayer.TACTICAL,
        input_context={
            "symbol": symbol,
            "price": str(price),
            "rsi_1h": rsi,
            "funding_rate": str(Decimal(rng.randint(-30, 30)) / Decimal("100000")),
            "orderbook_imbalance": str(Decimal(rng.randint(-40, 40)) / Decimal("100")),
        },
        thought_process=(
            f"{base} at {price.quantize(TWO)} with the 1h RSI at {rsi}. "
            + (
                "Oversold; similar setups recalled from memory mostly bounced within a day."
                if rsi < 50
                else "Overbought; fading the move has worked when funding is positive."
            )
        ),
        tools_used=["get_ticker", "get_indicators", "recall_experiences"],
        decision=f"{side.capitalize()} {base} with a limit at the touch; stop 2% away.",
        action_taken="place_order",
        model_used="gpt-4o-mini",
        tokens_used=rng.randint(600, 1800),
        latency_ms=rng.randint(350, 1500),
        timestamp=to_ms(moment),
        datetime=moment,
    )


def _order(
    exchange: Exchange,
    seq: int,
    symbol: str,
    side: str,
    amount: Decimal,
    price: Decimal,
    status: str,
    moment: datetime,
    decision_id: str,
    rng: random.Random,
    *,
    order_type: str = OrderType.LIMIT,
) -> Order:
    if status == OrderStatus.FILLED:
        filled = amount
    elif status == OrderStatus.PARTIALLY_FILLED:
        filled = q8(amount * Decimal(rng.choice(["0.25", "0.5", "0.75"])))
    else:
        filled = Decimal("0")
    cost = q8(filled * price)
    stop = q8(price * (Decimal("0.98") if side == Side.BUY else Decimal("1.02")))
    take = q8(price * (Decimal("1.04") if side == Side.BUY else Decimal("0.96")))
    return Order(
        id=f"demo_ord_{seq:05d}",
        client_order_id=f"demo_cli_{seq:05d}",
        exchange=exchange,
        symbol=symbol,
        side=side,
        type=order_type,
        status=status,
        price=price,
        amount=amount,
        filled=filled,
        remaining=amount - filled,
        cost=cost,
        average=price if filled else None,
        fee=q8(cost * Decimal("0.001")) if filled else None,
        fee_currency="USDT" if filled else None,
        stop_price=None,
        take_profit_price=take if order_type == OrderType.LIMIT else None,
        stop_loss_price=stop if order_type == OrderType.LIMIT else None,
        decision_id=decision_id,
        timestamp=to_ms(moment),
        datetime=moment,
        raw_data={"orderId": f"{seq}", "status": status, "rejectReason": "INSUFFICIENT_MARGIN"}
        if status == OrderStatus.REJECTED
        else {"orderId": f"{seq}", "status": status},
    )


def _fills(order: Order, rng: random.Random) -> list[tuple[Decimal, Decimal, datetime]]:
    if not order.filled:
        return []
    if order.filled == order.amount and rng.random() < 0.4:
        first = q8(order.filled * Decimal("0.6"))
        return [
            (order.price, first, order.datetime + timedelta(seconds=3)),
            (order.price, order.filled - first, order.datetime + timedelta(seconds=40)),
        ]
    return [(order.price, order.filled, order.datetime + timedelta(seconds=2))]


def _trade(
    exchange: Exchange, seq: int, order: Order, price: Decimal, amount: Decimal, moment: datetime
) -> Trade:
    cost = q8(price * amount)
    return Trade(
        id=f"demo_trd_{seq:05d}",
        order=order,
        exchange=exchange,
        symbol=order.symbol,
        side=order.side,
        price=price,
        amount=amount,
        cost=cost,
        fee=q8(cost * Decimal("0.001")),
        fee_currency="USDT",
        timestamp=to_ms(moment),
        datetime=moment,
        raw_data={"tradeId": f"{seq}", "orderId": order.id},
    )


LESSONS = {
    (Outcome.SUCCESS, Side.BUY): [
        "Oversold RSI with negative funding is a reliable long setup in a range.",
        "Scaling out in two steps kept most of the bounce.",
        "Waiting for the 1h candle close avoided a false signal.",
    ],
    (Outcome.SUCCESS, Side.SELL): [
        "Overbought RSI with positive funding is a reliable short setup in a range.",
        "Covering in two steps kept most of the pullback.",
        "Waiting for the 1h candle close avoided a false signal.",
    ],
    (Outcome.FAILURE, Side.BUY): [
        "The 4h trend overrides the 1h RSI: no longs below the 200 EMA.",
        "Do not buy a breakdown on rising volume.",
        "Size down when the order book is thin.",
    ],
    (Outcome.FAILURE, Side.SELL): [
        "The 4h trend overrides the 1h RSI: no shorts above the 200 EMA.",
        "Do not fade a breakout on rising volume.",
        "Size down when the order book is thin.",
    ],
}
STOP = Decimal("0.02")
TAKE_PROFIT = Decimal("0.04")


def _result_tag(outcome: str, side: str) -> str:
    if outcome == Outcome.SUCCESS:
        return "reversal"
    return "breakdown" if side == Side.BUY else "breakout"


def _bounded_exit(entry: Order, exit_price: Decimal) -> tuple[Decimal, bool]:
    """The exit price within the entry order's stop and take-profit; whether the stop was hit."""
    if entry.stop_loss_price is None:
        return exit_price, False
    if entry.side == Side.BUY:
        if exit_price <= entry.stop_loss_price:
            return entry.stop_loss_price, True
        return min(exit_price, entry.take_profit_price), False
    if exit_price >= entry.stop_loss_price:
        return entry.stop_loss_price, True
    return max(exit_price, entry.take_profit_price), False


def _experience(
    n: int,
    decision: Decision,
    entry: Order,
    exit_order: Order,
    pnl: Decimal,
    avg_entry: Decimal,
    filled: Decimal,
    rsi: int,
    *,
    stopped: bool = False,
) -> Experience:
    outcome = Outcome.SUCCESS if pnl > 0 else Outcome.FAILURE
    base = entry.symbol.split("/")[0]
    notional = avg_entry * filled
    pnl_percentage = q4(pnl / notional * 100) if notional else None
    setup = "oversold" if entry.side == Side.BUY else "overbought"
    lessons = LESSONS[(outcome, entry.side)]
    return Experience(
        id=f"demo_exp_{n:04d}",
        situation=(
            f"{base} at {avg_entry.quantize(TWO)}, 1h RSI {rsi} ({setup}); "
            f"{'long' if entry.side == Side.BUY else 'short'} entry by limit order."
        ),
        situation_tags=[base.lower(), setup, _result_tag(outcome, entry.side)],
        decision=decision.decision,
        decision_reasoning=decision.thought_process,
        decision_ref=decision,
        outcome=outcome,
        pnl=pnl,
        pnl_percentage=pnl_percentage,
        reflection=(
            "The setup played out as expected; the exit was on time."
            if outcome == Outcome.SUCCESS
            else "The move kept going against the position; the signal was early and the 2% stop was hit."
            if stopped
            else "Closed at a loss before the stop: the reversal never came."
        ),
        lessons_learned=[lessons[n % len(lessons)]],
        importance_score=min(Decimal("1.00"), (Decimal("0.40") + abs(pnl) / Decimal("500")).quantize(TWO)),
        related_orders=[entry.id, exit_order.id],
        symbol=entry.symbol,
        timestamp=exit_order.timestamp,
        datetime=exit_order.datetime,
    )


def _experience_fields(experience: Experience) -> dict:
    return {
        "id": experience.id,
        "situation": experience.situation,
        "situation_tags": experience.situation_tags,
        "decision": experience.decision,
        "decision_reasoning": experience.decision_reasoning,
        "decision_id": experience.decision_ref_id,
        "outcome": experience.outcome,
        "pnl": experience.pnl,
        "pnl_percentage": experience.pnl_percentage,
        "reflection": experience.reflection,
        "lessons_learned": experience.lessons_learned,
        "importance_score": experience.importance_score,
        "related_orders": experience.related_orders,
        "symbol": experience.symbol,
        "timestamp": experience.timestamp,
    }


def _positions(exchange: Exchange, days: list[date], prices: dict[str, list[Decimal]]) -> list[Position]:
    """Open positions in both symbols, and BTC/USDT closed twice before (several closed rows per symbol)."""
    rows = []
    for offset, hold in ((60, 9), (30, 12)):
        opened = _at(days[offset], 9)
        entry = prices["BTC/USDT"][offset]
        exit_price = prices["BTC/USDT"][offset + hold]
        amount = Decimal("0.05000000")
        rows.append(
            Position(
                exchange=exchange,
                symbol="BTC/USDT",
                side=Side.BUY,
                amount=amount,
                entry_price=entry,
                current_price=exit_price,
                unrealized_pnl=Decimal("0"),
                unrealized_pnl_percentage=Decimal("0"),
                value=q8(exit_price * amount),
                is_open=False,
                opened_at=opened,
                closed_at=_at(days[offset + hold], 15),
            )
        )
    for symbol, amount, offset in (
        ("BTC/USDT", Decimal("0.08000000"), 6),
        ("ETH/USDT", Decimal("1.50000000"), 4),
    ):
        entry = prices[symbol][-offset]
        current = prices[symbol][-1]
        pnl = q8((current - entry) * amount)
        rows.append(
            Position(
                exchange=exchange,
                symbol=symbol,
                side=Side.BUY,
                amount=amount,
                entry_price=entry,
                current_price=current,
                unrealized_pnl=pnl,
                unrealized_pnl_percentage=q4((current - entry) / entry * 100),
                value=q8(current * amount),
                stop_loss=q8(entry * Decimal("0.97")),
                take_profit=q8(entry * Decimal("1.06")),
                is_open=True,
                opened_at=_at(days[-offset], 10),
            )
        )
    return rows


def _snapshots(
    exchange: Exchange,
    days: list[date],
    realised_by_day: dict[date, Decimal],
    positions: list[Position],
    prices: dict[str, list[Decimal]],
) -> list[PortfolioSnapshot]:
    rows = []
    realised = Decimal("0")
    previous_total = STARTING_CASH
    for index, day in enumerate(days):
        realised += realised_by_day.get(day, Decimal("0"))
        held = [p for p in positions if p.is_open and p.opened_at.date() <= day]
        positions_value = sum((q8(p.amount * prices[p.symbol][index]) for p in held), Decimal("0"))
        cost_basis = sum((q8(p.amount * p.entry_price) for p in held), Decimal("0"))
        cash = STARTING_CASH + realised - cost_basis
        total = q8(cash + positions_value)
        moment = _at(day, 23, 59)
        rows.append(
            PortfolioSnapshot(
                exchange=exchange,
                total_value=total,
                cash=q8(cash),
                positions_value=q8(positions_value),
                total_pnl=q8(total - STARTING_CASH),
                daily_pnl=q8(total - previous_total),
                total_return=q4((total - STARTING_CASH) / STARTING_CASH * 100),
                positions=[
                    {
                        "symbol": p.symbol,
                        "side": p.side,
                        "amount": str(p.amount),
                        "entry_price": str(p.entry_price),
                        "current_price": str(prices[p.symbol][index]),
                    }
                    for p in held
                ],
                reporting_currency="USDT",
                rates={"BTC": {"rate": str(prices["BTC/USDT"][index]), "source": "the demo's BTC price"}},
                snapshot_date=day,
                timestamp=to_ms(moment),
                datetime=moment,
            )
        )
        previous_total = total
    return rows


def _events(days: list[date], orders: list[Order], rng: random.Random) -> list[SystemEvent]:
    rows = []
    for n, order in enumerate(o for o in orders if o.status in (OrderStatus.REJECTED, OrderStatus.CANCELED)):
        rejected = order.status == OrderStatus.REJECTED
        rows.append(
            SystemEvent(
                id=f"demo_evt_o{n:04d}",
                event_type="order_rejected" if rejected else "order_canceled",
                severity=Severity.WARNING if rejected else Severity.INFO,
                data={"order_id": order.id, "status": order.status},
                related_order_id=order.id,
                related_symbol=order.symbol,
                message=f"Order {order.id} "
                + ("was rejected: insufficient margin." if rejected else "was canceled."),
                timestamp=order.timestamp + 1000,
                datetime=order.datetime + timedelta(seconds=1),
            )
        )
    for n, day in enumerate(days[::15]):
        moment = _at(day, rng.randint(0, 23), rng.randint(0, 59))
        rows.append(
            SystemEvent(
                id=f"demo_evt_r{n:04d}",
                event_type="exchange_rate_limited",
                severity=Severity.ERROR,
                data={"endpoint": "fetch_order_book", "retry_after_s": 30},
                message="Binance answered 429 on fetch_order_book; backing off for 30 s.",
                timestamp=to_ms(moment),
                datetime=moment,
            )
        )
    moment = _at(days[-1], 8, 0)
    rows.append(
        SystemEvent(
            id="demo_evt_start",
            event_type="agent_started",
            severity=Severity.INFO,
            data={"version": "1.1.0", "strategy": STRATEGY_NAME},
            message="Trading agent started with rsi_mean_reversion v1.1.0.",
            timestamp=to_ms(moment),
            datetime=moment,
        )
    )
    return rows
