"""System events in the admin: read-only, filtered by type and severity."""

from django.contrib import admin

from apps.common.admin import LargeTableAdmin, ReadOnlyAdmin, pretty_json

from .models import SystemEvent


@admin.register(SystemEvent)
class SystemEventAdmin(ReadOnlyAdmin, LargeTableAdmin):
    list_display = ["datetime", "severity", "event_type", "message", "related_symbol", "related_order_id"]
    list_filter = ["severity"]
    search_fields = ["id", "related_order_id", "related_symbol", "event_type"]
    exact_search_fields = ("id", "related_order_id", "related_symbol", "event_type")
    search_help_text = "Exact event id, order id, symbol or event type."
    date_hierarchy = "datetime"
    ordering = ["-datetime"]
    exclude = ["data"]
    readonly_fields = ["data_pretty"]

    @admin.display(description="data")
    def data_pretty(self, obj: SystemEvent) -> str:
        return pretty_json(obj.data)
