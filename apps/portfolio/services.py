"""Writes of the portfolio: the daily snapshot per exchange, from the record (open positions and cash) or from
the exchange itself (its balances, valued with its tickers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.common.clock import to_ms
from apps.exchanges.client import ExchangeCallError, exchange_call, exchange_client
from apps.exchanges.models import Exchange
from apps.system_events.models import Severity
from apps.system_events.services import system_event_record

from . import selectors
from .models import PortfolioSnapshot

MONEY_PLACES = Decimal("0.00000001")
PERCENT_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class SnapshotOutcome:
    snapshot: PortfolioSnapshot
    created: bool  # False: the day's snapshot existed and was replaced
    cash_source: str  # "given", "carried forward" or "the exchange's balances"


@dataclass(frozen=True)
class ExchangeHoldings:
    """An account as the exchange reports it, in the reporting currency."""

    cash: Decimal  # the reporting currency held
    rows: list[dict]  # one per other asset held, valued at the exchange's last price
    prices: dict[str, str]  # the tickers used: symbol -> last price


def _number(value) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def exchange_holdings(*, exchange: Exchange, client=None) -> ExchangeHoldings:
    """The account's balances through ccxt, each asset other than settings.REPORTING_CURRENCY valued with the
    exchange's own ticker against it. An asset without such a ticker is an error naming it: never 1:1."""
    quote = settings.REPORTING_CURRENCY
    try:
        client = client or exchange_client(exchange=exchange)
        markets = exchange_call(client, "load_markets")
        balance = exchange_call(client, "fetch_balance")
        held = {
            asset: _money(_number(total))
            for asset, total in (balance.get("total") or {}).items()
            if total and _money(_number(total)) != 0
        }
        symbols = sorted(f"{asset}/{quote}" for asset in held if asset != quote)
        unpriced = [symbol for symbol in symbols if symbol not in markets]
        tickers = (
            exchange_call(client, "fetch_tickers", [s for s in symbols if s in markets]) if symbols else {}
        )
    except ExchangeCallError as error:
        raise ValidationError({"exchange": f"{exchange.name}: {error}"}) from None
    unpriced += [s for s in symbols if s not in unpriced and (tickers.get(s) or {}).get("last") is None]
    if unpriced:
        raise ValidationError(
            {"exchange": f"{exchange.name} holds {', '.join(s.split('/')[0] for s in unpriced)} but has no "
             f"{quote} price for {', '.join(unpriced)}: the snapshot cannot value it in {quote}."}
        )  # fmt: skip
    rows, prices = [], {}
    for symbol in symbols:
        amount, last = held[symbol.split("/")[0]], _number(tickers[symbol]["last"])
        prices[symbol] = str(last)
        rows.append(
            {
                "symbol": symbol,
                "side": "buy" if amount > 0 else "sell",
                "amount": str(abs(amount)),
                "entry_price": None,
                "current_price": str(last),
                "value": str(_money(amount * last)),
                "unrealized_pnl": None,
                "unrealized_pnl_percentage": None,
                "source": "exchange",
            }
        )
    return ExchangeHoldings(cash=held.get(quote, Decimal(0)), rows=rows, prices=prices)


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(MONEY_PLACES)


def _position_row(position) -> dict[str, str | None]:
    value = position.value if position.value is not None else position.amount * position.current_price

    def text(v):
        return None if v is None else str(v)

    return {
        "symbol": position.symbol,
        "side": position.side,
        "amount": text(position.amount),
        "entry_price": text(position.entry_price),
        "current_price": text(position.current_price),
        "value": text(_money(value)),
        "unrealized_pnl": text(position.unrealized_pnl),
        "unrealized_pnl_percentage": text(position.unrealized_pnl_percentage),
    }


@transaction.atomic
def portfolio_snapshot_take(
    *,
    exchange: Exchange,
    snapshot_date: date,
    cash: Decimal | None = None,
    moment: datetime | None = None,
    from_exchange: bool = False,
    client=None,
) -> SnapshotOutcome:
    """Write (or replace) the exchange's snapshot for `snapshot_date`.

    total_value = cash + the open positions' value. Without `cash`, the previous snapshot's cash
    is carried forward and moved by the trades since it (see selectors.cash_flow_between); the
    first snapshot of an exchange needs `cash`. With `from_exchange`, cash and holdings are the
    exchange's own balances, valued with its tickers (exchange_holdings), and a system event records
    that source and the prices used. total_pnl and total_return are measured from the exchange's
    first snapshot, daily_pnl from the previous one. Re-running a date replaces that day's row: one
    snapshot per (exchange, date).
    """
    moment = moment or timezone.now()
    if snapshot_date > moment.date():
        raise ValidationError({"snapshot_date": f"{snapshot_date} is in the future."})
    if cash is not None and cash < 0:
        raise ValidationError({"cash": f"Cash for {exchange.name} must not be negative (got {cash})."})
    if from_exchange and cash is not None:
        raise ValidationError({"cash": "Give cash, or take it from the exchange's balances; not both."})

    previous = selectors.snapshot_previous(exchange=exchange, before=snapshot_date)
    holdings = exchange_holdings(exchange=exchange, client=client) if from_exchange else None
    if holdings is not None:
        cash = holdings.cash
        cash_source = "the exchange's balances"
    elif cash is None:
        if previous is None:
            raise ValidationError(
                {
                    "cash": f"{exchange.name} has no earlier snapshot to carry cash forward from; "
                    f"give it with --cash {exchange.name}=AMOUNT."
                }
            )
        cash = previous.cash + selectors.cash_flow_between(
            exchange=exchange, after=previous.datetime, until=moment
        )
        cash_source = "carried forward"
    else:
        cash_source = "given"
    cash = _money(cash)

    if holdings is not None:
        rows = holdings.rows
    else:
        rows = [_position_row(p) for p in selectors.position_list_open(exchange=exchange)]
    positions_value = _money(sum((Decimal(r["value"]) for r in rows), Decimal(0)))
    total_value = cash + positions_value

    first = selectors.snapshot_first(exchange=exchange)
    base = first if first is not None and first.snapshot_date < snapshot_date else None
    if base is None:
        total_pnl, total_return = Decimal(0), Decimal(0)
    else:
        total_pnl = total_value - base.total_value
        total_return = (
            (total_pnl / base.total_value * 100).quantize(PERCENT_PLACES) if base.total_value > 0 else None
        )
    daily_pnl = total_value - previous.total_value if previous is not None else None

    snapshot, created = PortfolioSnapshot.objects.update_or_create(
        exchange=exchange,
        snapshot_date=snapshot_date,
        defaults={
            "total_value": total_value,
            "cash": cash,
            "positions_value": positions_value,
            "total_pnl": total_pnl,
            "daily_pnl": daily_pnl,
            "total_return": total_return,
            "positions": rows,
            "timestamp": to_ms(moment),
            "datetime": moment,
        },
    )
    if holdings is not None:
        system_event_record(
            event_type="portfolio_snapshot_from_exchange",
            severity=Severity.INFO,
            message=f"{exchange.name} {snapshot_date}: cash and holdings from the exchange's balances, "
            f"valued in {settings.REPORTING_CURRENCY} with its tickers.",
            data={
                "exchange": exchange.name,
                "snapshot_date": snapshot_date.isoformat(),
                "cash_source": cash_source,
                "reporting_currency": settings.REPORTING_CURRENCY,
                "prices": holdings.prices,
            },
        )
    return SnapshotOutcome(snapshot=snapshot, created=created, cash_source=cash_source)


@transaction.atomic
def portfolio_snapshot_take_all(
    *,
    snapshot_date: date,
    exchanges: list[Exchange],
    cash: dict[str, Decimal] | None = None,
    moment: datetime | None = None,
    from_exchange: bool = False,
) -> list[SnapshotOutcome]:
    """Snapshot every given exchange in one transaction: all of them are written, or none."""
    cash = cash or {}
    unknown = sorted(set(cash) - {e.name for e in exchanges})
    if unknown:
        raise ValidationError(
            {"cash": f"Cash given for exchanges not being snapshotted: {', '.join(unknown)}."}
        )
    moment = moment or timezone.now()
    return [
        portfolio_snapshot_take(
            exchange=exchange,
            snapshot_date=snapshot_date,
            cash=cash.get(exchange.name),
            moment=moment,
            from_exchange=from_exchange,
        )
        for exchange in exchanges
    ]


@transaction.atomic
def portfolio_snapshot_upsert(
    *,
    exchange: Exchange,
    total_value: Decimal,
    cash: Decimal,
    snapshot_date: date | None = None,
    positions_value: Decimal | None = None,
    total_pnl: Decimal | None = None,
    daily_pnl: Decimal | None = None,
    total_return: Decimal | None = None,
    positions: list | dict | None = None,
    moment: datetime | None = None,
) -> SnapshotOutcome:
    """Record a snapshot as the agent reports it: one per (exchange, day); a second one that day
    replaces the first. The day defaults to the moment's UTC date, the moment to now.

    Concurrent reports of the same day serialise on the row (the unique index decides the race
    to insert it), so there is never a second row and never an error for it.
    """
    from django.db import IntegrityError

    moment = moment or timezone.now()
    if snapshot_date is None:
        from datetime import UTC

        snapshot_date = moment.astimezone(UTC).date()
    if cash < 0:
        raise ValidationError({"cash": f"Cash must not be negative (got {cash})."})
    if total_value < 0:
        raise ValidationError({"total_value": f"The total value must not be negative (got {total_value})."})
    values = {
        "total_value": total_value,
        "cash": cash,
        "positions_value": positions_value,
        "total_pnl": total_pnl,
        "daily_pnl": daily_pnl,
        "total_return": total_return,
        "positions": positions,
        "timestamp": to_ms(moment),
        "datetime": moment,
    }
    locked = PortfolioSnapshot.objects.select_for_update()
    existing = locked.filter(exchange=exchange, snapshot_date=snapshot_date).first()
    if existing is None:
        snapshot = PortfolioSnapshot(exchange=exchange, snapshot_date=snapshot_date, **values)
        try:
            with transaction.atomic():
                snapshot.save(force_insert=True)
        except IntegrityError:
            existing = locked.get(exchange=exchange, snapshot_date=snapshot_date)
        else:
            return SnapshotOutcome(snapshot=snapshot, created=True, cash_source="given")
    for name, value in values.items():
        setattr(existing, name, value)
    existing.save(update_fields=list(values))
    existing.exchange = exchange
    return SnapshotOutcome(snapshot=existing, created=False, cash_source="given")
