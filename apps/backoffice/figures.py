"""Figures above a changelist for what its filters select (apps/journal/selectors/figures.py), shown as
money in its currency, percentages with %.

When every filter of the page is a column of the table's daily roll-up (apps/journal/rollups.py: the
day, the symbol, the outcome, the side, ...), the figures are summed from the roll-up (a RollupRoute says
which parameters map to which roll-up column); otherwise one aggregate query over the filtered rows
answers. Both give the same figures, to the last digit (tests/journal/test_rollups.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.admin.utils import prepare_lookup_value
from django.db.models import Q
from django.template.loader import select_template
from django.utils import timezone

from apps.common.formatting import DASH, money, percent, plain_money
from apps.journal.selectors import figures as selectors


@dataclass
class FigureStrip:
    title: str
    items: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


def _money_in(value, currency, mixed: bool):
    if mixed and value is not None:
        return f"{plain_money(value, signed=False)} (several currencies)"
    return money(value, currency)


def _count(value) -> str:
    return DASH if value is None else f"{value:,}"


def results_strip(
    figures: selectors.ResultFigures, *, noun: str, fee_label: str | None = None
) -> FigureStrip:
    cur, mixed = figures.currency, figures.mixed_currencies
    strip = FigureStrip(title=f"{figures.count:,} {noun} filtered")
    strip.items = [
        ("wins", _count(figures.wins)),
        ("losses", _count(figures.losses)),
        ("win rate", percent(figures.win_rate, signed=False)),
        ("total PnL", _money_in(figures.total_pnl, cur, mixed)),
        ("average PnL", _money_in(figures.average_pnl, cur, mixed)),
        (
            "profit factor",
            plain_money(figures.profit_factor, signed=False)
            if figures.profit_factor is not None
            else ("no loss" if figures.gross_profit else DASH),
        ),
    ]
    if fee_label:
        strip.items.append((fee_label, _money_in(figures.fees, cur, mixed)))
    if figures.with_result < figures.count:
        strip.note = (
            f"{figures.count - figures.with_result:,} of them without a PnL, left out of the PnL figures."
        )
    if mixed:
        strip.note += " The rows are in several quote currencies: filter by symbol for sums in one."
    return strip


def experience_strip(figures: selectors.ResultFigures) -> FigureStrip:
    strip = results_strip(figures, noun="experiences")
    strip.note = (strip.note + " Wins and losses by outcome; win rate = wins / (wins + losses).").strip()
    return strip


def position_strip(figures: selectors.ResultFigures) -> FigureStrip:
    strip = results_strip(figures, noun="positions", fee_label="fees")
    strip.note = (strip.note + " Realized PnL, net of fees; open positions have none yet.").strip()
    return strip


def trade_strip(figures: selectors.TradeFigures) -> FigureStrip:
    fees = (
        f"{plain_money(figures.fees, signed=False, places=4)} {figures.fee_currency or ''}".strip()
        if figures.fees is not None
        else ("several currencies" if figures.mixed_fee_currencies else DASH)
    )
    return FigureStrip(
        title=f"{figures.count:,} trades filtered",
        items=[
            ("buys", _count(figures.buys)),
            ("sells", _count(figures.sells)),
            (
                "volume",
                f"{plain_money(figures.volume, signed=False)} (several currencies)"
                if figures.mixed_currencies
                else money(figures.volume, figures.currency, signed=False),
            ),
            ("fees", fees),
        ],
        note="A fill has no result of its own: wins, losses and PnL are on the positions page.",
    )


def decision_strip(figures: selectors.DecisionFigures) -> FigureStrip:
    return FigureStrip(
        title=f"{figures.count:,} decisions filtered",
        items=[
            ("strategic", _count(figures.strategic)),
            ("tactical", _count(figures.tactical)),
            ("tokens", _count(figures.tokens)),
            ("input tokens", _count(figures.input_tokens)),
            ("output tokens", _count(figures.output_tokens)),
            ("inference cost", money(figures.cost, None, signed=False)),
            ("average cost", plain_money(figures.average_cost, signed=False, places=4)),
            (
                "average latency",
                DASH if figures.average_latency_ms is None else f"{figures.average_latency_ms} ms",
            ),
        ],
        note="Cost in the model prices' currency"
        + (
            f"; {figures.count - figures.priced:,} decision(s) without a cost."
            if figures.priced < figures.count
            else "."
        ),
    )


DATE_PARTS = ("year", "month", "day")


@dataclass(frozen=True)
class RollupRoute:
    """Which changelist parameters a roll-up answers, and how.

    - `fields`: a field filter's parameter -> the roll-up lookup (every value, OR-ed, as the admin does).
    - `choices`: a SimpleListFilter's parameter -> the roll-up field it selects (its last value, as
      SimpleListFilter.value() reads it).
    - `keywords`: a SimpleListFilter's parameter -> the keyword `figures` takes it as (the experiences'
      tag, which picks the tag roll-up).
    - `date_field`: the changelist's date hierarchy, answered by the roll-up's UTC day.
    - `search`: None when a search term needs the exact figures; "admin" when the admin's own search
      works on the roll-up `model` (its search fields are roll-up columns); "exact_symbol" for
      LargeTableAdmin's exact search, whose symbol part the roll-up answers and whose other fields (ids)
      an exact query over the few rows they select.

    Any other parameter sends the page to the exact figures.
    """

    figures: Callable[..., Any]  # (Q over the roll-up, **keywords) -> figures
    model: type | None = None  # the roll-up model, for search="admin"
    fields: dict[str, str] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, str] = field(default_factory=dict)
    date_field: str | None = None
    search: str | None = None
    combine: Callable[[Any, Any], Any] | None = None  # figures + figures (for "exact_symbol")


def _rollup_where(route: RollupRoute, params: dict[str, list[str]]) -> tuple[Q, dict[str, str]] | None:
    where, chosen = Q(), {}
    dates = {f"{route.date_field}__{part}": part for part in DATE_PARTS} if route.date_field else {}
    for key, values in params.items():
        if key in dates:
            # The admin has checked that these make a date (else it answers ?e=1 before this).
            where &= Q(**{f"day__{dates[key]}": int(values[-1])})
        elif key in route.fields:
            lookup = route.fields[key]
            where &= reduce(or_, (Q((lookup, prepare_lookup_value(key, value))) for value in values))
        elif key in route.choices:
            if values and values[-1]:
                where &= Q(**{route.choices[key]: values[-1]})
        elif key in route.keywords:
            if values and values[-1]:
                chosen[route.keywords[key]] = values[-1]
        else:
            return None  # a filter the roll-up has no column for
    return where, chosen


def rollup_figures(model_admin, request, cl) -> Any | None:
    """The page's figures from its roll-up, or None when a filter or the search needs the rows."""
    route: RollupRoute | None = getattr(model_admin, "figures_rollup", None)
    if route is None or timezone.get_current_timezone_name() != "UTC":
        return None  # the roll-ups' days are UTC days, as the changelist's dates when it shows UTC
    found = _rollup_where(route, cl.get_filters_params())
    if found is None:
        return None
    where, chosen = found
    term = cl.query.strip()
    if not term:
        return route.figures(where, **chosen)
    if route.search == "admin":
        # The admin's own search, run on the roll-up (whose columns include every search field).
        searched, _ = model_admin.get_search_results(request, route.model.objects.all(), term)
        return route.figures(where & Q(pk__in=searched.values("pk")), **chosen)
    if route.search == "exact_symbol" and route.combine is not None:
        # LargeTableAdmin's exact search: the roll-up answers the symbol; an exact query the few rows
        # an id field selects whose symbol is not that one.
        values = model_admin.exact_search_values(term)
        if "symbol" not in values:
            return None
        symbol = values.pop("symbol")
        figures = route.figures(where & Q(symbol=symbol), **chosen)
        if values:
            others = reduce(or_, (Q(**{name: value}) for name, value in values.items()))
            figures = route.combine(
                figures, model_admin.figures_of(cl.queryset.filter(others).exclude(symbol=symbol))
            )
        return figures
    return None


class FiguresChangeListMixin:
    """Adds the figures of the filtered rows above the changelist: from the roll-up (`figures_rollup`)
    when the page's filters allow, else `figures_of(queryset)`, shown by `figures_strip(figures)`."""

    figures_of = None  # staticmethod: the changelist's filtered queryset -> figures (one aggregate query)
    figures_strip = None  # staticmethod: figures -> FigureStrip
    figures_rollup: RollupRoute | None = None
    change_list_template = "admin/backoffice/change_list_figures.html"
    figures_enabled = True  # off only to measure the page without them (bench/changelist_figures.py)
    figures_rollups_enabled = True  # off only to measure the exact query beside them (the same bench)

    def changelist_figures(self, request, cl):
        figures = rollup_figures(self, request, cl) if self.figures_rollups_enabled else None
        if figures is None:
            figures = self.figures_of(cl.queryset)
        return self.figures_strip(figures)

    def changelist_view(self, request, extra_context=None):
        opts = self.model._meta
        base = select_template(
            [
                f"admin/{opts.app_label}/{opts.model_name}/change_list.html",
                f"admin/{opts.app_label}/change_list.html",
                "admin/change_list.html",
            ]
        ).template.name
        response = super().changelist_view(request, {**(extra_context or {}), "figures_base": base})
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context and self.figures_of is not None and self.figures_enabled:
            context["figures"] = self.changelist_figures(request, context["cl"])
        return response
