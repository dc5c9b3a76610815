"""Strategies as versioned JSON configurations, and their performance metrics per date range."""

from django.db import models

from apps.common.fields import CurrentTimestamp, Money, Ratio


class Strategy(models.Model):
    name = models.CharField(
        max_length=100,
    )
    version = models.CharField(
        max_length=20,
    )
    description = models.TextField(
        null=True,
        blank=True,
    )
    config = models.JSONField()
    is_active = models.BooleanField(
        null=True,
        db_default=False,
    )
    total_trades = models.IntegerField(
        null=True,
        db_default=0,
    )
    win_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Percent.",
    )
    total_return = Ratio(
        null=True,
        blank=True,
        help_text="Percent.",
    )
    created_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
    )
    updated_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
        help_text="Kept current by the database trigger update_strategies_updated_at.",
    )
    activated_at = models.DateTimeField(
        null=True,
        blank=True,
    )
    deactivated_at = models.DateTimeField(
        null=True,
        blank=True,
    )
    reason_for_update = models.TextField(
        null=True,
        blank=True,
    )

    class Meta:
        db_table = "strategies"
        ordering = ["name", "-created_at"]
        verbose_name_plural = "strategies"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="strategies_name_version_key"),
            # At most one live version per strategy name; activation goes through strategy_activate.
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(is_active=True),
                name="strategies_one_active_version",
                violation_error_message="Another version of this strategy is already active; "
                "use the “Activate” action to switch versions.",
            ),
        ]
        indexes = [
            models.Index(fields=["is_active"], name="idx_strategies_active"),
            models.Index(fields=["name"], name="idx_strategies_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class PerformanceMetrics(models.Model):
    strategy = models.ForeignKey(
        Strategy,
        on_delete=models.CASCADE,
        null=True,
        db_index=False,
        related_name="performance_metrics",
    )
    start_date = models.DateField()
    end_date = models.DateField()
    total_return = Ratio(
        null=True,
        blank=True,
    )
    annualized_return = Ratio(
        null=True,
        blank=True,
    )
    daily_returns = models.JSONField(
        null=True,
        blank=True,
    )
    volatility = Ratio(
        null=True,
        blank=True,
    )
    max_drawdown = Ratio(
        null=True,
        blank=True,
    )
    sharpe_ratio = Ratio(
        null=True,
        blank=True,
    )
    sortino_ratio = Ratio(
        null=True,
        blank=True,
    )
    calmar_ratio = Ratio(
        null=True,
        blank=True,
    )
    total_trades = models.IntegerField(
        null=True,
        blank=True,
    )
    winning_trades = models.IntegerField(
        null=True,
        blank=True,
    )
    losing_trades = models.IntegerField(
        null=True,
        blank=True,
    )
    win_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
    )
    avg_win = Money(
        null=True,
        blank=True,
    )
    avg_loss = Money(
        null=True,
        blank=True,
    )
    profit_factor = Ratio(
        null=True,
        blank=True,
    )
    max_consecutive_wins = models.IntegerField(
        null=True,
        blank=True,
    )
    max_consecutive_losses = models.IntegerField(
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
    )

    class Meta:
        db_table = "performance_metrics"
        ordering = ["-end_date"]
        verbose_name_plural = "performance metrics"
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "start_date", "end_date"],
                name="performance_metrics_strategy_id_start_date_end_date_key",
            ),
        ]
        indexes = [
            models.Index(fields=["strategy"], name="idx_performance_metrics_strategy"),
            models.Index(fields=["start_date", "end_date"], name="idx_performance_metrics_date_range"),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} {self.start_date}..{self.end_date}"
