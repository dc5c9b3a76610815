"""Figures for what a changelist shows: one aggregate query over the filtered rows, whatever their number.

- Experiences: wins and losses by outcome (the seed's calculate_win_rate counts outcome = 'success'),
  PnL from `pnl`.
- Positions: the closed ones with a realized PnL; a win is realized_pnl > 0, a loss < 0; fees are
  realized_fees. Positions still open, or whose fills do not explain them, are counted apart.
- Trades: fills have no result of their own (a position's realized PnL is the result), so their figures
  are the count, buys and sells, the volume and the fees.
- Decisions: tokens (input, output, total), the inference cost and latency.

Each has a `*_rollup` twin that answers the same figures from the daily roll-ups (apps/journal/rollups.py)
for what the roll-up's columns can select: a few thousand roll-up rows summed instead of every row.

Win rate = wins / (wins + losses) x 100: a break-even result is neither. Profit factor = gross profit /
gross loss, None when nothing was lost (no finite figure). Money is summed in the quote currency; when
the rows hold more than one, `currency` is None and `mixed_currencies` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, CharField, Count, F, Func, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from ..models import (
    DecisionDayRollup,
    ExperienceDayRollup,
    ExperienceTagDayRollup,
    PositionDayRollup,
    TradeDayRollup,
)

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
    return _trades(row)


def _trades(row: dict) -> TradeFigures:
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
    return _decisions(row)


def _decisions(row: dict) -> DecisionFigures:
    latency = row["latency"]
    return DecisionFigures(
        count=row["figures_count"], strategic=row["strategic"], tactical=row["tactical"],
        tokens=row["tokens"], input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
        cost=row["cost"],
        priced=row["priced"],
        average_latency_ms=None if latency is None else Decimal(latency).quantize(Decimal(1), ROUND_HALF_UP),
    )  # fmt: skip


# --- the same figures from the daily roll-ups -------------------------------------------------------------


def _rollup_row(queryset: QuerySet, *, extra: dict | None = None, **sums) -> dict:
    """Every sum of the roll-up rows `queryset` selects (0 when none), with the quote currency's range
    where the roll-up has symbols."""
    fields = _fields(queryset.model)
    quote = {"quote_low": Min(_quote()), "quote_high": Max(_quote())} if "symbol" in fields else {}
    row = queryset.filter(rows__gt=0).order_by().aggregate(**sums, **quote, **(extra or {}))
    decimals = {name for name, field in fields.items() if field == "DecimalField"}
    for name, expression in sums.items():
        if row[name] is None:
            row[name] = ZERO if expression.source_expressions[0].name in decimals else 0
    return row


def _fields(model) -> dict[str, str]:
    return {field.name: field.get_internal_type() for field in model._meta.concrete_fields}


def _sum_if(row: dict, total: str, present: str):
    """A column's sum, None (as SUM gives) when no row had the column."""
    return row[total] if row[present] else None


def _results_rollup(queryset: QuerySet, *, wins: Q | str, losses: Q | str, fees: bool) -> ResultFigures:
    """ResultFigures from roll-up rows; `wins`/`losses`: which rows count (a Q) or the column to add."""
    sums = {
        "figures_count": Sum("rows"),
        "with_result": Sum("with_pnl"),
        "total_pnl": Sum("pnl"),
        "gross_profit": Sum("gross_profit"),
        "gross_loss": Sum("gross_loss"),
        "wins": Sum("rows", filter=wins) if isinstance(wins, Q) else Sum(wins),
        "losses": Sum("rows", filter=losses) if isinstance(losses, Q) else Sum(losses),
    }
    if fees:
        sums |= {"fees": Sum("fees"), "with_fees": Sum("with_fees")}
    row = _rollup_row(queryset, **sums)
    currency, mixed = _currency(row)
    return ResultFigures(
        count=row["figures_count"], with_result=row["with_result"], wins=row["wins"], losses=row["losses"],
        total_pnl=_sum_if(row, "total_pnl", "with_result"), gross_profit=row["gross_profit"],
        gross_loss=row["gross_loss"], fees=_sum_if(row, "fees", "with_fees") if fees else None,
        currency=currency, mixed_currencies=mixed,
    )  # fmt: skip


def experience_figures_rollup(where: Q, *, tag: str | None = None) -> ResultFigures:
    """experience_figures of the experiences `where` selects (roll-up columns: day, symbol, outcome);
    with `tag`, of those tagged so (from the tag roll-up, which counts an experience once per tag)."""
    rollup = ExperienceDayRollup.objects if tag is None else ExperienceTagDayRollup.objects.filter(tag=tag)
    return _results_rollup(
        rollup.filter(where), wins=Q(outcome="success"), losses=Q(outcome="failure"), fees=False
    )


def position_figures_rollup(where: Q) -> ResultFigures:
    """position_figures of the positions `where` selects (day opened, exchange_id, symbol, side, is_open)."""
    return _results_rollup(PositionDayRollup.objects.filter(where), wins="wins", losses="losses", fees=True)


def trade_figures_rollup(where: Q) -> TradeFigures:
    """trade_figures of the fills `where` selects (day, exchange_id, symbol, side, fee_currency)."""
    row = _rollup_row(
        TradeDayRollup.objects.filter(where),
        figures_count=Sum("rows"),
        buys=Sum("rows", filter=Q(side="buy")),
        sells=Sum("rows", filter=Q(side="sell")),
        volume=Sum("volume"),
        with_volume=Sum("with_volume"),
        fees=Sum("fees"),
        with_fees=Sum("with_fees"),
        extra={"fee_low": Min("fee_currency"), "fee_high": Max("fee_currency")},
    )
    sums = {"volume": _sum_if(row, "volume", "with_volume"), "fees": _sum_if(row, "fees", "with_fees")}
    return _trades(row | sums)


def decision_figures_rollup(where: Q) -> DecisionFigures:
    """decision_figures of the decisions `where` selects (day, decision_layer, model_used)."""
    row = _rollup_row(
        DecisionDayRollup.objects.filter(where),
        figures_count=Sum("rows"),
        strategic=Sum("rows", filter=Q(decision_layer="strategic")),
        tactical=Sum("rows", filter=Q(decision_layer="tactical")),
        **{name: Sum(name) for name in ("tokens", "input_tokens", "output_tokens", "cost", "latency")},
        **{f"with_{name}": Sum(f"with_{name}") for name in ("tokens", "input_tokens", "output_tokens")},
        priced=Sum("with_cost"),
        with_latency=Sum("with_latency"),
    )
    latency = (
        Decimal(row["latency"]) / row["with_latency"] if row["with_latency"] else None
    )  # AVG(latency_ms) over the rows that have one
    return _decisions(
        row
        | {name: _sum_if(row, name, f"with_{name}") for name in ("tokens", "input_tokens", "output_tokens")}
        | {"cost": row["cost"] if row["priced"] else None, "latency": latency}
    )


def _merged(first: tuple[str | None, bool], second: tuple[str | None, bool]) -> tuple[str | None, bool]:
    """(currency, mixed) of two sets of rows together."""
    (one, one_mixed), (two, two_mixed) = first, second
    if one_mixed or two_mixed or (one is not None and two is not None and one != two):
        return None, True
    return one or two, False


def _plus(one: Decimal | None, two: Decimal | None) -> Decimal | None:
    return one if two is None else two if one is None else one + two


def trade_figures_add(one: TradeFigures, two: TradeFigures) -> TradeFigures:
    """The figures of two disjoint sets of fills together (a roll-up's and an exact query's)."""
    currency, mixed = _merged((one.currency, one.mixed_currencies), (two.currency, two.mixed_currencies))
    fee_currency, mixed_fees = _merged(
        (one.fee_currency, one.mixed_fee_currencies), (two.fee_currency, two.mixed_fee_currencies)
    )
    return TradeFigures(
        count=one.count + two.count, buys=one.buys + two.buys, sells=one.sells + two.sells,
        volume=_plus(one.volume, two.volume), fees=None if mixed_fees else _plus(one.fees, two.fees),
        currency=currency, fee_currency=fee_currency, mixed_currencies=mixed, mixed_fee_currencies=mixed_fees,
    )  # fmt: skip


def experience_symbols() -> list[str]:
    """Every symbol an experience has, from the roll-up."""
    rollup = ExperienceDayRollup.objects.filter(rows__gt=0).exclude(symbol=None)
    return list(rollup.order_by("symbol").values_list("symbol", flat=True).distinct())


def experience_tags(*, limit: int) -> list[str]:
    """The first `limit` tags in alphabetical order, from the tags' roll-up."""
    rollup = ExperienceTagDayRollup.objects.filter(rows__gt=0).exclude(tag=None)
    return list(rollup.order_by("tag").values_list("tag", flat=True).distinct()[:limit])
