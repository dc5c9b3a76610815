"""JSON as the API speaks it: Decimal out as a decimal string, numbers in as Decimal, never a float."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite amount")
        return format(value, "f")  # never an exponent: 1E-8 is "0.00000001"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    """UTF-8 JSON; NaN and Infinity are refused here rather than by the server."""
    return json.dumps(
        value, default=_default, allow_nan=False, separators=(",", ":"), ensure_ascii=False
    ).encode()


def loads(data: bytes | str) -> Any:
    """Numbers with a fraction become Decimal, so an amount the API sent as a number stays exact."""
    return json.loads(data, parse_float=Decimal)


def decimal_text(value: Any) -> str | None:
    """An amount as the decimal string the API takes: ccxt's floats by their shortest repr (0.1 is "0.1",
    not 0.1000000000000000055...), Decimals and strings as they are."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, float):
        value = Decimal(repr(value))
    elif not isinstance(value, Decimal):
        value = Decimal(str(value))
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    return format(value, "f")
