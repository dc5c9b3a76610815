"""Admin pages that compose the records of several apps, so they sit on the back-office floor.

- Decisions: a read-only audit of what the agent saw, thought and chose, and what followed (the orders it
  produced, the experiences that came from it): the decisions app sits below execution and memory.
- Exchanges: the account's page with its last reconciliation and its open drift (reconciliation sits above
  the exchanges app, which keeps the page itself).
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.common.admin import LargeTableAdmin, ReadOnlyAdmin, change_url, export_as_csv_action, pretty_json
from apps.decisions.models import Decision
from apps.exchanges.admin import ExchangeAdmin
from apps.exchanges.models import Exchange
from apps.execution.models import Order
from apps.memory.admin import decision_recalls_html
from apps.reconciliation.models import Discrepancy, DiscrepancyState, ReconciliationRun

DECISION_CSV_FIELDS = [
    "id", "decision_layer", "decision", "action_taken", "thought_process", "tools_used", "model_used",
    "tokens_used", "input_tokens", "output_tokens", "inference_cost", "inference_cost_note", "latency_ms",
    "timestamp", "datetime",
]  # fmt: skip


COST_FIELDS = [
    "model_used", "tokens_used", "input_tokens", "output_tokens", "inference_cost", "inference_cost_note",
    "latency_ms",
]  # fmt: skip


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin, LargeTableAdmin):
    list_display = [
        "id",
        "decision_layer",
        "decision_preview",
        "model_used",
        "tokens_used",
        "inference_cost",
        "latency_ms",
        "datetime",
    ]
    list_filter = ["decision_layer"]
    search_fields = ["id"]
    exact_search_fields = ("id",)
    search_help_text = "Exact decision id."
    date_hierarchy = "datetime"
    ordering = ["-datetime"]
    actions = [export_as_csv_action(DECISION_CSV_FIELDS, filename="decisions")]
    fieldsets = [
        (None, {"fields": ["id", "decision_layer", "datetime", "timestamp"]}),
        ("What it saw", {"fields": ["input_context_pretty"]}),
        ("What it recalled from long-term memory", {"fields": ["recall_panel"]}),
        ("What it thought", {"fields": ["thought_process", "tools_used"]}),
        ("What it chose", {"fields": ["decision", "action_taken"]}),
        ("What it cost", {"fields": COST_FIELDS}),
        ("What followed", {"fields": ["order_links", "experience_links"]}),
    ]
    readonly_fields = ["input_context_pretty", "recall_panel", "order_links", "experience_links"]

    @admin.display(description="decision")
    def decision_preview(self, obj: Decision) -> str:
        # The seed's "recent decisions" query shows LEFT(decision, 100).
        return obj.decision[:100]

    @admin.display(description="input context")
    def input_context_pretty(self, obj: Decision) -> str:
        return pretty_json(obj.input_context)

    @admin.display(description="memories it recalled")
    def recall_panel(self, obj: Decision) -> str:
        return decision_recalls_html(obj)

    @admin.display(description="orders it produced")
    def order_links(self, obj: Decision) -> str:
        orders = Order.objects.filter(decision_id=obj.pk).order_by("datetime")
        rows = orders.values_list("id", "side", "amount", "symbol", "status")[:200]
        if not rows:
            return "—"
        return format_html_join(
            "",
            '<div><a href="{}">{}</a>: {} {} {} ({})</div>',
            ((change_url("execution_order", r[0]), *r) for r in rows),
        )

    @admin.display(description="experiences that came from it")
    def experience_links(self, obj: Decision) -> str:
        rows = obj.experiences.order_by("datetime").values_list("id", "outcome", "pnl")[:200]
        if not rows:
            return "—"
        return format_html_join(
            "",
            '<div><a href="{}">{}</a>: {} (PnL {})</div>',
            ((change_url("memory_experience", r[0]), *r) for r in rows),
        )


admin.site.unregister(Exchange)


@admin.register(Exchange)
class ExchangeWithReconciliationAdmin(ExchangeAdmin):
    """The exchange's page, with its last reconciliation run and its open drift."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(("Reconciliation", {"fields": ["reconciliation"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "reconciliation"]

    @admin.display(description="last run and open drift")
    def reconciliation(self, obj: Exchange) -> str:
        run = ReconciliationRun.objects.filter(exchange=obj).order_by("-started_at", "-id").first()
        open_count = Discrepancy.objects.filter(exchange=obj, state=DiscrepancyState.OPEN).count()
        drift = format_html(
            '<a href="{}?state__exact=open&amp;exchange__id__exact={}">{} open discrepancies</a>',
            reverse("admin:reconciliation_discrepancy_changelist"),
            obj.pk,
            open_count,
        )
        if run is None:
            return format_html(
                "Never reconciled (manage.py reconcile_exchanges --exchange {}). {}", obj.name, drift
            )
        return format_html(
            '<a href="{}">Run {}</a>: {}, {} UTC. {}{}',
            reverse("admin:reconciliation_reconciliationrun_change", args=[run.pk]),
            run.pk,
            run.status,
            f"{run.started_at:%Y-%m-%d %H:%M}",
            drift,
            format_html("<br>{}", run.reason) if run.reason else "",
        )


from . import operator_admin  # noqa: E402, F401  (the operators' audited writes take their places)
