"""Experiences in the admin: the operators' main job — browse, review, annotate.

Every save and bulk action goes through the memory service (experience_annotate), so the
outbox carries each change to long-term memory.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Func, Q
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.common.admin import LargeTableAdmin, ReadOnlyAdmin, change_link, change_url, export_as_csv_action
from apps.execution.models import Order, Trade

from .models import (
    Experience,
    ExperienceLink,
    ImportanceChange,
    ImportanceReason,
    LinkKind,
    MemoryOutbox,
    MemoryRecall,
    MemoryRecallHit,
)
from .services.errors import LongTermMemoryError
from .services.experiences import experience_annotate, experiences_set_importance, experiences_tag
from .services.feedback import decision_result
from .services.lifecycle import playbook
from .services.recall import memory_recall

EXPERIENCE_CSV_FIELDS = [
    "id", "symbol", "outcome", "pnl", "pnl_percentage", "importance_score", "situation", "situation_tags",
    "decision", "decision_reasoning", "reflection", "lessons_learned", "related_orders", "decision_ref_id",
    "timestamp", "datetime",
]  # fmt: skip
SIMILAR_LIMIT = 5
PANEL_LIMIT = 50


def _direction_summary(explanation: dict) -> str:
    direction = explanation.get("direction") or {}
    return ", ".join(f"{dimension} {verdict}" for dimension, verdict in sorted(direction.items())) or "—"


def decision_recalls_html(decision) -> str:
    """What a decision recalled from long-term memory (for its admin page): each kept recall, its hits
    with rank, score and the explanation's direction verdicts."""
    recalls = list(MemoryRecall.objects.filter(decision=decision).order_by("id")[:PANEL_LIMIT])
    if not recalls:
        return "—"
    hits = (
        MemoryRecallHit.objects.filter(recall__in=recalls)
        .select_related("experience")
        .order_by("recall_id", "rank")
    )
    by_recall: dict[int, list[MemoryRecallHit]] = {}
    for hit in hits:
        by_recall.setdefault(hit.recall_id, []).append(hit)
    blocks = []
    for recall in recalls:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    hit.rank,
                    change_link("memory_experience", hit.experience_id),
                    hit.experience.outcome,
                    f"{hit.score:.3f}",
                    _direction_summary(hit.explanation),
                    (hit.experience.situation or "")[:100],
                )
                for hit in by_recall.get(recall.pk, [])
            ),
        )
        blocks.append(
            format_html(
                "<div><strong>{}</strong> — “{}” ({}, hybrid {})</div>"
                "<table><thead><tr><th>rank</th><th>experience</th><th>outcome</th><th>score</th>"
                "<th>direction</th><th>situation</th></tr></thead><tbody>{}</tbody></table>",
                recall.created_at.strftime("%Y-%m-%d %H:%M:%S") if recall.created_at else "",
                recall.query_text[:200] or "(by vector)",
                recall.embedder,
                "on" if recall.hybrid else "off",
                rows or format_html("<tr><td colspan=6>{}</td></tr>", "no hits"),
            )
        )
    return format_html_join("", "{}", ((block,) for block in blocks))


# --- list filters ------------------------------------------------------------------------------


class SuspectFilter(admin.SimpleListFilter):
    """Experiences recalled into decisions that lost (their realized PnL fed back below zero)."""

    title = "recalled into losing decisions"
    parameter_name = "suspect"

    def lookups(self, request, model_admin):
        return [("yes", "Suspects: recalled into a losing decision")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            losses = ImportanceChange.objects.filter(reason=ImportanceReason.REALIZED_PNL, result__lt=0)
            return queryset.filter(pk__in=losses.values("experience_id"))
        return queryset


class SymbolFilter(admin.SimpleListFilter):
    title = "symbol"
    parameter_name = "symbol"

    def lookups(self, request, model_admin):
        symbols = Experience.objects.exclude(symbol=None).order_by("symbol").values_list("symbol", flat=True)
        return [(s, s) for s in symbols.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(symbol=self.value()) if self.value() else queryset


class Unnest(Func):
    function = "unnest"


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        tags = (
            Experience.objects.annotate(tag=Unnest("situation_tags"))
            .order_by("tag")
            .values_list("tag", flat=True)
            .distinct()[:100]
        )
        return [(t, t) for t in tags]

    def queryset(self, request, queryset):
        # situation_tags @> ARRAY[tag]: served by the GIN index idx_experiences_tags.
        return queryset.filter(situation_tags__contains=[self.value()]) if self.value() else queryset


class ImportanceFilter(admin.SimpleListFilter):
    title = "importance"
    parameter_name = "importance"
    RANGES = {
        "high": ("0.80 and above", Q(importance_score__gte=Decimal("0.80"))),
        "medium": (
            "0.50 to 0.79",
            Q(importance_score__gte=Decimal("0.50"), importance_score__lt=Decimal("0.80")),
        ),
        "low": ("below 0.50", Q(importance_score__lt=Decimal("0.50"))),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.RANGES.items()]

    def queryset(self, request, queryset):
        if self.value() in self.RANGES:
            return queryset.filter(self.RANGES[self.value()][1])
        return queryset


# --- forms -------------------------------------------------------------------------------------


class LinesField(forms.CharField):
    """A list of strings edited one per line."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 80})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class TagsField(forms.CharField):
    """Tags edited as a comma-separated list: lower case, no duplicates, no spaces inside a tag."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        tags: list[str] = []
        for raw in text.split(","):
            tag = raw.strip().lower()
            if not tag:
                continue
            if any(ch.isspace() for ch in tag) or len(tag) > 50:
                raise ValidationError(
                    f"“{raw.strip()}” is not a tag: use single words or hyphenated-words of at most 50 "
                    "characters, separated by commas."
                )
            if tag not in tags:
                tags.append(tag)
        return tags


class ExperienceAnnotationForm(forms.ModelForm):
    lessons_learned = LinesField(required=False, help_text="One lesson per line.")
    situation_tags = TagsField(
        required=False,
        help_text="Comma-separated, e.g. btc, oversold, reversal.",
        widget=forms.TextInput(attrs={"size": 80}),  # the default width hides all but the first tags
    )
    importance_score = forms.DecimalField(
        min_value=Decimal("0"),
        max_value=Decimal("1"),
        max_digits=3,
        decimal_places=2,
        help_text="0.00 (forgettable) to 1.00 (never forget).",
    )

    class Meta:
        model = Experience
        fields = ["reflection", "lessons_learned", "situation_tags", "importance_score"]
        widgets = {"reflection": forms.Textarea(attrs={"rows": 5, "cols": 80})}


class ExperienceActionForm(ActionForm):
    value = forms.CharField(
        required=False,
        label="Value",
        help_text="Importance (0 to 1), a tag, or the superseding experience's id, for the bulk actions.",
        widget=forms.TextInput(attrs={"size": 16, "placeholder": "0.9, a tag or an id"}),
    )


# --- admin -------------------------------------------------------------------------------------


@admin.register(Experience)
class ExperienceAdmin(LargeTableAdmin):
    """Experiences reach millions: the count is estimated, the date hierarchy read from the first and
    last rows, no facet counts (LargeTableAdmin); the search stays full-text (get_search_results)."""

    form = ExperienceAnnotationForm
    action_form = ExperienceActionForm
    list_display = [
        "id",
        "datetime",
        "symbol",
        "outcome",
        "pnl",
        "pnl_percentage",
        "importance_score",
        "tags",
    ]
    list_filter = ["outcome", SymbolFilter, TagFilter, ImportanceFilter, SuspectFilter]
    list_select_related = ["decision_ref"]
    search_fields = ["id", "situation", "decision", "reflection"]
    search_help_text = (
        "Words from the situation, decision or reflection (full-text), or an exact experience id."
    )
    date_hierarchy = "datetime"
    ordering = ["-datetime"]
    autocomplete_fields = ["decision_ref"]
    actions = [
        "set_importance",
        "add_tag",
        "remove_tag",
        export_as_csv_action(EXPERIENCE_CSV_FIELDS, filename="experiences"),
    ]
    readonly_fields = [
        "id", "symbol", "outcome", "pnl", "pnl_percentage", "situation", "decision", "decision_reasoning",
        "datetime", "timestamp", "created_at", "updated_at", "decision_panel", "orders_panel",
        "similar_panel", "used_by_panel", "importance_history_panel", "links_panel",
    ]  # fmt: skip
    fieldsets = [
        ("What happened", {"fields": ["id", "datetime", "symbol", "outcome", "pnl", "pnl_percentage"]}),
        ("Situation and decision", {"fields": ["situation", "decision", "decision_reasoning"]}),
        ("Review", {"fields": ["reflection", "lessons_learned", "situation_tags", "importance_score"]}),
        ("The decision that led to it", {"fields": ["decision_panel"]}),
        ("Orders and trades", {"fields": ["orders_panel"]}),
        ("Similar experiences in long-term memory", {"fields": ["similar_panel"]}),
        ("Decisions that recalled it, and how they ended", {"fields": ["used_by_panel"]}),
        ("Importance history", {"fields": ["importance_history_panel"]}),
        ("Near duplicates and supersession", {"fields": ["links_panel"]}),
        ("Record", {"fields": ["timestamp", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def has_add_permission(self, request) -> bool:
        # Experiences are written by agents; operators review them.
        return False

    @admin.display(description="tags")
    def tags(self, obj: Experience) -> str:
        return ", ".join(obj.situation_tags or [])

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        vector = SearchVector("situation", "decision", "reflection", config="english")
        matches = queryset.annotate(search=vector).filter(
            Q(search=SearchQuery(term, config="english", search_type="websearch")) | Q(pk=term)
        )
        return matches, False

    # --- saving through the memory service ---------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        experience_annotate(
            experience=obj,
            reflection=data.get("reflection") or None,
            lessons_learned=data.get("lessons_learned") or [],
            situation_tags=data.get("situation_tags") or [],
            importance_score=data["importance_score"],
        )

    def delete_model(self, request, obj):
        from .services.experiences import experience_delete

        experience_delete(experience=obj)

    def delete_queryset(self, request, queryset):
        from .services.experiences import experience_delete

        with transaction.atomic():
            for experience in queryset:
                experience_delete(experience=experience)

    # --- bulk actions ---------------------------------------------------------------------------

    @admin.action(description="Set importance score to the value", permissions=["change"])
    def set_importance(self, request, queryset):
        raw = request.POST.get("value", "").strip()
        changed = self._bulk(
            request, experiences_set_importance, experience_ids=self._ids(queryset), importance_score=raw
        )
        if changed is not None:
            self.message_user(
                request, f"Importance set to {raw} on {changed} experience(s).", messages.SUCCESS
            )

    @admin.action(description="Add the value as a tag", permissions=["change"])
    def add_tag(self, request, queryset):
        tag = self._tag(request)
        if tag is None:
            return
        changed = self._bulk(request, experiences_tag, experience_ids=self._ids(queryset), add=tag)
        if changed is not None:
            self.message_user(request, f"Tag “{tag}” added to {changed} experience(s).", messages.SUCCESS)

    @admin.action(description="Remove the value as a tag", permissions=["change"])
    def remove_tag(self, request, queryset):
        tag = self._tag(request)
        if tag is None:
            return
        changed = self._bulk(request, experiences_tag, experience_ids=self._ids(queryset), remove=tag)
        if changed is not None:
            self.message_user(request, f"Tag “{tag}” removed from {changed} experience(s).", messages.SUCCESS)

    @staticmethod
    def _ids(queryset) -> list[str]:
        return list(queryset.values_list("pk", flat=True))

    def _bulk(self, request, service, **arguments) -> int | None:
        """Call a bulk review service; on a refusal, say why and return None (it changed nothing)."""
        try:
            return service(**arguments)
        except ValidationError as exc:
            self.message_user(request, "Nothing changed: " + "; ".join(exc.messages), messages.ERROR)
            return None

    def _tag(self, request) -> str | None:
        try:
            tags = TagsField(required=False).clean(request.POST.get("value", ""))
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return None
        if len(tags) != 1:
            self.message_user(request, "Give exactly one tag in the value box.", messages.ERROR)
            return None
        return tags[0]

    # --- panels on the change page -------------------------------------------------------------

    @admin.display(description="decision")
    def decision_panel(self, obj: Experience) -> str:
        decision = obj.decision_ref
        if decision is None:
            return "—"
        return format_html(
            '<div><a href="{}">{}</a> ({}, {})</div><div><strong>Decision:</strong> {}</div>'
            '<div style="white-space: pre-wrap; margin-top: 6px"><strong>Thought process:</strong> {}</div>',
            change_url("decisions_decision", decision.pk),
            decision.pk,
            decision.decision_layer,
            decision.datetime.strftime("%Y-%m-%d %H:%M"),
            decision.decision,
            decision.thought_process,
        )

    @admin.display(description="orders and trades")
    def orders_panel(self, obj: Experience) -> str:
        order_ids = obj.related_orders or []
        if not order_ids:
            return "—"
        orders = Order.objects.filter(pk__in=order_ids).order_by("datetime")
        trades_by_order: dict[str, list[Trade]] = {}
        for trade in Trade.objects.filter(order_id__in=order_ids).order_by("datetime"):
            trades_by_order.setdefault(trade.order_id, []).append(trade)
        rows = []
        for order in orders:
            fills = format_html_join(
                ", ",
                '<a href="{}">{} @ {}</a>',
                (
                    (change_url("execution_trade", t.pk), t.amount, t.price)
                    for t in trades_by_order.get(order.pk, [])
                ),
            )
            rows.append(
                format_html(
                    '<div><a href="{}">{}</a>: {} {} {} {} — fills: {}</div>',
                    change_url("execution_order", order.pk),
                    order.pk,
                    order.side,
                    order.amount,
                    order.symbol,
                    order.status,
                    fills or "none",
                )
            )
        missing = set(order_ids) - {o.pk for o in orders}
        if missing:
            rows.append(format_html("<div>Not recorded here: {}</div>", ", ".join(sorted(missing))))
        return format_html_join("", "{}", ((row,) for row in rows))

    @admin.display(description="used by")
    def used_by_panel(self, obj: Experience) -> str:
        hits = list(
            MemoryRecallHit.objects.filter(experience=obj, recall__decision__isnull=False)
            .select_related("recall__decision")
            .order_by("-recall_id")[:PANEL_LIMIT]
        )
        if not hits:
            return "No decision has recalled it yet."
        rows = []
        losing = 0
        for hit in hits:
            decision = hit.recall.decision
            ended, result = decision_result(decision)
            if ended and result is not None and result < 0:
                losing += 1
            outcome = f"ended, realized PnL {result}" if ended else "not ended yet"
            rows.append(
                (
                    change_url("decisions_decision", decision.pk),
                    decision.pk,
                    decision.datetime.strftime("%Y-%m-%d %H:%M"),
                    hit.rank,
                    f"{hit.score:.3f}",
                    outcome,
                )
            )
        warning = (
            format_html("<p><strong>Suspect:</strong> recalled into {} losing decision(s).</p>", losing)
            if losing
            else ""
        )
        return format_html(
            "{}<table><thead><tr><th>decision</th><th>when</th><th>rank</th><th>score</th>"
            "<th>how it ended</th></tr></thead><tbody>{}</tbody></table>",
            warning,
            format_html_join(
                "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>', rows
            ),
        )

    @admin.display(description="importance history")
    def importance_history_panel(self, obj: Experience) -> str:
        changes = list(obj.importance_changes.order_by("-id")[:PANEL_LIMIT])
        if not changes:
            return "Unchanged by feedback."
        return format_html(
            "<table><thead><tr><th>when</th><th>old</th><th>new</th><th>why</th><th>decision</th><th>rank</th>"
            "<th>note</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        c.created_at.strftime("%Y-%m-%d %H:%M") if c.created_at else "",
                        c.old_importance,
                        c.new_importance,
                        c.get_reason_display(),
                        c.decision_id or "—",
                        c.rank or "—",
                        c.note,
                    )
                    for c in changes
                ),
            ),
        )

    @admin.display(description="links")
    def links_panel(self, obj: Experience) -> str:
        links = ExperienceLink.objects.filter(Q(source=obj) | Q(target=obj)).order_by("-id")[:PANEL_LIMIT]
        rows = []
        for link in links:
            if link.kind == LinkKind.SUPERSEDES:
                text = (
                    "supersedes" if link.source_id == obj.pk else "is superseded by (out of default recall)"
                )
            else:
                text = "is a near duplicate of" if link.source_id == obj.pk else "has a near duplicate"
            other = link.target_id if link.source_id == obj.pk else link.source_id
            similarity = f" (similarity {link.similarity:.3f})" if link.similarity is not None else ""
            rows.append((text, change_link("memory_experience", other), similarity))
        if not rows:
            return "—"
        return format_html_join("", "<div>{} {}{}</div>", rows)

    # --- the playbook ------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "playbook/", self.admin_site.admin_view(self.playbook_view), name="memory_experience_playbook"
            ),
            *super().get_urls(),
        ]

    def playbook_view(self, request):
        tag = request.GET.get("tag") or None
        try:
            book = playbook(tag=tag)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            book = {}
        context = {
            **self.admin_site.each_context(request),
            "title": "Playbook: lessons that recur across experiences",
            "opts": self.model._meta,
            "book": sorted(book.items()),
            "tag": tag or "",
        }
        return TemplateResponse(request, "admin/memory/playbook.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "playbook_url": reverse("admin:memory_experience_playbook")}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="similar experiences")
    def similar_panel(self, obj: Experience) -> str:
        try:
            hits = memory_recall(text=obj.situation, limit=SIMILAR_LIMIT + 1)
        except (LongTermMemoryError, ValidationError) as exc:
            return format_html("<em>Long-term memory is unavailable: {}</em>", exc)
        hits = [h for h in hits if h.experience_id != obj.pk][:SIMILAR_LIMIT]
        if not hits:
            return "No similar experience in long-term memory yet (run manage.py sync_memory if it lags)."
        return format_html(
            "<table><thead><tr><th>experience</th><th>outcome</th><th>score</th><th>similarity</th>"
            "<th>importance</th><th>recency</th><th>situation</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
                "<td>{}</td><td>{}</td></tr>",
                (
                    (
                        change_url("memory_experience", h.experience_id),
                        h.experience_id,
                        h.payload.get("outcome", ""),
                        f"{h.score:.3f}",
                        f"{h.similarity:.3f}",
                        f"{h.importance:.3f}",
                        f"{h.recency:.3f}",
                        (h.payload.get("situation") or "")[:120],
                    )
                    for h in hits
                ),
            ),
        )


@admin.register(MemoryOutbox)
class MemoryOutboxAdmin(ReadOnlyAdmin, LargeTableAdmin):
    """Changes still to reach long-term memory, and failed ones; `manage.py sync_memory` drains it."""

    list_display = [
        "id",
        "experience_id",
        "operation",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "processed_at",
    ]
    list_filter = ["status", "operation"]
    search_fields = ["experience_id"]
    exact_search_fields = ("experience_id",)
    search_help_text = "Exact experience id."
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
