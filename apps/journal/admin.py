"""Reviews in the admin: the queue of what is still to be reviewed, and the review form.

Saving goes through `review_record` (services/reviews.py), which also writes the operator's trail and
feeds memory's importance; auditors read reviews and the queue, and cannot review.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.common.admin import LargeTableAdmin, ReadOnlyAdmin, change_url
from apps.decisions.models import Decision
from apps.memory.models import Experience

from .models import Candle, PositionExcursion, Review, Verdict
from .selectors.queue import ORDERS, SUBJECTS, review_queue
from .services.reviews import review_record

SCORE_CHOICES = [(n, str(n)) for n in range(1, 6)]


def _score(name: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=SCORE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        help_text=Review._meta.get_field(name).help_text,
    )


class ReviewForm(forms.ModelForm):
    verdict = forms.ChoiceField(choices=Verdict.choices, widget=forms.RadioSelect)
    reasoning_score = _score("reasoning_score")
    risk_score = _score("risk_score")
    timing_score = _score("timing_score")

    class Meta:
        model = Review
        fields = [
            "decision", "experience", "verdict", "reasoning_score", "risk_score", "timing_score",
            "corrected_decision", "notes",
        ]  # fmt: skip
        widgets = {
            "corrected_decision": forms.Textarea(attrs={"rows": 3, "cols": 80}),
            "notes": forms.Textarea(attrs={"rows": 4, "cols": 80}),
        }

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and bool(data.get("decision")) == bool(data.get("experience")):
            raise ValidationError("Choose one decision or one experience to review (not both).")
        return data


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    form = ReviewForm
    writes_own_trail = True  # review_record writes the history entry and the system event
    list_display = [
        "id", "subject", "verdict", "reasoning_score", "risk_score", "timing_score", "reviewer",
        "reviewed_at",
    ]  # fmt: skip
    list_filter = ["verdict", "reviewer"]
    search_fields = ["decision__id", "experience__id", "notes", "corrected_decision"]
    search_help_text = "Decision or experience id, or words from the notes."
    date_hierarchy = "reviewed_at"
    ordering = ["-reviewed_at", "-id"]
    autocomplete_fields = ["decision", "experience"]
    readonly_fields = ["subject", "reviewer", "reviewed_at", "updated_at"]
    change_list_template = "admin/journal/review/change_list.html"
    change_form_template = "admin/journal/review/change_form.html"

    def get_fields(self, request, obj=None):
        score_fields = [
            "verdict", "reasoning_score", "risk_score", "timing_score", "corrected_decision", "notes",
        ]  # fmt: skip
        if obj is None:
            return ["decision", "experience", *score_fields]
        return ["subject", *score_fields, "reviewer", "reviewed_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return [*self.readonly_fields, *self.get_fields(request, obj)]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a review is revised, never removed: memory was already told

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, {**(extra_context or {}), **self._subject(request)})

    @staticmethod
    def _subject(request) -> dict:
        """What is being reviewed, shown above the form when the queue sent the operator here."""
        decision_id, experience_id = request.GET.get("decision"), request.GET.get("experience")
        if decision_id:
            decision = Decision.objects.filter(pk=decision_id).first()
            if decision is not None:
                results = list(decision.experiences.values_list("outcome", "pnl", "symbol"))
                return {"review_decision": decision, "review_results": results}
        if experience_id:
            experience = Experience.objects.select_related("decision_ref").filter(pk=experience_id).first()
            if experience is not None:
                return {"review_experience": experience}
        return {}

    @admin.display(description="reviewed")
    def subject(self, obj: Review) -> str:
        if obj.decision_id:
            url = change_url("decisions_decision", obj.decision_id)
            return format_html('decision <a href="{}">{}</a>', url, obj.decision_id)
        url = change_url("memory_experience", obj.experience_id)
        return format_html('experience <a href="{}">{}</a>', url, obj.experience_id)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            outcome = review_record(
                reviewer=request.user,
                decision=obj.decision if obj.decision_id else None,
                experience=obj.experience if obj.experience_id else None,
                verdict=data["verdict"],
                reasoning_score=data["reasoning_score"],
                risk_score=data["risk_score"],
                timing_score=data["timing_score"],
                corrected_decision=data.get("corrected_decision") or "",
                notes=data.get("notes") or "",
            )
        except ValidationError as exc:  # checked by the form first; a race would land here
            self.message_user(request, "Not saved: " + " ".join(exc.messages), messages.ERROR)
            raise
        form.instance = obj = outcome.review
        if outcome.importance_changes:
            self.message_user(
                request,
                f"Memory told: the importance of {outcome.importance_changes} experience(s) moved.",
                messages.INFO,
            )

    def log_addition(self, request, obj, message):
        return None  # written by review_record, with what was judged

    def log_change(self, request, obj, message):
        return None

    # --- the queue ---------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("queue/", self.admin_site.admin_view(self.queue_view), name="journal_review_queue"),
            *super().get_urls(),
        ]

    def queue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        subject = request.GET.get("subject", "decisions")
        order = request.GET.get("order", "pnl")
        if subject not in SUBJECTS:
            subject = "decisions"
        if order not in ORDERS:
            order = "pnl"
        context = {
            **self.admin_site.each_context(request),
            "title": "Review queue",
            "opts": self.model._meta,
            "subject": subject,
            "order": order,
            "subjects": SUBJECTS,
            "orders": ORDERS,
            "rows": list(review_queue(subject=subject, order=order)),
            "can_review": self.has_add_permission(request),
            "add_url": reverse("admin:journal_review_add"),
        }
        return TemplateResponse(request, "admin/journal/review_queue.html", context)


@admin.register(Candle)
class CandleAdmin(ReadOnlyAdmin, LargeTableAdmin):
    """The price path fetched from the exchange for closed positions (manage.py compute_excursions)."""

    list_display = ["symbol", "exchange", "timeframe", "open_time", "open", "high", "low", "close", "volume"]
    list_filter = ["timeframe", "exchange"]
    list_select_related = ["exchange"]
    search_fields = ["symbol"]
    exact_search_fields = ("symbol",)
    search_help_text = "Exact symbol (e.g. BTC/USDT)."
    date_hierarchy = "open_time"
    ordering = ["-open_time"]


@admin.register(PositionExcursion)
class PositionExcursionAdmin(ReadOnlyAdmin):
    list_display = [
        "position", "r_multiple", "risk_amount", "stop_loss_price", "mae", "mfe", "mae_r", "mfe_r", "candles",
        "note", "computed_at",
    ]  # fmt: skip
    list_select_related = ["position"]
    search_fields = ["position__symbol", "entry_order_id"]
    ordering = ["-computed_at"]
