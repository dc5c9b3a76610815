"""Serializer fields for the seed's columns: NUMERIC(20,8) money as Decimal, JSON blobs, epoch ms."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from rest_framework import serializers

# The largest epoch-milliseconds value Python's datetime can hold (9999-12-31T23:59:59.999Z).
MAX_TIMESTAMP_MS = 253_402_300_799_999


class MoneyField(serializers.DecimalField):
    """A NUMERIC(max_digits, decimal_places) column as a Decimal, in and out (a string in JSON).

    Accepts a JSON number or a decimal string. Refuses NaN, Infinity, booleans and values whose
    whole part does not fit the column. Digits past the column's scale are rounded half-up, as
    PostgreSQL would: ccxt derives `average` and `cost` by division and sends more places than
    any exchange stores.
    """

    default_error_messages = {
        "invalid": "A number is required (a JSON number or a decimal string).",
        "not_finite": "NaN and Infinity are not amounts; send a finite number.",
        "too_large": "Out of range: at most {whole_digits} digits before the decimal point.",
        "negative": "Must not be negative.",
        "not_positive": "Must be greater than zero.",
    }

    def __init__(
        self,
        *,
        max_digits: int = 20,
        decimal_places: int = 8,
        signed: bool = False,
        positive: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)
        self.signed = signed
        self.positive = positive
        self.whole_digits = max_digits - decimal_places
        self.quantum = Decimal(1).scaleb(-decimal_places)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        if isinstance(data, str):
            data = data.strip()
            if not data or len(data) > 100:
                self.fail("invalid")
        try:
            value = Decimal(str(data)) if not isinstance(data, Decimal) else data
        except (InvalidOperation, ValueError):
            self.fail("invalid")
        if not value.is_finite():
            self.fail("not_finite")
        if value and value.adjusted() >= self.whole_digits:
            self.fail("too_large", whole_digits=self.whole_digits)
        value = value.quantize(self.quantum, rounding=ROUND_HALF_UP)
        if abs(value) >= Decimal(10) ** self.whole_digits:
            self.fail("too_large", whole_digits=self.whole_digits)
        if not self.signed and value < 0:
            self.fail("negative")
        if self.positive and value <= 0:
            self.fail("not_positive")
        return value


def RatioField(**kwargs: Any) -> MoneyField:
    """NUMERIC(10,4): percentages and ratios, signed."""
    kwargs.setdefault("signed", True)
    return MoneyField(max_digits=10, decimal_places=4, **kwargs)


def _json_ready(value: Any, path: str = "") -> Any:
    """JSON parsed with Decimal fractions back to plain JSON values for a JSONB column.

    These blobs (ccxt's `info`, an input context) are the caller's own documents: a fraction in
    them goes back to the float JSON already meant, exactly as a JSON library would read it.
    """
    if isinstance(value, Decimal):
        number = float(value)
        if not math.isfinite(number):
            raise serializers.ValidationError(f"{path or 'value'}: the number {value} is out of range.")
        return number
    if isinstance(value, float) and not math.isfinite(value):
        raise serializers.ValidationError(f"{path or 'value'}: NaN and Infinity are not JSON.")
    if isinstance(value, dict):
        return {
            _json_ready(str(k), path): _json_ready(v, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_json_ready(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        # PostgreSQL's jsonb holds neither NUL characters nor unpaired surrogates (\ud800).
        if "\x00" in value:
            raise serializers.ValidationError(f"{path or 'value'}: NUL characters are not allowed.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError(f"{path or 'value'}: not valid Unicode text.") from None
    return value


class JsonBlobField(serializers.JSONField):
    """A JSONB column: any JSON value, stored as sent."""

    def __init__(self, *, object_only: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.object_only = object_only

    def to_internal_value(self, data: Any) -> Any:
        if self.object_only and not isinstance(data, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        return super().to_internal_value(_json_ready(data))


class TextListField(serializers.ListField):
    """A TEXT[] column."""

    def __init__(self, **kwargs: Any) -> None:
        # DRF's CharField already refuses NUL characters and unpaired surrogates.
        kwargs.setdefault("child", serializers.CharField(max_length=10_000, allow_blank=True))
        kwargs.setdefault("max_length", 1_000)
        super().__init__(**kwargs)


class TimestampField(serializers.IntegerField):
    """Milliseconds since the epoch, as ccxt reports them."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_TIMESTAMP_MS)
        kwargs.setdefault("help_text", "Milliseconds since the epoch (ccxt's `timestamp`).")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, Decimal):
            # JSON `1700000000000.0`: whole milliseconds only.
            if data != data.to_integral_value():
                self.fail("invalid")
            data = int(data)
        return super().to_internal_value(data)
