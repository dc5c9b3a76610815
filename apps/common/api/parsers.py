"""The API's only parser: JSON with numbers as Decimal, no NaN/Infinity, a size (413) and a depth limit."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .exceptions import PayloadTooLarge

# Deepest nesting of arrays and objects a body may have. ccxt's `info` blobs and agents' contexts are a
# handful of levels deep; hundreds of levels only exhaust the recursion of whatever walks them next.
MAX_JSON_DEPTH = 64


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows; send a finite number or a decimal string")


class DecimalJSONParser(JSONParser):
    """Fractions are parsed straight to Decimal, so `0.1` arrives as Decimal("0.1"), never via a float."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.API_MAX_BODY_BYTES
        request = parser_context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit} bytes.")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes.")
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"The body is not valid {encoding} text.") from None
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from None
        if _deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
        return data


def _deeper_than(data, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
