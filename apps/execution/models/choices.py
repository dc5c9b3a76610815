"""The seed's CHECK lists for orders, trades and positions, as choices."""

from django.db import models


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderType(models.TextChoices):
    MARKET = "market", "Market"
    LIMIT = "limit", "Limit"
    STOP_LOSS = "stop_loss", "Stop loss"
    STOP_LOSS_LIMIT = "stop_loss_limit", "Stop loss limit"
    TAKE_PROFIT = "take_profit", "Take profit"
    TAKE_PROFIT_LIMIT = "take_profit_limit", "Take profit limit"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELED = "canceled", "Canceled"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"

    @classmethod
    def terminal(cls) -> frozenset[str]:
        """States an order never leaves."""
        return frozenset({cls.FILLED, cls.CANCELED, cls.REJECTED, cls.EXPIRED})
