"""tradeoffice-client: TradeOffice's API from a trading agent, ccxt that records itself, an MCP server."""

from ._http import AUTO, RetryPolicy
from ._json import decimal_text
from .client import AsyncTradeOffice, TradeOffice
from .errors import (
    ApiError,
    AuthenticationError,
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    Throttled,
    TradeOfficeError,
    Unreachable,
    ValidationError,
)
from .recording import (
    AsyncRecordingExchange,
    FlushResult,
    RecordingExchange,
    current_decision,
)
from .spool import Spool

__version__ = "0.1.0"

__all__ = [
    "AUTO",
    "ApiError",
    "AsyncRecordingExchange",
    "AsyncTradeOffice",
    "AuthenticationError",
    "Conflict",
    "FlushResult",
    "IdempotencyKeyReused",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RecordingExchange",
    "RetryPolicy",
    "ServiceUnavailable",
    "Spool",
    "Throttled",
    "TradeOffice",
    "TradeOfficeError",
    "Unreachable",
    "ValidationError",
    "current_decision",
    "decimal_text",
]
