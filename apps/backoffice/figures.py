"""Figures above a changelist for what its filters select (apps/journal/selectors/figures.py): one
aggregate query over the filtered rows, shown as money in its currency, percentages with %."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.template.loader import select_template

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


def experience_strip(queryset) -> FigureStrip:
    strip = results_strip(selectors.experience_figures(queryset), noun="experiences")
    strip.note = (strip.note + " Wins and losses by outcome; win rate = wins / (wins + losses).").strip()
    return strip


def position_strip(queryset) -> FigureStrip:
    strip = results_strip(selectors.position_figures(queryset), noun="positions", fee_label="fees")
    strip.note = (strip.note + " Realized PnL, net of fees; open positions have none yet.").strip()
    return strip


def trade_strip(queryset) -> FigureStrip:
    figures = selectors.trade_figures(queryset)
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


def decision_strip(queryset) -> FigureStrip:
    figures = selectors.decision_figures(queryset)
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


class FiguresChangeListMixin:
    """Adds the figures of the filtered rows above the changelist (`figures_of(queryset)`)."""

    figures_of = None  # staticmethod: the changelist's filtered queryset -> FigureStrip
    change_list_template = "admin/backoffice/change_list_figures.html"
    figures_enabled = True  # off only to measure the page without them (bench/changelist_figures.py)

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
            context["figures"] = self.figures_of(context["cl"].queryset)
        return response
