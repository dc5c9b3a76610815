"""Writes of the portfolio: the daily snapshot per exchange, from the record (open positions and cash) or from
the exchange itself (its balances, valued with its tickers)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
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

from .. import selectors
from ..models import PortfolioSnapshot
from .flows import cash_effect, flows_between, net_flow
from .rates import MissingRate, RateBook, quote_of

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
    rows: list[dict]  # one per other asset held, valued in the reporting currency
    prices: dict[str, str]  # the tickers read: symbol -> last price
    book: RateBook  # the rates used (the exchange's tickers first)


def _number(value) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def exchange_holdings(
    *,
    exchange: Exchange,
    client=None,
    rates: dict[str, Decimal] | None = None,
    moment: datetime | None = None,
) -> ExchangeHoldings:
    """The account's balances through ccxt, each asset other than settings.REPORTING_CURRENCY valued in it by
    the rates of apps/portfolio/services/rates.py, the exchange's own tickers first. An asset no rate prices
    is an error naming it: never 1:1."""
    quote = settings.REPORTING_CURRENCY
    moment = moment or timezone.now()
    try:
        client = client or exchange_client(exchange=exchange)
        markets = exchange_call(client, "load_markets")
        balance = exchange_call(client, "fetch_balance")
        held = {
            asset: _money(_number(total))
            for asset, total in (balance.get("total") or {}).items()
            if total and _money(_number(total)) != 0
        }
        wanted = {a for a in held if a != quote} | {settings.PERFORMANCE_BENCHMARK}
        symbols = sorted(
            s for a in wanted for s in (f"{a}/{quote}", f"{quote}/{a}") if s in markets and a != quote
        )
        tickers = exchange_call(client, "fetch_tickers", symbols) if symbols else {}
    except ExchangeCallError as error:
        raise ValidationError({"exchange": f"{exchange.name}: {error}"}) from None
    prices = {s: _number(t["last"]) for s, t in tickers.items() if s in symbols and (t or {}).get("last")}
    book = RateBook(moment=moment, given=rates or {}, tickers=prices, tickers_from=exchange.name)
    rows, unpriced = [], []
    for asset in sorted(a for a in held if a != quote):
        rate = book.try_rate(asset)
        if rate is None:
            unpriced.append(asset)
            continue
        amount = held[asset]
        rows.append(
            {
                "symbol": f"{asset}/{quote}",
                "side": "buy" if amount > 0 else "sell",
                "amount": str(abs(amount)),
                "entry_price": None,
                "current_price": str(rate.rate),
                "value": str(_money(amount * rate.rate)),
                "unrealized_pnl": None,
                "unrealized_pnl_percentage": None,
                "source": "exchange",
            }
        )
    if unpriced:
        raise ValidationError(
            {"exchange": f"{exchange.name} holds {', '.join(unpriced)} but has no {quote} price for "
             f"{', '.join(f'{a}/{quote}' for a in unpriced)}: the snapshot cannot value it in {quote}; "
             f"give one with --rate {unpriced[0]}=PRICE."}
        )  # fmt: skip
    return ExchangeHoldings(
        cash=held.get(quote, Decimal(0)), rows=rows, prices={s: str(p) for s, p in prices.items()}, book=book
    )


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(MONEY_PLACES)


def _position_row(position, *, book: RateBook, exchange: Exchange) -> dict[str, str | None]:
    """The position as the snapshot keeps it; `value` in the reporting currency (and, for a market quoted in
    another currency, `quote_value` in its own)."""
    value = position.value if position.value is not None else position.amount * position.current_price
    quote = quote_of(position.symbol)

    def text(v):
        return None if v is None else str(v)

    row = {
        "symbol": position.symbol,
        "side": position.side,
        "amount": text(position.amount),
        "entry_price": text(position.entry_price),
        "current_price": text(position.current_price),
        "value": text(_money(value)),
        "unrealized_pnl": text(position.unrealized_pnl),
        "unrealized_pnl_percentage": text(position.unrealized_pnl_percentage),
    }
    if quote != book.reporting.upper():
        try:
            rate = book.rate(quote)
        except MissingRate as missing:
            raise ValidationError(
                {"exchange": f"{exchange.name}: its {position.symbol} position: {missing}"}
            ) from None
        row["quote_value"] = row["value"]
        row["value"] = text(_money(value * rate.rate))
    return row


def _flows_since(
    previous: PortfolioSnapshot | None, *, exchange: Exchange, snapshot_date: date, moment: datetime
) -> list:
    """The account's cash flows a snapshot at `moment` accounts for: those after the previous snapshot (for
    the first one, those of its own UTC day)."""
    after = previous.datetime if previous else datetime.combine(snapshot_date, time.min, tzinfo=UTC)
    return flows_between(exchange=exchange, after=after, until=moment)


def _currency_columns(flow: Decimal, book: RateBook) -> dict:
    """The net flow, the reporting currency and the rates used, as a snapshot keeps them; the benchmark's
    rate is looked up first so that it is kept too whenever it can be priced (the tearsheet's benchmark)."""
    book.try_rate(settings.PERFORMANCE_BENCHMARK)
    return {"net_flow": flow, "reporting_currency": settings.REPORTING_CURRENCY, "rates": book.recorded()}


def _chain(exchange: Exchange, snapshot_date: date, total_value: Decimal, flow: Decimal):
    """daily_pnl, total_pnl and total_return (percent) of the snapshot worth `total_value` after `flow` came
    in since the previous one: every figure net of cash flows, the return time-weighted from the exchange's
    first snapshot by chaining each day's (E_t - F_t) / E_t-1 (docs/metrics.md, "Cash flows")."""
    series = [
        *PortfolioSnapshot.objects.filter(exchange=exchange, snapshot_date__lt=snapshot_date)
        .order_by("snapshot_date")
        .values_list("total_value", "net_flow"),
        (total_value, flow),
    ]
    if len(series) == 1:
        return None, Decimal(0), Decimal(0)
    growth, total_pnl, daily_pnl = Decimal(1), Decimal(0), Decimal(0)
    for (before, _), (value, inflow) in itertools.pairwise(series):
        daily_pnl = value - before - inflow
        total_pnl += daily_pnl
        base = before if before > 0 else before + inflow  # money that arrived into an empty account
        growth = growth * (Decimal(1) + daily_pnl / base) if base > 0 and growth is not None else None
    total_return = None if growth is None else ((growth - 1) * 100).quantize(PERCENT_PLACES)
    return daily_pnl, total_pnl, total_return


def _check_currency(previous: PortfolioSnapshot | None, exchange: Exchange) -> None:
    reporting = settings.REPORTING_CURRENCY
    if previous is not None and previous.reporting_currency not in (None, reporting):
        raise ValidationError(
            {"exchange": f"{exchange.name}'s snapshot of {previous.snapshot_date} is in "
             f"{previous.reporting_currency}, and REPORTING_CURRENCY is {reporting}: one account's snapshots "
             "share one currency (set REPORTING_CURRENCY back, or start the account's series again)."}
        )  # fmt: skip


@transaction.atomic
def portfolio_snapshot_take(
    *,
    exchange: Exchange,
    snapshot_date: date,
    cash: Decimal | None = None,
    moment: datetime | None = None,
    from_exchange: bool = False,
    client=None,
    rates: dict[str, Decimal] | None = None,
) -> SnapshotOutcome:
    """Write (or replace) the exchange's snapshot for `snapshot_date`, every value in REPORTING_CURRENCY.

    total_value = cash + the open positions' value. Without `cash`, the previous snapshot's cash is carried
    forward, moved by the trades of markets quoted in the reporting currency since it (see
    selectors.cash_flow_between) and by the deposits and withdrawals of that currency; the first snapshot of
    an exchange needs `cash`. With `from_exchange`, cash and holdings are the exchange's own balances (a
    system event records that source and the prices used). A position quoted in another currency, and every
    cash flow, is converted at a rate of apps/portfolio/services/rates.py (`rates` given first); the rates
    used are kept in `rates`. `net_flow` is the flows since the previous snapshot; daily_pnl, total_pnl and
    total_return are net of them (time-weighted, docs/metrics.md). Re-running a date replaces that day's row.
    """
    moment = moment or timezone.now()
    if snapshot_date > moment.date():
        raise ValidationError({"snapshot_date": f"{snapshot_date} is in the future."})
    if cash is not None and cash < 0:
        raise ValidationError({"cash": f"Cash for {exchange.name} must not be negative (got {cash})."})
    if from_exchange and cash is not None:
        raise ValidationError({"cash": "Give cash, or take it from the exchange's balances; not both."})

    previous = selectors.snapshot_previous(exchange=exchange, before=snapshot_date)
    _check_currency(previous, exchange)
    try:
        holdings = (
            exchange_holdings(exchange=exchange, client=client, rates=rates, moment=moment)
            if from_exchange
            else None
        )
        book = holdings.book if holdings is not None else RateBook(moment=moment, given=rates or {})
    except ValueError as exc:  # a rate given that is not positive
        raise ValidationError({"rates": str(exc)}) from None
    flows = _flows_since(previous, exchange=exchange, snapshot_date=snapshot_date, moment=moment)
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
        cash = (
            previous.cash
            + selectors.cash_flow_between(exchange=exchange, after=previous.datetime, until=moment)
            + cash_effect(flows, currency=book.reporting.upper())
        )
        cash_source = "carried forward"
    else:
        cash_source = "given"
    cash = _money(cash)

    if holdings is not None:
        rows = holdings.rows
    else:
        rows = [
            _position_row(p, book=book, exchange=exchange)
            for p in selectors.position_list_open(exchange=exchange)
        ]
    positions_value = _money(sum((Decimal(r["value"]) for r in rows), Decimal(0)))
    total_value = cash + positions_value
    flow = net_flow(flows, book=book, exchange=exchange)
    daily_pnl, total_pnl, total_return = _chain(exchange, snapshot_date, total_value, flow)

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
            **_currency_columns(flow, book),
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
                "rates": book.recorded(),
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
    rates: dict[str, Decimal] | None = None,
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
            rates=rates,
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
    rates: dict[str, Decimal] | None = None,
) -> SnapshotOutcome:
    """Record a snapshot as the agent reports it: one per (exchange, day); a second one that day
    replaces the first. The day defaults to the moment's UTC date, the moment to now.

    The values are taken to be in REPORTING_CURRENCY. `net_flow` is computed from the recorded cash flows
    since the previous snapshot, converted at `rates` (or the rates of rates.py); a flow no rate prices is
    refused with the currency named.

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
    previous = selectors.snapshot_previous(exchange=exchange, before=snapshot_date)
    _check_currency(previous, exchange)
    try:
        book = RateBook(moment=moment, given=rates or {})
    except ValueError as exc:
        raise ValidationError({"rates": str(exc)}) from None
    flows = _flows_since(previous, exchange=exchange, snapshot_date=snapshot_date, moment=moment)
    try:
        flow = net_flow(flows, book=book, exchange=exchange)
    except ValidationError as exc:
        raise ValidationError({"rates": exc.message_dict["exchange"]}) from None
    values = {
        "total_value": total_value,
        "cash": cash,
        "positions_value": positions_value,
        "total_pnl": total_pnl,
        "daily_pnl": daily_pnl,
        "total_return": total_return,
        "positions": positions,
        **_currency_columns(flow, book),
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
