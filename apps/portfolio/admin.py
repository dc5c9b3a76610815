"""Portfolio snapshots in the admin: computed records, read-only."""

from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin, pretty_json

from .models import PortfolioSnapshot


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "snapshot_date", "exchange", "total_value", "cash", "positions_value", "daily_pnl", "total_pnl",
        "total_return",
    ]  # fmt: skip
    list_filter = ["exchange"]
    list_select_related = ["exchange"]
    search_fields = ["exchange__name"]
    date_hierarchy = "snapshot_date"
    ordering = ["-snapshot_date"]
    exclude = ["positions"]
    readonly_fields = ["positions_pretty"]

    @admin.display(description="positions")
    def positions_pretty(self, obj: PortfolioSnapshot) -> str:
        return pretty_json(obj.positions)
