"""The calendar's colour: green for a gain, red for a loss, deeper for larger days."""

from decimal import Decimal

from django import template

from apps.common import formatting

register = template.Library()


@register.simple_tag
def heat(pnl, scale) -> str:
    if pnl is None or not scale:
        return "background: var(--darkened-bg, #f4f4f4);"
    strength = min(Decimal(1), abs(Decimal(pnl)) / Decimal(scale))
    alpha = (Decimal("0.15") + strength * Decimal("0.75")).quantize(Decimal("0.01"))
    colour = "26, 127, 55" if pnl > 0 else "198, 40, 40" if pnl < 0 else "120, 120, 120"
    return f"background: rgba({colour}, {alpha});"


@register.filter
def money_plain(value):
    return formatting.plain_money(value)
