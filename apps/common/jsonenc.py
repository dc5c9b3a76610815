"""Fast JSON encoding that writes what the standard library with Django's encoder would write.

orjson, with DjangoJSONEncoder for what JSON has no type for, so a Decimal, a datetime or a date reads back
exactly as Django writes it (Decimal("45000.10") as "45000.10", a UTC moment as "2026-01-01T00:00:00.123Z").
Short-term memory's values and reconciliation's discrepancies are encoded here: json.dumps was most of
a 1,000-ticker batch, and as long as the database took to store 50,000 fills.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder

_DJANGO_ENCODER = DjangoJSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON of `value`; a TypeError (as json.dumps raises) for what cannot be encoded."""
    try:
        return orjson.dumps(value, default=_DJANGO_ENCODER.default, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:  # a TypeError subclass
        if "64-bit" not in str(exc):
            raise
        # The one value orjson refuses that JSON allows: an integer past 64 bits.
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()
