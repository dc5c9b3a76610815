"""The dashboard's server-side SVG charts: escaped text, empty data, scaling, bar colours."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.backoffice import charts

DAY = date(2026, 3, 1)


def series(*values: str) -> list[tuple[date, Decimal]]:
    return [(DAY + timedelta(days=n), Decimal(v)) for n, v in enumerate(values)]


def polyline_points(svg: str) -> list[tuple[float, float]]:
    points = re.search(r'<polyline points="([^"]+)"', svg).group(1)
    return [tuple(float(c) for c in pair.split(",")) for pair in points.split()]


def test_line_chart_draws_one_point_per_day_higher_values_higher_up():
    svg = charts.line_chart(series("100", "120", "90"), title="Equity")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    points = polyline_points(svg)
    assert len(points) == 3
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert xs == sorted(xs)
    assert ys[1] < ys[0] < ys[2]  # SVG y grows downwards
    for x, y in points:
        assert charts.PAD_LEFT <= x <= charts.WIDTH - charts.PAD_RIGHT
        assert charts.PAD_TOP <= y <= charts.HEIGHT - charts.PAD_BOTTOM
    # The axis labels: the range and the first and last day; the last value in a tooltip.
    assert "120.00" in svg and "90.00" in svg
    assert "2026-03-01" in svg and "2026-03-03" in svg
    assert "<title>2026-03-03: 90</title>" in svg


def test_a_single_point_or_a_flat_line_still_draws():
    for points in (series("5000"), series("5000", "5000", "5000")):
        svg = charts.line_chart(points, title="Flat")
        assert len(polyline_points(svg)) == len(points)
        assert "nan" not in svg.lower() and "inf" not in svg.lower()


def test_drawdown_shades_down_to_zero():
    svg = charts.line_chart(series("0", "-5.5", "-2"), title="Drawdown", fill_to_zero=True, color="#d64545")
    assert '<polygon points="' in svg and 'fill="#d64545"' in svg
    assert "0.00" in svg  # zero is within the scale


def test_titles_and_labels_are_escaped():
    title = 'Equity <script>alert("x")</script> & co'
    for svg in (
        charts.line_chart(series("1", "2"), title=title),
        charts.bar_chart(series("1", "-2"), title=title),
        charts.line_chart([], title=title),
        charts.bar_chart([], title=title),
    ):
        assert "<script>" not in svg
        assert "&lt;script&gt;" in svg and "&amp; co" in svg


def test_empty_data_says_so_instead_of_an_empty_frame():
    assert charts.line_chart([], title="Equity (total value)") == (
        '<p class="chart-empty">Equity (total value): no data yet.</p>'
    )
    assert "no data yet" in charts.bar_chart([], title="Daily PnL")
    assert "<svg" not in charts.bar_chart([], title="Daily PnL")


def test_bars_are_green_for_gains_and_red_for_losses():
    svg = charts.bar_chart(series("12.5", "-7.25", "0", "3"), title="Daily PnL")
    fills = re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"', svg)
    assert fills == ["#2e9d5b", "#d64545", "#2e9d5b", "#2e9d5b"]
    assert "<title>2026-03-02: -7.25</title>" in svg
    # A loss hangs below the zero line, a gain stands on it.
    zero = float(re.search(r'<line x1="\d+" y1="([\d.]+)" x2="\d+" y2="[\d.]+" stroke="#666"', svg).group(1))
    rects = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
    (gain_y, gain_h), (loss_y, loss_h) = [(float(y), float(h)) for y, h in rects[:2]]
    assert gain_y + gain_h == pytest.approx(zero, abs=0.11)
    assert loss_y == pytest.approx(zero, abs=0.11) and loss_h > 0
