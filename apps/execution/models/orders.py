"""Orders as the exchange reports them (ccxt's unified order), linked to the decision behind them."""

from django.db import models

from apps.common.fields import CurrentTimestamp, Money, choices_check

from .choices import OrderStatus, OrderType, Side


class Order(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=100,
        help_text="The exchange's order id.",
    )
    client_order_id = models.CharField(
        max_length=100,
    )
    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.PROTECT,
        null=True,
        db_index=False,
        related_name="orders",
    )
    symbol = models.CharField(
        max_length=20,
    )
    side = models.CharField(
        max_length=10,
        choices=Side.choices,
    )
    type = models.CharField(
        max_length=20,
        choices=OrderType.choices,
    )
    status = models.CharField(
        max_length=20,
        choices=OrderStatus.choices,
    )
    price = Money(
        null=True,
        blank=True,
    )
    amount = Money()
    filled = Money(
        null=True,
        db_default=0,
    )
    remaining = Money(
        null=True,
        blank=True,
    )
    cost = Money(
        null=True,
        db_default=0,
    )
    average = Money(
        null=True,
        blank=True,
    )
    fee = Money(
        null=True,
        blank=True,
    )
    fee_currency = models.CharField(
        max_length=10,
        null=True,
        blank=True,
    )
    stop_price = Money(
        null=True,
        blank=True,
    )
    take_profit_price = Money(
        null=True,
        blank=True,
    )
    stop_loss_price = Money(
        null=True,
        blank=True,
    )
    decision_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="The decision that produced this order (decisions.id; not a foreign key in the schema).",
    )
    timestamp = models.BigIntegerField(
        help_text="Milliseconds since the epoch, as ccxt reports it.",
    )
    datetime = models.DateTimeField()
    created_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
    )
    updated_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
        help_text="Kept current by the database trigger update_orders_updated_at.",
    )
    raw_data = models.JSONField(
        null=True,
        blank=True,
        help_text="The exchange's own response (ccxt's info).",
    )

    class Meta:
        db_table = "orders"
        ordering = ["-datetime"]
        constraints = [
            models.UniqueConstraint(fields=["client_order_id"], name="orders_client_order_id_key"),
            choices_check("side", Side, table="orders"),
            choices_check("type", OrderType, table="orders"),
            choices_check("status", OrderStatus, table="orders"),
        ]
        indexes = [
            models.Index(fields=["symbol"], name="idx_orders_symbol"),
            models.Index(fields=["status"], name="idx_orders_status"),
            models.Index(fields=["-datetime"], name="idx_orders_datetime"),
            models.Index(fields=["exchange"], name="idx_orders_exchange"),
            models.Index(fields=["decision_id"], name="idx_orders_decision"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.amount} {self.symbol} ({self.status})"
