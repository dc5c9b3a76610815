"""Strategies and performance metrics out."""

from rest_framework import serializers

from apps.strategies.models import PerformanceMetrics, Strategy


class StrategySerializer(serializers.ModelSerializer):
    class Meta:
        model = Strategy
        fields = [
            "id",
            "name",
            "version",
            "description",
            "config",
            "is_active",
            "total_trades",
            "win_rate",
            "total_return",
            "created_at",
            "updated_at",
            "activated_at",
            "deactivated_at",
            "reason_for_update",
        ]
        read_only_fields = fields


class PerformanceMetricsSerializer(serializers.ModelSerializer):
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, allow_null=True)
    strategy_version = serializers.CharField(source="strategy.version", read_only=True, allow_null=True)

    class Meta:
        model = PerformanceMetrics
        fields = [
            "id",
            "strategy",
            "strategy_name",
            "strategy_version",
            "start_date",
            "end_date",
            "total_return",
            "annualized_return",
            "daily_returns",
            "volatility",
            "max_drawdown",
            "sharpe_ratio",
            "sortino_ratio",
            "calmar_ratio",
            "total_trades",
            "winning_trades",
            "losing_trades",
            "win_rate",
            "avg_win",
            "avg_loss",
            "profit_factor",
            "max_consecutive_wins",
            "max_consecutive_losses",
            "created_at",
        ]
        read_only_fields = fields
