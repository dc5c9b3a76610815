"""Strategies in the admin: versions, activation, and their performance metrics inline."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from apps.common.admin import ReadOnlyAdmin, pretty_json

from .models import PerformanceMetrics, Strategy
from .services.activation import strategy_activate, strategy_deactivate


class PerformanceMetricsInline(admin.TabularInline):
    model = PerformanceMetrics
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        "start_date", "end_date", "total_return", "annualized_return", "volatility", "max_drawdown",
        "sharpe_ratio", "sortino_ratio", "calmar_ratio", "total_trades", "win_rate", "profit_factor",
    ]  # fmt: skip
    readonly_fields = fields
    ordering = ["-end_date"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "version",
        "is_active",
        "total_trades",
        "win_rate",
        "total_return",
        "activated_at",
    ]
    list_filter = ["is_active", "name"]
    search_fields = ["name", "version", "description"]
    date_hierarchy = "created_at"
    ordering = ["name", "-created_at"]
    readonly_fields = [
        "is_active",
        "activated_at",
        "deactivated_at",
        "total_trades",
        "win_rate",
        "total_return",
        "tearsheet_link",
    ]
    fields = [
        "name", "version", "description", "config", "reason_for_update", "is_active", "activated_at",
        "deactivated_at", "total_trades", "win_rate", "total_return", "tearsheet_link",
    ]  # fmt: skip
    inlines = [PerformanceMetricsInline]
    actions = ["activate", "deactivate"]

    def get_fields(self, request, obj=None):
        if obj is None:
            # A new version has no state yet: its database defaults (is_active, total_trades) are not
            # values the add page can display, and activation is the "Activate" action's job.
            return ["name", "version", "description", "config", "reason_for_update"]
        return super().get_fields(request, obj)

    @admin.display(description="tearsheet")
    def tearsheet_link(self, obj: Strategy) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}">The tearsheet of this version</a> (equity against buy-and-hold BTC, drawdowns, '
            "monthly returns, risk figures, PnL net of inference cost; downloadable as one HTML file)",
            reverse("admin:tearsheet", args=[obj.pk]),
        )

    @admin.action(
        description="Activate the selected version (deactivates the other versions)", permissions=["change"]
    )
    def activate(self, request, queryset):
        chosen = list(queryset)
        if len({s.name for s in chosen}) != len(chosen):
            self.message_user(request, "Select at most one version per strategy name.", messages.ERROR)
            return
        for strategy in chosen:
            try:
                self.activate_version(request, strategy)
            except ValidationError as exc:
                self.message_user(request, f"{strategy}: {'; '.join(exc.messages)}", messages.ERROR)
                return
        self.message_user(request, f"Activated {len(chosen)} strategy version(s).", messages.SUCCESS)

    def activate_version(self, request, strategy: Strategy) -> tuple[Strategy, list[Strategy]]:
        """One version made live: it, and the versions it replaced (what an audit trail names)."""
        replaced: list[Strategy] = []
        return strategy_activate(strategy=strategy, deactivated=replaced), replaced

    @admin.action(description="Deactivate the selected versions", permissions=["change"])
    def deactivate(self, request, queryset):
        for strategy in queryset:
            strategy_deactivate(strategy=strategy)
        self.message_user(request, f"Deactivated {queryset.count()} strategy version(s).", messages.SUCCESS)


@admin.register(PerformanceMetrics)
class PerformanceMetricsAdmin(ReadOnlyAdmin):
    list_display = [
        "strategy", "start_date", "end_date", "total_return", "sharpe_ratio", "max_drawdown", "win_rate",
        "total_trades",
    ]  # fmt: skip
    list_filter = ["strategy"]
    list_select_related = ["strategy"]
    search_fields = ["strategy__name"]
    autocomplete_fields = ["strategy"]
    date_hierarchy = "end_date"
    ordering = ["-end_date"]
    exclude = ["daily_returns"]
    readonly_fields = ["daily_returns_pretty"]

    @admin.display(description="daily returns")
    def daily_returns_pretty(self, obj: PerformanceMetrics) -> str:
        return pretty_json(obj.daily_returns)
