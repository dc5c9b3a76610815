"""Portfolio snapshots (one per exchange and day, the equity curve's points) and the cash flows between
them."""

from django.db import models

from apps.common.fields import CurrentTimestamp, Money, Ratio, choices_check


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
    net_flow = Money(
        db_default=0,
        default=0,
        help_text="Deposits less withdrawals since the previous snapshot, in the reporting currency.",
    )
    reporting_currency = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="The currency every value of the row is in.",
    )
    rates = models.JSONField(
        null=True,
        blank=True,
        help_text="The conversion rates used: {currency: {rate, source}}, a unit in the reporting currency.",
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


class CashFlowKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRANSFER_IN = "transfer_in", "Transfer in (from another account)"
    TRANSFER_OUT = "transfer_out", "Transfer out (to another account)"


class CashFlowSource(models.TextChoices):
    EXCHANGE = "exchange", "The exchange (read by reconciliation)"
    API = "api", "An agent, through the API"
    ADMIN = "admin", "An operator, in the admin"


# Money that enters an account (deposit, transfer in) or leaves it (withdrawal, transfer out): never a return.
INFLOWS = (CashFlowKind.DEPOSIT, CashFlowKind.TRANSFER_IN)


class CashFlow(models.Model):
    """Money moved into or out of an account by its owner: a deposit, a withdrawal, or one leg of a transfer
    between two accounts (the two legs share `transfer_group`). Returns are measured net of these
    (docs/metrics.md, "Cash flows")."""

    exchange = models.ForeignKey(
        "exchanges.Exchange",
        on_delete=models.PROTECT,
        related_name="cash_flows",
    )
    kind = models.CharField(
        max_length=20,
        choices=CashFlowKind.choices,
    )
    currency = models.CharField(
        max_length=20,
    )
    amount = Money(
        help_text="What entered or left the account, in `currency`; positive (the kind says which way).",
    )
    fee = Money(
        null=True,
        blank=True,
        help_text="A withdrawal's network fee, in `currency`: a cost of the account, kept in the return.",
    )
    value = Money(
        null=True,
        blank=True,
        help_text="The amount in the reporting currency. Empty: the next snapshot values it at its rate.",
    )
    reporting_currency = models.CharField(
        max_length=20,
        null=True,
        blank=True,
    )
    external_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="The exchange's id of the transaction (or the sender's own): a flow is recorded once.",
    )
    txid = models.CharField(
        max_length=200,
        null=True,
        blank=True,
    )
    transfer_group = models.UUIDField(
        null=True,
        blank=True,
        help_text="The two legs of a transfer between accounts share it.",
    )
    source = models.CharField(
        max_length=20,
        choices=CashFlowSource.choices,
    )
    recorded_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        help_text="The agent or the operator who recorded it; empty for the exchange.",
    )
    note = models.TextField(
        blank=True,
        default="",
    )
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
        db_table = "cash_flows"
        ordering = ["-datetime"]
        constraints = [
            choices_check("kind", CashFlowKind, table="cash_flows"),
            choices_check("source", CashFlowSource, table="cash_flows"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="cash_flows_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(fee__isnull=True) | models.Q(fee__gte=0),
                name="cash_flows_fee_not_negative",
            ),
            models.UniqueConstraint(
                fields=["exchange", "kind", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="cash_flows_exchange_kind_external_id_key",
            ),
        ]
        indexes = [
            models.Index(fields=["exchange", "datetime"], name="idx_cash_flows_exchange_time"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.kind} {self.amount} {self.currency}"

    @property
    def sign(self) -> int:
        return 1 if self.kind in INFLOWS else -1
