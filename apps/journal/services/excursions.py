"""R-multiples and excursions of closed positions, from the planned stop and the price path.

- The entry order: the position's exchange and symbol, the position's side, filled, placed within the day
  before the position opened (up to a minute after, the fill's own delay): the latest such order.
- 1 R = |entry price - the entry order's stop_loss_price| x amount; R-multiple = realized PnL / 1 R.
- MAE / MFE: the worst and the best price against the entry while the position was open, per unit (>= 0),
  from the exchange's OHLCV bars over its life (ccxt's fetch_ohlcv through apps/exchanges/client.py, kept
  in ohlcv_candles so a recomputation reads no exchange). The bars' resolution is the coarsest that covers
  the life in at most MAX_BARS bars, so the first and last bars may reach a little outside it.

A figure that cannot be computed is NULL with the reason in `note`; nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from apps.common.clock import to_ms
from apps.exchanges.client import ExchangeCallError, exchange_call, exchange_client
from apps.exchanges.models import Exchange
from apps.execution.models import Order, Position

from ..models import Candle, PositionExcursion

MAX_BARS = 1000
TIMEFRAMES = [("1m", 60), ("5m", 300), ("15m", 900), ("1h", 3600), ("4h", 14_400), ("1d", 86_400)]
RATIO = Decimal("0.0001")
EIGHT = Decimal("0.00000001")


def timeframe_for(opened_at: datetime, closed_at: datetime) -> tuple[str, int]:
    """The finest timeframe that covers the life in at most MAX_BARS bars."""
    seconds = max(1, (closed_at - opened_at).total_seconds())
    for name, step in TIMEFRAMES:
        if seconds / step <= MAX_BARS - 2:
            return name, step
    return TIMEFRAMES[-1]


def entry_order(position: Position) -> Order | None:
    return (
        Order.objects.filter(
            exchange_id=position.exchange_id,
            symbol=position.symbol,
            side=position.side,
            filled__gt=0,
            datetime__gte=position.opened_at - timedelta(days=1),
            datetime__lte=position.opened_at + timedelta(minutes=1),
        )
        .order_by("-datetime", "-pk")
        .first()
    )


def candles_fetch(
    *, exchange: Exchange, symbol: str, timeframe: str, step: int, start: datetime, end: datetime, client=None
) -> int:
    """Fetch the bars from `start` to `end` through the exchange client and keep them; how many were new."""
    have = Candle.objects.filter(
        exchange=exchange, symbol=symbol, timeframe=timeframe, open_time__gte=_floor(start, step),
        open_time__lte=end,
    ).aggregate(first=Min("open_time"), last=Max("open_time"))  # fmt: skip
    if have["first"] is not None and have["first"] <= start and have["last"] + timedelta(seconds=step) >= end:
        return 0  # kept already: no exchange call
    client = client or exchange_client(exchange=exchange)
    cursor, until = to_ms(_floor(start, step)), to_ms(end)
    bars: list[list] = []
    while cursor <= until:
        page = exchange_call(client, "fetch_ohlcv", symbol, timeframe, cursor, MAX_BARS, {"until": until})
        page = [bar for bar in page if bar[0] <= until]
        bars.extend(page)
        if len(page) < MAX_BARS:
            break
        cursor = page[-1][0] + step * 1000
    rows = [
        Candle(
            exchange=exchange,
            symbol=symbol,
            timeframe=timeframe,
            open_time=datetime.fromtimestamp(bar[0] / 1000, tz=UTC),
            open=_money(bar[1]),
            high=_money(bar[2]),
            low=_money(bar[3]),
            close=_money(bar[4]),
            volume=_money(bar[5] or 0),
        )
        for bar in bars
    ]
    created = Candle.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(created)


def _floor(moment: datetime, step: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, tz=UTC)


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(EIGHT)


@transaction.atomic
def position_excursion_compute(*, position: Position, client=None) -> PositionExcursion:
    """Compute (again) the R-multiple, MAE and MFE of one closed position and keep them."""
    if position.is_open or position.closed_at is None:
        raise ValueError(f"position {position.pk} is still open: excursions are of closed positions")
    notes = []
    order = entry_order(position)
    stop = order.stop_loss_price if order is not None else None
    entry = position.entry_price
    risk_per_unit = abs(entry - stop) if stop is not None else None
    risk_amount = (risk_per_unit * position.amount).quantize(EIGHT) if risk_per_unit else None
    if order is None:
        notes.append(
            "No entry order found for the position (same exchange, symbol and side, filled, within the day "
            "before it opened): no planned stop, so no R."
        )
    elif stop is None:
        notes.append(f"The entry order {order.pk} has no stop_loss_price: no planned risk, so no R.")
    elif not risk_per_unit:
        notes.append(f"The entry order {order.pk}'s stop equals the entry price: 1 R would be zero.")
    r_multiple = None
    if risk_amount and position.realized_pnl is not None:
        r_multiple = (position.realized_pnl / risk_amount).quantize(RATIO, ROUND_HALF_UP)
    elif risk_amount:
        notes.append("The position has no realized PnL (compute_realized_pnl says why): no R-multiple.")

    timeframe, step = timeframe_for(position.opened_at, position.closed_at)
    candles = 0
    mae = mfe = None
    try:
        candles_fetch(exchange=position.exchange, symbol=position.symbol, timeframe=timeframe, step=step,
                      start=position.opened_at, end=position.closed_at, client=client)  # fmt: skip
        path = Candle.objects.filter(
            exchange=position.exchange, symbol=position.symbol, timeframe=timeframe,
            open_time__gte=_floor(position.opened_at, step), open_time__lte=position.closed_at,
        ).aggregate(low=Min("low"), high=Max("high"), n=Count("id"))  # fmt: skip
        candles = path["n"]
        if candles:
            long = position.side == "buy"
            adverse = (entry - path["low"]) if long else (path["high"] - entry)
            favourable = (path["high"] - entry) if long else (entry - path["low"])
            mae, mfe = max(Decimal(0), adverse).quantize(EIGHT), max(Decimal(0), favourable).quantize(EIGHT)
        else:
            notes.append(f"The exchange returned no {timeframe} bars over the position's life: no MAE/MFE.")
    except ExchangeCallError as error:
        notes.append(f"The price path could not be fetched ({error.kind}): {error}")

    def in_r(value):
        if value is None or not risk_per_unit:
            return None
        return (value / risk_per_unit).quantize(RATIO, ROUND_HALF_UP)

    figures = {
        "entry_order_id": order.pk if order else None, "stop_loss_price": stop, "risk_amount": risk_amount,
        "r_multiple": r_multiple, "mae": mae, "mfe": mfe, "mae_r": in_r(mae), "mfe_r": in_r(mfe),
        "timeframe": timeframe, "candles": candles, "note": " ".join(notes), "computed_at": timezone.now(),
    }  # fmt: skip
    excursion, _ = PositionExcursion.objects.update_or_create(position=position, defaults=figures)
    return excursion


@dataclass(frozen=True)
class ExcursionsReport:
    computed: int
    with_r: int
    with_path: int
    failed_fetches: int


def excursions_compute(
    *, exchanges: list[Exchange], recompute: bool = False, since: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExcursionsReport:  # fmt: skip
    """Every closed position of `exchanges` (not yet computed, unless `recompute`), one client per account."""
    computed = with_r = with_path = failed = 0
    for exchange in exchanges:
        positions = Position.objects.filter(exchange=exchange, is_open=False, closed_at__isnull=False)
        if since is not None:
            positions = positions.filter(closed_at__gte=since)
        if not recompute:
            positions = positions.filter(excursion__isnull=True)
        client = None
        ordered = positions.select_related("exchange").order_by("closed_at", "pk")
        for position in ordered.iterator(chunk_size=200):
            if client is None:
                try:
                    client = exchange_client(exchange=exchange)
                except ExchangeCallError:
                    client = False  # each position then notes the reason
            excursion = position_excursion_compute(position=position, client=client or None)
            computed += 1
            with_r += excursion.r_multiple is not None
            with_path += excursion.mae is not None
            failed += "could not be fetched" in excursion.note
            if progress and computed % 100 == 0:
                progress(f"{exchange.name}: {computed} positions")
    return ExcursionsReport(computed=computed, with_r=with_r, with_path=with_path, failed_fetches=failed)
