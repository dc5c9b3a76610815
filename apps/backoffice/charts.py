"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, readable offline.

Coordinates are floats (pixels); the values shown in labels and tooltips stay Decimal strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
HEIGHT = 220
PAD_LEFT = 70
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28


def _scale(values: Sequence[Decimal]) -> tuple[float, float]:
    low = float(min(values))
    high = float(max(values))
    if high == low:
        high, low = high + 1, low - 1
    return low, high


def _frame(body: str, *, title: str, low: float, high: float, first: date, last: date) -> SafeString:
    plot_bottom = HEIGHT - PAD_BOTTOM
    return mark_safe(  # noqa: S308 - every text piece below is escaped; the rest are numbers
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{plot_bottom}" stroke="#999"/>'
        f'<line x1="{PAD_LEFT}" y1="{plot_bottom}" x2="{WIDTH - PAD_RIGHT}" y2="{plot_bottom}" '
        'stroke="#999"/>'
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 10}" text-anchor="end" font-size="11">{high:,.2f}</text>'
        f'<text x="{PAD_LEFT - 6}" y="{plot_bottom}" text-anchor="end" font-size="11">{low:,.2f}</text>'
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 8}" font-size="11">{escape(first.isoformat())}</text>'
        f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 8}" text-anchor="end" font-size="11">'
        f"{escape(last.isoformat())}</text>"
        f"{body}</svg>"
    )


def _x(index: int, count: int) -> float:
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    return PAD_LEFT + (span * index / (count - 1) if count > 1 else span / 2)


def _y(value: Decimal, low: float, high: float) -> float:
    span = HEIGHT - PAD_TOP - PAD_BOTTOM
    return PAD_TOP + span * (1 - (float(value) - low) / (high - low))


def line_chart(
    points: Sequence[tuple[date, Decimal]], *, title: str, color: str = "#2c7be5", fill_to_zero: bool = False
) -> SafeString:
    """A line over time; `fill_to_zero` shades the area between the line and zero (drawdown)."""
    if not points:
        return mark_safe(f'<p class="chart-empty">{escape(title)}: no data yet.</p>')  # noqa: S308
    values = [v for _, v in points] + ([Decimal("0")] if fill_to_zero else [])
    low, high = _scale(values)
    coords = [(_x(i, len(points)), _y(v, low, high)) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    body = ""
    if fill_to_zero:
        zero = _y(Decimal("0"), low, high)
        body += (
            f'<polygon points="{coords[0][0]:.1f},{zero:.1f} {path} {coords[-1][0]:.1f},{zero:.1f}" '
            f'fill="{color}" fill-opacity="0.25" stroke="none"/>'
        )
    body += f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
    last_day, last_value = points[-1]
    body += (
        f'<circle cx="{coords[-1][0]:.1f}" cy="{coords[-1][1]:.1f}" r="3" fill="{color}">'
        f"<title>{escape(last_day.isoformat())}: {escape(str(last_value))}</title></circle>"
    )
    return _frame(body, title=title, low=low, high=high, first=points[0][0], last=last_day)


def bar_chart(points: Sequence[tuple[date, Decimal]], *, title: str) -> SafeString:
    """Bars around zero: gains green, losses red, one tooltip per bar."""
    if not points:
        return mark_safe(f'<p class="chart-empty">{escape(title)}: no data yet.</p>')  # noqa: S308
    low, high = _scale([v for _, v in points] + [Decimal("0")])
    zero = _y(Decimal("0"), low, high)
    slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / len(points)
    width = max(1.0, slot * 0.7)
    bars = []
    for index, (day, value) in enumerate(points):
        top = _y(value, low, high)
        x = PAD_LEFT + slot * index + (slot - width) / 2
        color = "#2e9d5b" if value >= 0 else "#d64545"
        bars.append(
            f'<rect x="{x:.1f}" y="{min(top, zero):.1f}" width="{width:.1f}" height="{abs(zero - top):.1f}" '
            f'fill="{color}"><title>{escape(day.isoformat())}: {escape(str(value))}</title></rect>'
        )
    body = f'<line x1="{PAD_LEFT}" y1="{zero:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{zero:.1f}" stroke="#666"/>'
    return _frame(
        body + "".join(bars), title=title, low=low, high=high, first=points[0][0], last=points[-1][0]
    )
