"""Reconciliation in the admin: the review queue of discrepancies, and the runs that found them.

Operators adopt (the exchange's version is recorded through the services the API uses) or dismiss with a
reason, one at a time or in bulk; auditors read. Nothing here edits a discrepancy or a run directly.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from apps.common.admin import ReadOnlyAdmin, pretty_json

from .models import Discrepancy, ReconciliationRun
from .services.adopt import discrepancies_adopt, discrepancies_dismiss


class DiscrepancyActionForm(ActionForm):
    reason = forms.CharField(
        required=False,
        label="Reason",
        help_text="Why the difference is dismissed (required to dismiss; kept with it).",
        widget=forms.TextInput(attrs={"size": 60}),
    )


@admin.register(Discrepancy)
class DiscrepancyAdmin(admin.ModelAdmin):
    action_form = DiscrepancyActionForm
    actions = ["adopt", "dismiss"]
    list_display = ["id", "exchange", "kind", "subject", "symbol", "state", "what_differs", "created_at"]
    list_filter = ["state", "kind", "exchange"]
    list_select_related = ["exchange"]
    search_fields = ["subject", "symbol"]
    search_help_text = "Order id, trade id, asset or symbol."
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    fieldsets = [
        (None, {"fields": ["exchange", "kind", "subject", "symbol", "state"]}),
        ("Side by side", {"fields": ["side_by_side"]}),
        ("What was done", {"fields": ["note", "acted_by", "acted_at"]}),
        ("Found", {"fields": ["run", "last_seen_run", "created_at"]}),
    ]
    readonly_fields = [
        "exchange", "kind", "subject", "symbol", "state", "side_by_side", "note", "acted_by", "acted_at",
        "run", "last_seen_run", "created_at",
    ]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="differs")
    def what_differs(self, obj: Discrepancy) -> str:
        if not obj.differences:
            return "—"
        return format_html_join(
            ", ", "{}: {} → {}", ((name, pair[0], pair[1]) for name, pair in obj.differences.items())
        )

    @admin.display(description="the record | the exchange")
    def side_by_side(self, obj: Discrepancy) -> str:
        return format_html(
            '<div style="display:flex;gap:2em"><div><h4>The record</h4>{}</div>'
            "<div><h4>The exchange</h4>{}</div></div>",
            pretty_json(obj.record_version),
            pretty_json(obj.exchange_version),
        )

    @admin.action(description="Adopt the exchange's version", permissions=["change"])
    def adopt(self, request, queryset):
        adopted, refused = discrepancies_adopt(
            discrepancies=queryset.select_related("exchange"), actor=request.user.get_username()
        )
        if adopted:
            self.message_user(request, f"{adopted} adopted: the record now holds the exchange's version.")
        for pk, reason in sorted(refused.items()):
            self.message_user(request, f"Discrepancy {pk} not adopted: {reason}", level=messages.WARNING)

    @admin.action(description="Dismiss with the reason given", permissions=["change"])
    def dismiss(self, request, queryset):
        try:
            count = discrepancies_dismiss(
                discrepancies=queryset,
                reason=request.POST.get("reason", ""),
                actor=request.user.get_username(),
            )
        except ValidationError as error:
            self.message_user(
                request, " ".join(error.messages) + " Nothing was dismissed.", level=messages.ERROR
            )
            return
        self.message_user(request, f"{count} dismissed.")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("exchange", "run", "last_seen_run")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "exchange",
        "status",
        "trigger",
        "triggered_by",
        "started_at",
        "finished_at",
        "found",
    ]
    list_filter = ["status", "exchange", "trigger"]
    list_select_related = ["exchange"]
    search_fields = ["exchange__name", "triggered_by"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    readonly_fields = [
        "exchange", "status", "reason", "trigger", "triggered_by", "dry_run", "since", "started_at",
        "finished_at", "counts_pretty", "watermarks_pretty", "balances_pretty",
    ]  # fmt: skip
    exclude = ["counts", "watermarks", "balances"]

    @admin.display(description="new discrepancies")
    def found(self, obj: ReconciliationRun) -> int:
        return (obj.counts or {}).get("new", 0)

    @admin.display(description="counts")
    def counts_pretty(self, obj: ReconciliationRun) -> str:
        return pretty_json(obj.counts)

    @admin.display(description="watermarks")
    def watermarks_pretty(self, obj: ReconciliationRun) -> str:
        return pretty_json(obj.watermarks)

    @admin.display(description="balances read")
    def balances_pretty(self, obj: ReconciliationRun) -> str:
        return pretty_json(obj.balances)
