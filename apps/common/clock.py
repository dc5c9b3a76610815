"""Time in the two forms the seed stores side by side: `timestamp` (epoch ms) and `datetime`."""

from datetime import UTC, datetime


def now_ms() -> int:
    return int(datetime.now(tz=UTC).timestamp() * 1000)


def from_ms(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
