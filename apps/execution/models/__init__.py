"""Orders, trades and positions, one module each; the views current_positions and today_trades."""

from .choices import OrderStatus, OrderType, Side
from .orders import Order
from .positions import CurrentPosition, Position
from .trades import TodayTrade, Trade

__all__ = [
    "CurrentPosition",
    "Order",
    "OrderStatus",
    "OrderType",
    "Position",
    "Side",
    "TodayTrade",
    "Trade",
]
