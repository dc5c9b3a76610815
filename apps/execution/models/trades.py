"""Trades (fills) as the exchange reports them, and the today_trades view."""

from django.db import models

from apps.common.fields import CurrentTimestamp, Money, choices_check

from .choices import Side


class AbstractTrade(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=100,
        help_text="The exchange's trade id.",
    )
    order = models.ForeignKey(
        "execution.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="trades",
    )
    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.PROTECT,
        null=True,
        db_index=False,
        related_name="trades",
    )
    symbol = models.CharField(
        max_length=20,
    )
    side = models.CharField(
        max_length=10,
        choices=Side.choices,
    )
    price = Money()
    amount = Money()
    cost = Money()
    fee = Money(
        null=True,
        blank=True,
    )
    fee_currency = models.CharField(
        max_length=10,
        null=True,
        blank=True,
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
    raw_data = models.JSONField(
        null=True,
        blank=True,
        help_text="The exchange's own response (ccxt's info).",
    )

    class Meta:
        abstract = True
        ordering = ["-datetime"]

    def __str__(self) -> str:
        return f"{self.side} {self.amount} {self.symbol} @ {self.price}"


class Trade(AbstractTrade):
    class Meta(AbstractTrade.Meta):
        db_table = "trades"
        constraints = [
            choices_check("side", Side, table="trades"),
        ]
        indexes = [
            models.Index(fields=["order"], name="idx_trades_order"),
            models.Index(fields=["symbol"], name="idx_trades_symbol"),
            models.Index(fields=["-datetime"], name="idx_trades_datetime"),
            models.Index(fields=["exchange"], name="idx_trades_exchange"),
        ]


class TodayTrade(AbstractTrade):
    """The database view today_trades: trades whose datetime falls on today's date (UTC)."""

    order = models.ForeignKey(
        "execution.Order",
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="+",
    )
    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="+",
    )

    class Meta(AbstractTrade.Meta):
        managed = False
        db_table = "today_trades"
        verbose_name = "today's trade"
