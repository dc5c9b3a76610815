"""Figures as a trader reads them: percentages with %, ratios to 2 places, money to 2 places, a sign class."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()
DASH = "—"


@register.filter
def pct(value, places: int = 2) -> str:
    """A fraction as a percentage: 0.1234 -> 12.34%."""
    if value is None:
        return DASH
    return f"{float(value) * 100:,.{int(places)}f}%"


@register.filter
def ratio(value, places: int = 2) -> str:
    return DASH if value is None else f"{float(value):,.{int(places)}f}"


@register.filter
def money(value, currency: str = "") -> str:
    if value is None:
        return DASH
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}".strip()


@register.filter
def sign(value) -> str:
    """The CSS class of a figure's sign: gain, loss or nothing."""
    if value is None:
        return ""
    number = float(value)
    return "gain" if number > 0 else "loss" if number < 0 else ""


@register.filter
def heat(value) -> str:
    """A monthly return's cell background: green or red, as strong as the return (capped at 10%)."""
    if value is None:
        return ""
    strength = min(abs(float(value)) / 0.10, 1.0) * 0.55 + 0.05
    colour = "46,157,91" if value >= 0 else "214,69,69"
    return f"background-color: rgba({colour},{strength:.2f})"
