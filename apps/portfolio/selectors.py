"""Reads of the portfolio: open positions, neighbouring snapshots, cash flows and the equity curve."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import QuerySet

from apps.exchanges.models import Exchange
from apps.execution.models import Position

from .models import PortfolioSnapshot


def position_list_open(*, exchange: Exchange) -> QuerySet[Position]:
    return Position.objects.filter(exchange=exchange, is_open=True).order_by("symbol")


def snapshot_previous(*, exchange: Exchange, before: date) -> PortfolioSnapshot | None:
    """The exchange's latest snapshot dated strictly before `before`."""
    return (
        PortfolioSnapshot.objects.filter(exchange=exchange, snapshot_date__lt=before)
        .order_by("-snapshot_date")
        .first()
    )


def snapshot_first(*, exchange: Exchange) -> PortfolioSnapshot | None:
    return PortfolioSnapshot.objects.filter(exchange=exchange).order_by("snapshot_date").first()


# A trade moves cash in its symbol's quote currency ("BTC/USDT" and "BTC/USDT:USDT" settle in USDT):
# a buy pays cost, a sell receives it, and a fee charged in the quote currency is paid on top. A fee
# charged in another currency (e.g. an exchange token) does not touch the quote cash. Only markets quoted in
# the reporting currency move the snapshot's cash, which is kept in it.
CASH_FLOW_SQL = """
SELECT COALESCE(SUM(
    CASE WHEN side = 'sell' THEN cost ELSE -cost END
    - CASE WHEN fee IS NOT NULL AND fee_currency = split_part(split_part(symbol, '/', 2), ':', 1)
           THEN fee ELSE 0 END
), 0)
FROM trades
WHERE exchange_id = %s AND datetime > %s AND datetime <= %s
  AND upper(split_part(split_part(symbol, '/', 2), ':', 1)) = upper(%s)
"""


def cash_flow_between(*, exchange: Exchange, after: datetime, until: datetime) -> Decimal:
    """Net reporting-currency cash moved by the exchange's trades with after < datetime <= until."""
    from django.conf import settings

    with connection.cursor() as cursor:
        cursor.execute(CASH_FLOW_SQL, [exchange.pk, after, until, settings.REPORTING_CURRENCY])
        return Decimal(cursor.fetchone()[0])


class CurvePoint(NamedTuple):
    day: date
    value: Decimal  # total value over the exchanges, in the reporting currency
    flow: Decimal  # the net cash flow the day's snapshots recorded (in minus out)


def equity_curve(
    *,
    start_date: date,
    end_date: date,
    exchange_ids: Iterable[int] | None = None,
) -> list[CurvePoint]:
    """Daily total value summed over exchanges, with the day's net cash flow, for each date in the range
    that has a snapshot.

    An exchange without a snapshot on such a date contributes its latest earlier value (carried
    forward, also from before the range), so a missed snapshot on one exchange is not a crash; its flows
    count on the day of its next snapshot, which records them.
    """
    snapshots = PortfolioSnapshot.objects.filter(snapshot_date__lte=end_date)
    if exchange_ids is not None:
        snapshots = snapshots.filter(exchange_id__in=list(exchange_ids))
    latest: dict[int | None, Decimal] = {}
    curve: dict[date, Decimal] = {}
    flows: dict[date, Decimal] = {}
    for exchange_id, snapshot_date, total_value, net_flow in snapshots.order_by("snapshot_date").values_list(
        "exchange_id", "snapshot_date", "total_value", "net_flow"
    ):
        latest[exchange_id] = total_value
        if snapshot_date >= start_date:
            curve[snapshot_date] = sum(latest.values(), Decimal(0))
            flows[snapshot_date] = flows.get(snapshot_date, Decimal(0)) + (net_flow or 0)
    return [CurvePoint(day, value, flows[day]) for day, value in sorted(curve.items())]


def recorded_rates(
    *, currency: str, start_date: date, end_date: date, exchange_ids: Iterable[int] | None = None
) -> dict[date, Decimal]:
    """The rate of `currency` each day's snapshots recorded (portfolio_snapshots.rates), the first exchange's
    when several did: the prices the snapshots were valued with, for a benchmark on the same footing."""
    from django.db.models.fields.json import KT

    snapshots = PortfolioSnapshot.objects.filter(
        snapshot_date__gte=start_date, snapshot_date__lte=end_date, rates__has_key=currency
    )
    if exchange_ids is not None:
        snapshots = snapshots.filter(exchange_id__in=list(exchange_ids))
    prices: dict[date, Decimal] = {}
    for day, rate in (
        snapshots.annotate(rate=KT(f"rates__{currency}__rate"))
        .order_by("snapshot_date", "exchange_id")
        .values_list("snapshot_date", "rate")
    ):
        prices.setdefault(day, Decimal(rate))
    return prices
