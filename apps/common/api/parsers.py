"""The API's only parser: JSON with numbers as Decimal, no NaN/Infinity, and a size limit (413)."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .exceptions import PayloadTooLarge


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
            return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from None
