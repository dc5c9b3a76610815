"""Figures for what a changelist shows: one aggregate query over the filtered rows, whatever their number.

- Experiences: wins and losses by outcome (the seed's calculate_win_rate counts outcome = 'success'),
  PnL from `pnl`.
- Positions: the closed ones with a realized PnL; a win is realized_pnl > 0, a loss < 0; fees are
  realized_fees. Positions still open, or whose fills do not explain them, are counted apart.
- Trades: fills have no result of their own (a position's realized PnL is the result), so their figures
  are the count, buys and sells, the volume and the fees.
- Decisions: tokens (input, output, total), the inference cost and latency.

Win rate = wins / (wins + losses) x 100: a break-even result is neither. Profit factor = gross profit /
gross loss, None when nothing was lost (no finite figure). Money is summed in the quote currency; when
the rows hold more than one, `currency` is None and `mixed_currencies` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, CharField, Count, F, Func, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

ZERO = Decimal(0)
CENT = Decimal("0.01")


class SplitPart(Func):
    function = "split_part"


def _quote():
    return SplitPart(F("symbol"), Value("/"), Value(2), output_field=CharField())


@dataclass(frozen=True)
class ResultFigures:
    count: int  # rows filtered
    with_result: int  # rows with a PnL
    wins: int
    losses: int
    total_pnl: Decimal | None
    gross_profit: Decimal
    gross_loss: Decimal  # <= 0
    fees: Decimal | None
    currency: str | None
    mixed_currencies: bool = False

    @property
    def win_rate(self) -> Decimal | None:
        decided = self.wins + self.losses
        return None if not decided else (Decimal(self.wins) * 100 / decided).quantize(CENT, ROUND_HALF_UP)

    @property
    def average_pnl(self) -> Decimal | None:
        if not self.with_result or self.total_pnl is None:
            return None
        return (self.total_pnl / self.with_result).quantize(Decimal("0.00000001"), ROUND_HALF_UP)

    @property
    def profit_factor(self) -> Decimal | None:
        if self.gross_loss == 0:
            return None
        return (self.gross_profit / -self.gross_loss).quantize(CENT, ROUND_HALF_UP)


def _currency(row: dict) -> tuple[str | None, bool]:
    low, high = row.get("quote_low"), row.get("quote_high")
    if low is None:
        return None, False
    return (low, False) if low == high else (None, True)


def experience_figures(queryset: QuerySet) -> ResultFigures:
    row = queryset.order_by().aggregate(
        figures_count=Count("pk"),
        with_result=Count("pnl"),
        wins=Count("pk", filter=Q(outcome="success")),
        losses=Count("pk", filter=Q(outcome="failure")),
        total_pnl=Sum("pnl"),
        gross_profit=Coalesce(Sum("pnl", filter=Q(pnl__gt=0)), ZERO),
        gross_loss=Coalesce(Sum("pnl", filter=Q(pnl__lt=0)), ZERO),
        quote_low=Min(_quote()),
        quote_high=Max(_quote()),
    )
    currency, mixed = _currency(row)
    return ResultFigures(
        count=row["figures_count"], with_result=row["with_result"], wins=row["wins"], losses=row["losses"],
        total_pnl=row["total_pnl"], gross_profit=row["gross_profit"], gross_loss=row["gross_loss"],
        fees=None, currency=currency, mixed_currencies=mixed,
    )  # fmt: skip


def position_figures(queryset: QuerySet) -> ResultFigures:
    row = queryset.order_by().aggregate(
        figures_count=Count("pk"),
        with_result=Count("realized_pnl"),
        wins=Count("pk", filter=Q(realized_pnl__gt=0)),
        losses=Count("pk", filter=Q(realized_pnl__lt=0)),
        total_pnl=Sum("realized_pnl"),
        gross_profit=Coalesce(Sum("realized_pnl", filter=Q(realized_pnl__gt=0)), ZERO),
        gross_loss=Coalesce(Sum("realized_pnl", filter=Q(realized_pnl__lt=0)), ZERO),
        fees=Sum("realized_fees"),
        quote_low=Min(_quote()),
        quote_high=Max(_quote()),
    )
    currency, mixed = _currency(row)
    return ResultFigures(
        count=row["figures_count"], with_result=row["with_result"], wins=row["wins"], losses=row["losses"],
        total_pnl=row["total_pnl"], gross_profit=row["gross_profit"], gross_loss=row["gross_loss"],
        fees=row["fees"], currency=currency, mixed_currencies=mixed,
    )  # fmt: skip


@dataclass(frozen=True)
class TradeFigures:
    count: int
    buys: int
    sells: int
    volume: Decimal | None  # sum of cost, in the quote currency
    fees: Decimal | None  # in fee_currency, when all fees are in one
    currency: str | None
    fee_currency: str | None
    mixed_currencies: bool = False
    mixed_fee_currencies: bool = False


def trade_figures(queryset: QuerySet) -> TradeFigures:
    row = queryset.order_by().aggregate(
        figures_count=Count("pk"),
        buys=Count("pk", filter=Q(side="buy")),
        sells=Count("pk", filter=Q(side="sell")),
        volume=Sum("cost"),
        fees=Sum("fee"),
        quote_low=Min(_quote()),
        quote_high=Max(_quote()),
        fee_low=Min("fee_currency"),
        fee_high=Max("fee_currency"),
    )
    currency, mixed = _currency(row)
    fee_currency, mixed_fees = _currency({"quote_low": row["fee_low"], "quote_high": row["fee_high"]})
    return TradeFigures(
        count=row["figures_count"], buys=row["buys"], sells=row["sells"], volume=row["volume"],
        fees=None if mixed_fees else row["fees"], currency=currency, fee_currency=fee_currency,
        mixed_currencies=mixed, mixed_fee_currencies=mixed_fees,
    )  # fmt: skip


@dataclass(frozen=True)
class DecisionFigures:
    count: int
    strategic: int
    tactical: int
    tokens: int | None
    input_tokens: int | None
    output_tokens: int | None
    cost: Decimal | None
    priced: int  # decisions with a cost
    average_latency_ms: Decimal | None

    @property
    def average_cost(self) -> Decimal | None:
        if not self.priced or self.cost is None:
            return None
        return (self.cost / self.priced).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def decision_figures(queryset: QuerySet) -> DecisionFigures:
    row = queryset.order_by().aggregate(
        figures_count=Count("pk"),
        strategic=Count("pk", filter=Q(decision_layer="strategic")),
        tactical=Count("pk", filter=Q(decision_layer="tactical")),
        tokens=Sum("tokens_used"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cost=Sum("inference_cost"),
        priced=Count("inference_cost"),
        latency=Avg("latency_ms"),
    )
    latency = row["latency"]
    return DecisionFigures(
        count=row["figures_count"], strategic=row["strategic"], tactical=row["tactical"],
        tokens=row["tokens"], input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
        cost=row["cost"],
        priced=row["priced"],
        average_latency_ms=None if latency is None else Decimal(latency).quantize(Decimal(1), ROUND_HALF_UP),
    )  # fmt: skip
