"""The tearsheet page of a strategy version, and the same tearsheet as one self-contained HTML file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.contrib import admin
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import slugify

from apps.strategies.models import Strategy
from apps.strategies.services.tearsheet import Tearsheet, tearsheet_build

# The files a downloaded tearsheet carries inside itself (no network, no server needed to open it).
INLINE_STYLES = ("vendor/uplot/uPlot.min.css", "backoffice/tearsheet.css")
INLINE_SCRIPTS = ("vendor/uplot/uPlot.iife.min.js", "backoffice/charts.js")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _date(value: str | None, *, name: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: f"{value!r} is not a date; write YYYY-MM-DD."}) from None


def _seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def chart_data(sheet: Tearsheet) -> dict:
    """What the charts draw: plain numbers (floats for drawing; the tables show the exact figures)."""
    return {
        "currency": sheet.reporting_currency,
        "benchmark": sheet.benchmark_symbol,
        "x": [_seconds(d) for d in sheet.days],
        "equity": [float(v) for v in sheet.equity],
        "index": sheet.index,
        "benchmark_index": sheet.benchmark,
        "drawdown": [d * 100 for d in sheet.drawdown],
        "rolling_sharpe": [None, *sheet.rolling_sharpe] if sheet.days else [],
        "rolling_volatility": [None if v is None else v * 100 for v in [None, *sheet.rolling_volatility]]
        if sheet.days
        else [],
        "histogram": [[low * 100, high * 100, count] for low, high, count in sheet.histogram],
        "pnl_x": [_seconds(row["day"]) for row in sheet.pnl_by_day],
        "pnl": [float(row["pnl"]) for row in sheet.pnl_by_day],
        "net": [float(row["net"]) for row in sheet.pnl_by_day],
    }


def _monthly_rows(sheet: Tearsheet) -> list[dict]:
    rows = []
    for year in sorted(sheet.monthly):
        months = sheet.monthly[year]
        rows.append({"year": year, "cells": [months.get(m) for m in range(1, 13)], "total": months.get(13)})
    return rows


def _context(sheet: Tearsheet) -> dict:
    return {
        "sheet": sheet,
        "figures": sheet.figures,
        "months": MONTHS,
        "monthly_rows": _monthly_rows(sheet),
        "chart_data": chart_data(sheet),
        "generated": timezone.now(),
    }


def _inline(paths: tuple[str, ...]) -> list[str]:
    texts = []
    for path in paths:
        found = finders.find(path)
        with open(found, encoding="utf-8") as handle:
            texts.append(handle.read().replace("</script", "<\\/script"))
    return texts


def tearsheet_view(request, strategy_id: int):
    if not request.user.has_perm("strategies.view_strategy"):
        raise PermissionDenied
    strategy = get_object_or_404(Strategy, pk=strategy_id)
    today = timezone.now().astimezone(UTC).date()
    default_start = (
        strategy.activated_at.astimezone(UTC).date() if strategy.activated_at else today - timedelta(days=365)
    )
    errors: dict[str, list[str]] = {}
    try:
        start = _date(request.GET.get("start"), name="start", default=default_start)
        end = _date(request.GET.get("end"), name="end", default=today)
        sheet = tearsheet_build(strategy=strategy, start=start, end=end)
    except ValidationError as exc:
        errors = exc.message_dict
        sheet = None
    context = {**(_context(sheet) if sheet else {}), "strategy": strategy, "errors": errors,
               "start": request.GET.get("start") or default_start.isoformat(),
               "end": request.GET.get("end") or today.isoformat()}  # fmt: skip
    if sheet is not None and request.GET.get("download"):
        html = render_to_string(
            "admin/backoffice/tearsheet_file.html",
            {**context, "styles": _inline(INLINE_STYLES), "scripts": _inline(INLINE_SCRIPTS)},
        )
        name = (
            f"tearsheet-{slugify(strategy.name)}-{slugify(strategy.version)}-{sheet.start}-{sheet.end}.html"
        )
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        # The file opens from disk: its inline styles and scripts are its own, so it needs no policy here.
        return response
    context.update(admin.site.each_context(request))
    context["title"] = f"Tearsheet: {strategy.name} {strategy.version}"
    return TemplateResponse(
        request, "admin/backoffice/tearsheet.html", context, status=400 if errors else 200
    )

