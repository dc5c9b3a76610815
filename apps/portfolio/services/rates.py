"""Conversion into the reporting currency (settings.REPORTING_CURRENCY): where each rate comes from, recorded.

A snapshot values every account's cash, holdings and cash flows in one currency. Each rate it uses is the
value of one unit of a currency in the reporting currency, found in this order:

1. the reporting currency itself: 1;
2. a rate given by the caller (`snapshot_portfolio --rate BTC=65000`, the API's `rates`);
3. the exchange's own tickers, when the snapshot reads the exchange: `BTC/USDT`'s last price, or the inverse
   of `USDT/BTC`'s;
4. the record: the latest fill of `BTC/USDT` (or `BTC/USDT:USDT`) on any exchange at or before the snapshot's
   moment and no older than settings.REPORTING_RATE_MAX_AGE_HOURS.

A currency none of these prices is a `MissingRate` naming it and what to do: never a silent 1:1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from apps.execution.models import Trade

RATE_PLACES = Decimal("1e-12")


class MissingRate(Exception):
    def __init__(self, currency: str, reporting: str):
        self.currency = currency
        self.reporting = reporting
        super().__init__(
            f"no {reporting} rate for {currency}: no {currency}/{reporting} ticker or recent fill; "
            f'give one with --rate {currency}=PRICE (the API\'s "rates").'
        )


@dataclass(frozen=True)
class Rate:
    rate: Decimal  # one unit of the currency, in the reporting currency
    source: str


@dataclass
class RateBook:
    """The rates one snapshot uses; `recorded()` is what the snapshot keeps beside its values."""

    moment: datetime
    given: Mapping[str, Decimal] = field(default_factory=dict)
    tickers: Mapping[str, Decimal] = field(default_factory=dict)  # symbol -> last price, from the exchange
    tickers_from: str = ""
    reporting: str = field(default_factory=lambda: settings.REPORTING_CURRENCY)
    used: dict[str, Rate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.given = {currency.upper(): Decimal(rate) for currency, rate in self.given.items()}
        for currency, rate in self.given.items():
            if rate <= 0:
                raise ValueError(f"The rate given for {currency} must be positive (got {rate}).")

    def rate(self, currency: str) -> Rate:
        currency = currency.upper()
        if currency in self.used:
            return self.used[currency]
        found = self._find(currency)
        if found is None:
            raise MissingRate(currency, self.reporting)
        self.used[currency] = found
        return found

    def value(self, amount: Decimal, currency: str) -> Decimal:
        return amount * self.rate(currency).rate

    def try_rate(self, currency: str) -> Rate | None:
        try:
            return self.rate(currency)
        except MissingRate:
            return None

    def recorded(self) -> dict[str, dict[str, str]]:
        return {c: {"rate": str(r.rate), "source": r.source} for c, r in sorted(self.used.items())}

    def _find(self, currency: str) -> Rate | None:
        reporting = self.reporting.upper()
        if currency == reporting:
            return Rate(Decimal(1), "the reporting currency")
        if currency in self.given:
            return Rate(self.given[currency], "given")
        direct, inverse = f"{currency}/{reporting}", f"{reporting}/{currency}"
        where = f" on {self.tickers_from}" if self.tickers_from else ""
        if self.tickers.get(direct):
            return Rate(Decimal(self.tickers[direct]), f"ticker {direct}{where}")
        if self.tickers.get(inverse):
            return Rate(
                (Decimal(1) / Decimal(self.tickers[inverse])).quantize(RATE_PLACES),
                f"1 / ticker {inverse}{where}",
            )
        return _from_fills(currency, reporting, self.moment)


def _from_fills(currency: str, reporting: str, moment: datetime) -> Rate | None:
    oldest = moment - timedelta(hours=settings.REPORTING_RATE_MAX_AGE_HOURS)
    fill = (
        Trade.objects.filter(
            symbol__in=[f"{currency}/{reporting}", f"{currency}/{reporting}:{reporting}"],
            datetime__lte=moment,
            datetime__gte=oldest,
        )
        .order_by("-datetime", "-pk")
        .select_related("exchange")
        .only("id", "price", "datetime", "symbol", "exchange__name")
        .first()
    )
    if fill is None:
        return None
    exchange = fill.exchange.name if fill.exchange_id else "no exchange"
    return Rate(fill.price, f"fill {fill.id} of {fill.symbol} on {exchange} at {fill.datetime.isoformat()}")


def quote_of(symbol: str) -> str:
    """The currency a market is quoted (and settled) in: USDT for BTC/USDT and BTC/USDT:USDT."""
    return symbol.partition("/")[2].split(":")[0].upper()
