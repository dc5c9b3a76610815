"""Portfolio snapshots: one per exchange and day, the equity curve's points."""

from django.db import models

from apps.common.fields import CurrentTimestamp, Money, Ratio


class PortfolioSnapshot(models.Model):
    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.PROTECT,
        null=True,
        db_index=False,
        related_name="portfolio_snapshots",
    )
    total_value = Money()
    cash = Money()
    positions_value = Money(
        null=True,
        blank=True,
    )
    total_pnl = Money(
        null=True,
        blank=True,
    )
    daily_pnl = Money(
        null=True,
        blank=True,
    )
    total_return = Ratio(
        null=True,
        blank=True,
        help_text="Percent.",
    )
    positions = models.JSONField(
        null=True,
        blank=True,
        help_text="The open positions at snapshot time.",
    )
    snapshot_date = models.DateField()
    timestamp = models.BigIntegerField(
        help_text="Milliseconds since the epoch.",
    )
    datetime = models.DateTimeField()
    created_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
    )

    class Meta:
        db_table = "portfolio_snapshots"
        ordering = ["-snapshot_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "snapshot_date"],
                name="portfolio_snapshots_exchange_id_snapshot_date_key",
            ),
        ]
        indexes = [
            models.Index(fields=["-snapshot_date"], name="idx_portfolio_snapshots_date"),
            models.Index(fields=["exchange"], name="idx_portfolio_snapshots_exchange"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.snapshot_date}: {self.total_value}"
