"""The dashboard: how is the agent doing, at a glance."""

from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse

from . import charts, selectors


def dashboard(request):
    curve = selectors.equity_curve(days=365)
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "equity_chart": charts.line_chart(
            [(p.day, p.total_value) for p in curve], title="Equity (total value)"
        ),
        "drawdown_chart": charts.line_chart(
            [(p.day, p.drawdown) for p in curve],
            title="Drawdown from peak (%)",
            color="#d64545",
            fill_to_zero=True,
        ),
        "pnl_chart": charts.bar_chart(
            [(p.day, p.daily_pnl) for p in curve[-90:]], title="Daily PnL (last 90 days)"
        ),
        "latest": curve[-1] if curve else None,
        "max_drawdown": min((p.drawdown for p in curve), default=None),
        "performance": selectors.performance_summary(curve),
        "positions": selectors.open_positions(),
        "today": selectors.today_trade_stats(),
        "decisions": selectors.recent_decisions(),
        "events": selectors.events_by_severity(hours=24),
        "drift": selectors.reconciliation_drift(),
        "equity_data": selectors.account_chart(curve),
        "inference": selectors.inference_summary(curve, days=30),
        "currency": settings.REPORTING_CURRENCY,
    }
    return TemplateResponse(request, "admin/backoffice/dashboard.html", context)
