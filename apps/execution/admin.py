"""Orders, trades and positions in the admin: exchange records, read-only, fast at millions of rows."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from apps.common.admin import (
    LargeTableAdmin,
    ReadOnlyAdmin,
    change_link,
    change_url,
    export_as_csv_action,
    pretty_json,
)

from .models import CurrentPosition, Order, Position, TodayTrade, Trade

ORDER_CSV_FIELDS = [
    "id", "client_order_id", "exchange__name", "symbol", "side", "type", "status", "price", "amount",
    "filled", "remaining", "cost", "average", "fee", "fee_currency", "stop_price", "take_profit_price",
    "stop_loss_price", "decision_id", "timestamp", "datetime",
]  # fmt: skip
TRADE_CSV_FIELDS = [
    "id", "order_id", "exchange__name", "symbol", "side", "price", "amount", "cost", "fee", "fee_currency",
    "timestamp", "datetime",
]  # fmt: skip


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin, LargeTableAdmin):
    list_display = [
        "id", "client_order_id", "exchange", "symbol", "side", "type", "status", "amount", "filled", "price",
        "average", "datetime",
    ]  # fmt: skip
    list_filter = ["status", "side", "type", "exchange"]
    list_select_related = ["exchange"]
    search_fields = ["id", "client_order_id", "symbol"]
    exact_search_fields = ("id", "client_order_id", "symbol")
    search_help_text = "Exact order id, client order id or symbol (e.g. BTC/USDT)."
    date_hierarchy = "datetime"
    ordering = ["-datetime"]
    actions = [export_as_csv_action(ORDER_CSV_FIELDS, filename="orders")]
    fieldsets = [
        (None, {"fields": ["id", "client_order_id", "exchange", "symbol", "side", "type", "status"]}),
        (
            "Amounts",
            {"fields": ["price", "amount", "filled", "remaining", "cost", "average", "fee", "fee_currency"]},
        ),
        ("Risk", {"fields": ["stop_price", "take_profit_price", "stop_loss_price"]}),
        ("Decision", {"fields": ["decision_link"]}),
        ("Fills", {"fields": ["trade_list"]}),
        ("Times", {"fields": ["timestamp", "datetime", "created_at", "updated_at"]}),
        ("Exchange response", {"fields": ["raw_data_pretty"]}),
    ]
    readonly_fields = ["decision_link", "trade_list", "raw_data_pretty", "created_at", "updated_at"]

    @admin.display(description="decision")
    def decision_link(self, obj: Order) -> str:
        return change_link("decisions_decision", obj.decision_id)

    @admin.display(description="trades")
    def trade_list(self, obj: Order) -> str:
        trades = obj.trades.order_by("datetime").values_list("id", "amount", "price", "datetime")
        if not trades:
            return "—"
        return format_html_join(
            "",
            '<div><a href="{}">{}</a>: {} @ {} ({})</div>',
            ((change_url("execution_trade", t[0]), *t) for t in trades),
        )

    @admin.display(description="raw data")
    def raw_data_pretty(self, obj: Order) -> str:
        return pretty_json(obj.raw_data)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin, LargeTableAdmin):
    list_display = ["id", "order", "exchange", "symbol", "side", "price", "amount", "cost", "fee", "datetime"]
    list_filter = ["side", "exchange"]
    list_select_related = ["exchange", "order"]
    search_fields = ["id", "order__id", "symbol"]
    exact_search_fields = ("id", "order_id", "symbol")
    search_help_text = "Exact trade id, order id or symbol (e.g. BTC/USDT)."
    date_hierarchy = "datetime"
    ordering = ["-datetime"]
    actions = [export_as_csv_action(TRADE_CSV_FIELDS, filename="trades")]
    exclude = ["raw_data"]
    readonly_fields = ["raw_data_pretty"]

    @admin.display(description="raw data")
    def raw_data_pretty(self, obj: Trade) -> str:
        return pretty_json(obj.raw_data)


class PositionAdminBase(ReadOnlyAdmin, LargeTableAdmin):
    """Positions reach millions (one per round trip): LargeTableAdmin's estimated count and date
    hierarchy; the symbol search stays Django's (a part of it finds it: "BTC")."""

    list_display = [
        "symbol", "exchange", "side", "amount", "entry_price", "current_price", "value", "unrealized_pnl",
        "unrealized_pnl_percentage", "realized", "is_open", "opened_at", "closed_at",
    ]  # fmt: skip
    list_filter = ["is_open", "side", "exchange"]
    list_select_related = ["exchange"]
    search_fields = ["symbol"]
    date_hierarchy = "opened_at"
    ordering = ["-opened_at"]
    fieldsets = [
        (None, {"fields": ["exchange", "symbol", "side", "is_open", "opened_at", "closed_at"]}),
        ("Amounts", {"fields": ["amount", "entry_price", "current_price", "value"]}),
        ("Unrealized", {"fields": ["unrealized_pnl", "unrealized_pnl_percentage"]}),
        (
            "Realized (from the fills, by average cost)",
            {"fields": ["realized_pnl", "realized_fees", "other_fees", "realized_note", "realized_at"]},
        ),
        ("Risk", {"fields": ["stop_loss", "take_profit"]}),
        ("Times", {"fields": ["updated_at"]}),
    ]
    readonly_fields = [
        "realized_pnl", "realized_fees", "other_fees", "realized_note", "realized_at", "updated_at",
    ]  # fmt: skip

    @admin.display(description="realized PnL", ordering="realized_pnl")
    def realized(self, obj) -> str:
        """The figure, or why there is none: a blank would read as "not computed yet"."""
        if obj.realized_pnl is not None:
            return obj.realized_pnl
        if obj.realized_note:
            return format_html('<span title="{}">n/a</span>', obj.realized_note)
        return "—"

    @admin.display(description="fees in other currencies")
    def other_fees(self, obj) -> str:
        fees = obj.realized_other_fees or {}
        return ", ".join(f"{amount} {currency}" for currency, amount in fees.items()) or "—"


@admin.register(Position)
class PositionAdmin(PositionAdminBase):
    pass


@admin.register(CurrentPosition)
class CurrentPositionAdmin(PositionAdminBase):
    list_filter = ["side", "exchange"]
    ordering = ["-value"]


@admin.register(TodayTrade)
class TodayTradeAdmin(ReadOnlyAdmin):
    list_display = ["id", "order", "exchange", "symbol", "side", "price", "amount", "cost", "datetime"]
    list_filter = ["side", "exchange"]
    list_select_related = ["exchange", "order"]
    search_fields = ["id", "symbol"]
    date_hierarchy = "datetime"
    ordering = ["-datetime"]
