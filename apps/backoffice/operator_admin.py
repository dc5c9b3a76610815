"""The operators' writes on the record, each on the record itself: bulk actions on experiences, strategy
activation, adopting and dismissing discrepancies (apps/system_events/audit.py), and strategy versions
that have been live kept as they ran (a change saves a new version).

The apps' own admins stay as they are; these take their places on the site, so the back-office floor
(which may import every app) is where the operator's trail is written.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Max, Min
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from apps.agents.admin import AgentAdmin
from apps.agents.models import Agent
from apps.agents.services import agent_revoke
from apps.backoffice.admin import DecisionAdmin
from apps.backoffice.figures import (
    FiguresChangeListMixin,
    RollupRoute,
    decision_strip,
    experience_strip,
    position_strip,
    trade_strip,
)
from apps.backoffice.readable import (
    fee_column,
    money_column,
    percent_column,
    price_column,
    quantity_column,
    utc_column,
)
from apps.common.admin import change_link
from apps.common.formatting import DASH, money, price, quote_currency
from apps.decisions.models import Decision
from apps.execution.admin import OrderAdmin, PositionAdmin, TradeAdmin
from apps.execution.models import Order, Position, Trade
from apps.journal.admin_filters import STATS_FILTERS
from apps.journal.models import PositionDayRollup, PositionExcursion, Review
from apps.journal.selectors import figures as figure_selectors
from apps.memory.admin import ExperienceAdmin, SymbolFilter, TagFilter
from apps.memory.models import Experience
from apps.memory.services.experiences import experiences_set_importance, experiences_tag
from apps.memory.services.lifecycle import experiences_supersede, experiences_unsupersede
from apps.portfolio.models import PortfolioSnapshot
from apps.reconciliation.admin import DiscrepancyAdmin
from apps.reconciliation.models import Discrepancy
from apps.reconciliation.services.adopt import discrepancies_adopt, discrepancies_dismiss
from apps.strategies.admin import PerformanceMetricsAdmin, StrategyAdmin
from apps.strategies.models import PerformanceMetrics, Strategy
from apps.strategies.services.activation import strategy_deactivate
from apps.strategies.services.versions import (
    strategy_edit_refusal,
    strategy_has_run,
    strategy_version_create,
)
from apps.system_events.audit import operator_action_record

# --- reviews on the decision's and the experience's pages ---------------------------------------------


def review_panel(subject: str, obj) -> str:
    review = Review.objects.filter(**{subject: obj}).first()
    if review is None:
        return format_html(
            'Not reviewed yet. <a class="button" href="{}?{}={}">Review this {}</a> (operators)',
            reverse("admin:journal_review_add"),
            subject,
            obj.pk,
            subject,
        )
    return format_html(
        '<a href="{}"><strong>{}</strong></a> by {} on {} UTC: reasoning {}/5, risk {}/5, timing {}/5.'
        "<div>{}</div><div><em>{}</em></div>",
        reverse("admin:journal_review_change", args=[review.pk]),
        review.get_verdict_display(),
        review.reviewer,
        f"{review.reviewed_at:%Y-%m-%d %H:%M}",
        review.reasoning_score,
        review.risk_score,
        review.timing_score,
        f"Should have: {review.corrected_decision}" if review.corrected_decision else "",
        review.notes,
    )


def _field_filters(*fields: str, **renamed: str) -> dict[str, str]:
    """The parameters of the admin's field filters on `fields` (ChoicesFieldListFilter's `x__exact`,
    AllValuesFieldListFilter's `x`, every one's `x__isnull`), as roll-up lookups of the same name, and
    `renamed` parameters as the roll-up lookup given."""
    lookups = {}
    for name in fields:
        lookups |= {name: name, f"{name}__exact": f"{name}__exact", f"{name}__isnull": f"{name}__isnull"}
    return lookups | renamed


# The exchange filter (RelatedFieldListFilter) selects exchange__id__exact; the roll-ups keep exchange_id.
EXCHANGE = {"exchange__id__exact": "exchange_id__exact", "exchange__isnull": "exchange_id__isnull"}


class OperatorDecisionAdmin(FiguresChangeListMixin, DecisionAdmin):
    figures_of = staticmethod(figure_selectors.decision_figures)
    figures_strip = staticmethod(decision_strip)
    figures_rollup = RollupRoute(
        figures=figure_selectors.decision_figures_rollup,
        fields=_field_filters("decision_layer"),
        date_field="datetime",
    )
    list_display = [
        "id", "decision_layer", "decision_preview", "model_used", "tokens_used", "cost_shown", "latency_ms",
        "datetime_utc",
    ]  # fmt: skip
    cost_shown = money_column(
        "inference_cost", "inference cost", signed=False, places=4, currency=lambda o: None
    )
    datetime_utc = utc_column("datetime", "time")
    fieldsets = [*DecisionAdmin.fieldsets, ("The operator's review", {"fields": ["review"]})]
    readonly_fields = [*DecisionAdmin.readonly_fields, "review"]

    @admin.display(description="review")
    def review(self, obj: Decision) -> str:
        return review_panel("decision", obj)


# --- experiences -------------------------------------------------------------------------------------


class RollupSymbolFilter(SymbolFilter):
    """The symbols from the experiences' roll-up: a few thousand rows, not a DISTINCT over every one."""

    def lookups(self, request, model_admin):
        return [(s, s) for s in figure_selectors.experience_symbols()]


class RollupTagFilter(TagFilter):
    """The tags from the tags' roll-up, not an unnest of every experience's tags."""

    def lookups(self, request, model_admin):
        return [(t, t) for t in figure_selectors.experience_tags(limit=100)]


class OperatorExperienceAdmin(FiguresChangeListMixin, ExperienceAdmin):
    figures_of = staticmethod(figure_selectors.experience_figures)
    figures_strip = staticmethod(experience_strip)
    figures_rollup = RollupRoute(
        figures=figure_selectors.experience_figures_rollup,
        fields=_field_filters("outcome"),
        choices={SymbolFilter.parameter_name: "symbol"},
        keywords={TagFilter.parameter_name: "tag"},
        date_field="datetime",
    )
    actions = [*ExperienceAdmin.actions, "supersede_by", "bring_back"]
    # The stats pages link here with these (apps/journal/admin_filters.py).
    list_filter = [
        *(
            {SymbolFilter: RollupSymbolFilter, TagFilter: RollupTagFilter}.get(spec, spec)
            for spec in ExperienceAdmin.list_filter
        ),
        *STATS_FILTERS,
    ]
    list_display = [
        "id", "datetime_utc", "symbol", "outcome", "pnl_shown", "pnl_percentage_shown", "importance", "tags",
    ]  # fmt: skip
    datetime_utc = utc_column("datetime", "time")
    pnl_shown = money_column("pnl", "PnL")
    pnl_percentage_shown = percent_column("pnl_percentage", "PnL %")

    @admin.display(description="importance", ordering="importance_score")
    def importance(self, obj: Experience):
        return obj.importance_score

    fieldsets = [*ExperienceAdmin.fieldsets[:3], ("The operator's review", {"fields": ["review"]}),
                 *ExperienceAdmin.fieldsets[3:]]  # fmt: skip
    readonly_fields = [*ExperienceAdmin.readonly_fields, "review"]

    @admin.display(description="review")
    def review(self, obj: Experience) -> str:
        return review_panel("experience", obj)

    def _audited_bulk(
        self, request, queryset, service, *, action, message, data=None, only_if_changed=False, **arguments
    ):
        """Call a bulk service on the selected experiences and, unless it refused (None), write the trail:
        each one's history, Recent actions and one `operator_action` event; with `only_if_changed`, only
        when it changed some."""
        ids = self._ids(queryset)
        changed = self._bulk(request, service, experience_ids=ids, **arguments)
        if changed is not None and (changed or not only_if_changed):
            operator_action_record(
                user=request.user,
                action=action,
                message=message,
                objects=Experience.objects.filter(pk__in=ids).order_by("pk"),
                data=data,
            )
        return changed

    @admin.action(description="Set importance score to the value", permissions=["change"])
    def set_importance(self, request, queryset):
        raw = request.POST.get("value", "").strip()
        changed = self._audited_bulk(
            request, queryset, experiences_set_importance, importance_score=raw,
            action="experience_set_importance", message=f"set importance to {raw}",
            data={"importance_score": raw},
        )  # fmt: skip
        if changed is not None:
            done = f"Importance set to {raw} on {changed} experience(s)."
            self.message_user(request, done, messages.SUCCESS)

    def _tag_action(self, request, queryset, *, add: bool):
        tag = self._tag(request)
        if tag is None:
            return
        verb = "added" if add else "removed"
        changed = self._audited_bulk(
            request, queryset, experiences_tag, **({"add": tag} if add else {"remove": tag}),
            action="experience_add_tag" if add else "experience_remove_tag", message=f"{verb} tag “{tag}”",
            data={"tag": tag},
        )  # fmt: skip
        if changed is not None:
            done = f"Tag “{tag}” {verb} {'to' if add else 'from'} {changed} experience(s)."
            self.message_user(request, done, messages.SUCCESS)

    @admin.action(
        description="Mark as superseded by the experience whose id is the value", permissions=["change"]
    )
    def supersede_by(self, request, queryset):
        newer = request.POST.get("value", "").strip()
        changed = self._audited_bulk(
            request, queryset, experiences_supersede, by_id=newer,
            action="experience_supersede", message=f"superseded by {newer}", data={"superseded_by": newer},
        )  # fmt: skip
        if changed is not None:
            self.message_user(
                request,
                f"{changed} experience(s) superseded by {newer}: out of default recall, still searchable.",
                messages.SUCCESS,
            )

    @admin.action(description="Bring back into default recall (no longer superseded)", permissions=["change"])
    def bring_back(self, request, queryset):
        changed = self._audited_bulk(
            request, queryset, experiences_unsupersede,
            action="experience_unsupersede", message="brought back into default recall", only_if_changed=True,
        )  # fmt: skip
        if changed is not None:
            self.message_user(request, f"{changed} experience(s) back in default recall.", messages.SUCCESS)

    @admin.action(description="Add the value as a tag", permissions=["change"])
    def add_tag(self, request, queryset):
        self._tag_action(request, queryset, add=True)

    @admin.action(description="Remove the value as a tag", permissions=["change"])
    def remove_tag(self, request, queryset):
        self._tag_action(request, queryset, add=False)


# --- strategies --------------------------------------------------------------------------------------


class StrategyVersionForm(forms.ModelForm):
    """Refuses to change a version that has been live in place; with a new version number it is a new row."""

    class Meta:
        model = Strategy
        fields = ["name", "version", "description", "config", "reason_for_update"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is not None:
            refusal = strategy_edit_refusal(strategy=self.instance, changes=data)
            for field, message in refusal.items():
                self.add_error(field if field in self.fields else None, message)
        return data


class OperatorStrategyAdmin(StrategyAdmin):
    form = StrategyVersionForm

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and strategy_has_run(obj):
            fields.append("name")  # a new version of the same strategy, not another strategy
        return fields

    def save_model(self, request, obj, form, change):
        if change and strategy_has_run(obj):
            base = Strategy.objects.get(pk=obj.pk)
            if any(field in form.changed_data for field in ("version", "description", "config")):
                new = strategy_version_create(
                    base=base,
                    name=base.name,
                    version=obj.version,
                    config=obj.config,
                    description=obj.description,
                    reason_for_update=obj.reason_for_update
                    if obj.reason_for_update != base.reason_for_update
                    else None,
                )
                request._new_strategy_version = (base, new)
                operator_action_record(
                    user=request.user,
                    action="strategy_version_create",
                    message=f"made {new} from {base}, which has been live and stays as it ran",
                    objects=[new],
                    kind="add",
                    data={"base": base.pk},
                )
                return
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if getattr(request, "_new_strategy_version", None) is None:
            super().save_related(request, form, formsets, change)
            return
        for formset in formsets:  # nothing of the old version's is saved, nor reported as saved
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def log_change(self, request, obj, message):
        if getattr(request, "_new_strategy_version", None) is not None:
            return None  # recorded as the new version's addition, above
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        made = getattr(request, "_new_strategy_version", None)
        if made is None:
            return super().response_change(request, obj)
        base, new = made
        self.message_user(
            request,
            f"{base} has been live, so it stays as it ran: your changes are the new version {new} "
            "(inactive; use “Activate” when it should run).",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:strategies_strategy_change", args=[new.pk]))

    def activate_version(self, request, strategy: Strategy) -> tuple[Strategy, list[Strategy]]:
        """The version made live, then the trail: who activated it, and which versions that took down."""
        target, replaced = super().activate_version(request, strategy)
        names = ", ".join(str(s) for s in replaced)
        operator_action_record(
            user=request.user,
            action="strategy_activate",
            message=f"activated {target}" + (f" in place of {names}" if names else ""),
            objects=[target],
            data={"deactivated": [s.pk for s in replaced]},
        )
        for old in replaced:
            operator_action_record(
                user=request.user,
                action="strategy_deactivate",
                message=f"deactivated {old} by activating {target}",
                objects=[old],
            )
        return target, replaced

    @admin.action(description="Deactivate the selected versions", permissions=["change"])
    def deactivate(self, request, queryset):
        active = list(queryset.filter(is_active=True))
        for strategy in active:
            strategy_deactivate(strategy=strategy)
        if active:
            operator_action_record(
                user=request.user,
                action="strategy_deactivate",
                message="deactivated " + ", ".join(str(s) for s in active),
                objects=active,
            )
        self.message_user(request, f"Deactivated {len(active)} strategy version(s).", messages.SUCCESS)


# --- discrepancies -----------------------------------------------------------------------------------


class OperatorDiscrepancyAdmin(DiscrepancyAdmin):
    @admin.action(description="Adopt the exchange's version", permissions=["change"])
    def adopt(self, request, queryset):
        chosen = list(queryset.select_related("exchange"))
        adopted, refused = discrepancies_adopt(discrepancies=chosen, actor=request.user.get_username())
        done = Discrepancy.objects.filter(pk__in=[d.pk for d in chosen if d.pk not in refused]).order_by("pk")
        if adopted:
            operator_action_record(
                user=request.user,
                action="discrepancy_adopt",
                message="adopted the exchange's version",
                objects=done,
            )
            self.message_user(request, f"{adopted} adopted: the record now holds the exchange's version.")
        for pk, reason in sorted(refused.items()):
            self.message_user(request, f"Discrepancy {pk} not adopted: {reason}", level=messages.WARNING)

    @admin.action(description="Dismiss with the reason given", permissions=["change"])
    def dismiss(self, request, queryset):
        chosen = list(queryset)
        reason = request.POST.get("reason", "")
        try:
            count = discrepancies_dismiss(
                discrepancies=chosen, reason=reason, actor=request.user.get_username()
            )
        except ValidationError as error:
            self.message_user(
                request, " ".join(error.messages) + " Nothing was dismissed.", level=messages.ERROR
            )
            return
        operator_action_record(
            user=request.user,
            action="discrepancy_dismiss",
            message=f"dismissed: {reason.strip()}",
            objects=Discrepancy.objects.filter(pk__in=[d.pk for d in chosen]).order_by("pk"),
            data={"reason": reason.strip()},
        )
        self.message_user(request, f"{count} dismissed.")


# --- positions and trades: figures for what is filtered ---------------------------------------------


class JournalPositionAdmin(FiguresChangeListMixin, PositionAdmin):
    figures_of = staticmethod(figure_selectors.position_figures)
    figures_strip = staticmethod(position_strip)
    figures_rollup = RollupRoute(
        figures=figure_selectors.position_figures_rollup,
        model=PositionDayRollup,
        fields=_field_filters("is_open", "side", **EXCHANGE),
        date_field="opened_at",
        search="admin",  # search_fields = ["symbol"], a roll-up column
    )
    # The exchange is a filter (most desks trade one); the unrealized % sits beside its amount.
    list_display = [
        "symbol", "side", "amount_shown", "entry_price_shown", "current_price_shown", "value_shown",
        "unrealized_shown", "realized_shown", "is_open", "opened_utc", "closed_utc",
    ]  # fmt: skip
    amount_shown = quantity_column("amount", "amount")
    entry_price_shown = price_column("entry_price", "entry")
    current_price_shown = price_column("current_price", "current")
    value_shown = money_column("value", "value", signed=False)

    @admin.display(description="unrealized PnL", ordering="unrealized_pnl")
    def unrealized_shown(self, obj):
        if obj.unrealized_pnl is None:
            return "—"
        share = obj.unrealized_pnl_percentage
        return format_html(
            "{} {}",
            money_column("unrealized_pnl", "")(self, obj),
            format_html("({})", percent_column("unrealized_pnl_percentage", "")(self, obj))
            if share is not None
            else "",
        )

    opened_utc = utc_column("opened_at", "opened")
    closed_utc = utc_column("closed_at", "closed")

    @admin.display(description="realized PnL", ordering="realized_pnl")
    def realized_shown(self, obj):
        if obj.realized_pnl is None:
            return self.realized(obj)  # the reason there is none
        return money_column("realized_pnl", "")(self, obj)

    fieldsets = [*PositionAdmin.fieldsets, ("R and excursions", {"fields": ["excursion_panel"]})]
    readonly_fields = [*PositionAdmin.readonly_fields, "excursion_panel"]

    @admin.display(description="R-multiple, MAE, MFE")
    def excursion_panel(self, obj: Position) -> str:
        excursion = PositionExcursion.objects.filter(position=obj).first()
        if excursion is None:
            return "Not computed yet (manage.py compute_excursions, once the position is closed)."
        currency = quote_currency(obj.symbol)

        def figure(value):
            return DASH if value is None else value

        return format_html(
            "1 R = {} (stop {}, entry order {}); R-multiple {}; MAE {} ({} R), MFE {} ({} R); {} {} bars. {}",
            money(excursion.risk_amount, currency, signed=False),
            price(excursion.stop_loss_price),
            figure(excursion.entry_order_id),
            figure(excursion.r_multiple),
            price(excursion.mae),
            figure(excursion.mae_r),
            price(excursion.mfe),
            figure(excursion.mfe_r),
            excursion.candles,
            excursion.timeframe,
            excursion.note,
        )


class JournalTradeAdmin(FiguresChangeListMixin, TradeAdmin):
    figures_of = staticmethod(figure_selectors.trade_figures)
    figures_strip = staticmethod(trade_strip)
    figures_rollup = RollupRoute(
        figures=figure_selectors.trade_figures_rollup,
        fields=_field_filters("side", **EXCHANGE),
        date_field="datetime",
        search="exact_symbol",
        combine=figure_selectors.trade_figures_add,
    )
    # The order by its id (its text repeats the fill's side, amount and symbol); the exchange is a filter.
    list_display = [
        "id", "order_link", "symbol", "side", "price_shown", "amount_shown", "cost_shown", "fee_shown",
        "datetime_utc",
    ]  # fmt: skip

    @admin.display(description="order", ordering="order_id")
    def order_link(self, obj: Trade) -> str:
        return change_link("execution_order", obj.order_id)

    price_shown = price_column("price", "price")
    amount_shown = quantity_column("amount", "amount")
    cost_shown = money_column("cost", "cost", signed=False)
    fee_shown = fee_column()
    datetime_utc = utc_column("datetime", "time")


class ReadableOrderAdmin(FiguresChangeListMixin, OrderAdmin):
    figures_of = None  # an order has no result of its own; the compact list layout only
    # The client order id stays searchable and on the order's page; the list keeps the columns that
    # decide what the order did, so none is pushed off a 1,440 px screen.
    list_display = [
        "id", "exchange", "symbol", "side", "type", "status", "amount_shown", "filled_shown", "price_shown",
        "average_shown", "datetime_utc",
    ]  # fmt: skip
    amount_shown = quantity_column("amount", "amount")
    filled_shown = quantity_column("filled", "filled")
    price_shown = price_column("price", "price")
    average_shown = price_column("average", "average")
    datetime_utc = utc_column("datetime", "time")


# --- performance metrics: what fills an empty page ---------------------------------------------------


class PerformanceMetricsWithHintAdmin(PerformanceMetricsAdmin):
    change_list_template = "admin/backoffice/performancemetrics_change_list.html"

    def changelist_view(self, request, extra_context=None):
        days = PortfolioSnapshot.objects.aggregate(first=Min("snapshot_date"), last=Max("snapshot_date"))
        strategy = (
            Strategy.objects.filter(is_active=True).order_by("name").first()
            or Strategy.objects.order_by("name").first()
        )
        hint = {
            "fill_start": days["first"] and days["first"].isoformat(),
            "fill_end": days["last"] and days["last"].isoformat(),
            "fill_strategy": strategy.name if strategy else None,
        }
        return super().changelist_view(request, {**(extra_context or {}), **hint})


# --- agents ------------------------------------------------------------------------------------------


class OperatorAgentAdmin(AgentAdmin):
    @admin.action(description="Revoke the selected agents' tokens", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        revoked = list(queryset.filter(revoked_at__isnull=True).order_by("pk"))
        for agent in revoked:
            agent_revoke(name=agent.name)
        if revoked:
            operator_action_record(
                user=request.user, action="agent_revoke", message="revoked the token", objects=revoked
            )
        self.message_user(request, f"{len(revoked)} agent(s) revoked.", messages.SUCCESS)


for model, admin_class in (
    (Decision, OperatorDecisionAdmin),
    (Position, JournalPositionAdmin),
    (Trade, JournalTradeAdmin),
    (Order, ReadableOrderAdmin),
    (PerformanceMetrics, PerformanceMetricsWithHintAdmin),
    (Agent, OperatorAgentAdmin),
    (Experience, OperatorExperienceAdmin),
    (Strategy, OperatorStrategyAdmin),
    (Discrepancy, OperatorDiscrepancyAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, admin_class)
