"""Portfolio snapshots in the admin (computed records, read-only) and the cash flows between them."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from apps.common.admin import ReadOnlyAdmin, pretty_json

from .models import CashFlow, CashFlowSource, PortfolioSnapshot
from .services.flows import cash_flow_record, cash_flow_validate


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "snapshot_date", "exchange", "total_value", "cash", "positions_value", "net_flow", "daily_pnl",
        "total_pnl", "total_return", "reporting_currency",
    ]  # fmt: skip
    list_filter = ["exchange"]
    list_select_related = ["exchange"]
    search_fields = ["exchange__name"]
    date_hierarchy = "snapshot_date"
    ordering = ["-snapshot_date"]
    exclude = ["positions", "rates"]
    readonly_fields = ["positions_pretty", "rates_pretty"]

    @admin.display(description="conversion rates used")
    def rates_pretty(self, obj: PortfolioSnapshot) -> str:
        return pretty_json(obj.rates)

    @admin.display(description="positions")
    def positions_pretty(self, obj: PortfolioSnapshot) -> str:
        return pretty_json(obj.positions)


class CashFlowForm(forms.ModelForm):
    class Meta:
        model = CashFlow
        fields = [
            "exchange",
            "kind",
            "currency",
            "amount",
            "fee",
            "value",
            "external_id",
            "txid",
            "datetime",
            "note",
        ]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            cash_flow_validate(
                kind=data["kind"], currency=data["currency"], amount=data["amount"], fee=data.get("fee"),
                moment=data["datetime"],
            )  # fmt: skip
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(CashFlow)
class CashFlowAdmin(admin.ModelAdmin):
    """Deposits, withdrawals and transfers. Operators add the ones no exchange reports (a transfer leg, an
    account without deposit history); a recorded flow is not edited: a wrong one is corrected by its
    opposite."""

    form = CashFlowForm
    list_display = [
        "datetime",
        "exchange",
        "kind",
        "amount",
        "currency",
        "fee",
        "value",
        "source",
        "recorded_by",
    ]
    list_filter = ["kind", "source", "exchange", "currency"]
    list_select_related = ["exchange"]
    search_fields = ["external_id", "txid", "currency", "note"]
    date_hierarchy = "datetime"
    ordering = ["-datetime"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in CashFlow._meta.fields] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        outcome = cash_flow_record(
            exchange=data["exchange"], kind=data["kind"], currency=data["currency"], amount=data["amount"],
            fee=data.get("fee"), value=data.get("value"), external_id=data.get("external_id") or None,
            txid=data.get("txid") or None, moment=data.get("datetime"), source=CashFlowSource.ADMIN,
            recorded_by=request.user.get_username(), note=data.get("note") or "",
        )  # fmt: skip
        form.instance = obj = outcome.flow
        obj.pk = outcome.flow.pk
