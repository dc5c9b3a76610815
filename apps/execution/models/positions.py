"""Positions per exchange and symbol, and the current_positions view."""

from django.db import models

from apps.common.fields import CurrentTimestamp, Money, Ratio, choices_check

from .choices import Side


class AbstractPosition(models.Model):
    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.PROTECT,
        null=True,
        db_index=False,
        related_name="positions",
    )
    symbol = models.CharField(
        max_length=20,
    )
    side = models.CharField(
        max_length=10,
        choices=Side.choices,
    )
    amount = Money()
    entry_price = Money()
    current_price = Money()
    unrealized_pnl = Money(
        null=True,
        blank=True,
    )
    unrealized_pnl_percentage = Ratio(
        null=True,
        blank=True,
    )
    value = Money(
        null=True,
        blank=True,
    )
    stop_loss = Money(
        null=True,
        blank=True,
    )
    take_profit = Money(
        null=True,
        blank=True,
    )
    is_open = models.BooleanField(
        null=True,
        db_default=True,
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(
        null=True,
        blank=True,
    )
    updated_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
        help_text="Kept current by the database trigger update_positions_updated_at.",
    )
    # Realized PnL from the position's fills by average cost (docs/metrics.md, "Realized PnL"),
    # written by apps/execution/services/realized.py only: on close and by compute_realized_pnl.
    realized_pnl = Money(
        null=True,
        blank=True,
        editable=False,
        help_text="Realized PnL in the quote currency, net of realized_fees; NULL when the fills do not "
        "explain the position (realized_note says why).",
    )
    realized_fees = Money(
        null=True,
        blank=True,
        editable=False,
        help_text="The fees in realized_pnl, in the quote currency: quote fees, and base fees at the fill "
        "price; a maker rebate counts negative.",
    )
    realized_other_fees = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="Fees in other currencies (an exchange token), by currency, not converted and not in "
        "realized_pnl.",
    )
    realized_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When these realized figures were computed.",
    )
    realized_note = models.TextField(
        null=True,
        blank=True,
        editable=False,
        help_text="Why realized_pnl is NULL, or what the figures leave out.",
    )

    class Meta:
        abstract = True
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"{self.side} {self.amount} {self.symbol} ({state})"


class Position(AbstractPosition):
    class Meta(AbstractPosition.Meta):
        db_table = "positions"
        constraints = [
            choices_check("side", Side, table="positions"),
            # The seed's UNIQUE(exchange_id, symbol, is_open) would forbid a second *closed*
            # position for a symbol; only one *open* position per exchange and symbol is meant.
            models.UniqueConstraint(
                fields=["exchange", "symbol"],
                condition=models.Q(is_open=True),
                name="positions_exchange_id_symbol_open_key",
                violation_error_message="An open position for this exchange and symbol already exists.",
            ),
        ]
        indexes = [
            models.Index(fields=["symbol"], name="idx_positions_symbol"),
            models.Index(fields=["is_open"], name="idx_positions_is_open"),
            models.Index(fields=["exchange"], name="idx_positions_exchange"),
            # The changelist's order and date hierarchy (-opened_at; MIN and MAX): else a sort of every row.
            models.Index(fields=["-opened_at"], name="idx_positions_opened_at"),
        ]


class CurrentPosition(AbstractPosition):
    """The database view current_positions: positions with is_open = TRUE."""

    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="+",
    )

    class Meta(AbstractPosition.Meta):
        managed = False
        db_table = "current_positions"
        verbose_name = "current position"
