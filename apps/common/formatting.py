"""Numbers as a trader reads them: money in its currency to 2 places with its sign coloured, percentages
with %, prices and amounts at the market's precision (trailing zeros dropped), UTC said."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.html import format_html

DASH = "—"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def plain_money(value, currency: str | None = None, *, places: int = 2, signed: bool = True) -> str:
    """'+1,234.56 USDT', '-0.70 USDT', '0.00 USDT'; '—' for nothing."""
    number = _decimal(value)
    if number is None:
        return DASH
    number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "+" if signed and number > 0 else ""
    text = f"{sign}{number:,.{places}f}"
    return f"{text} {currency}" if currency else text


def sign_class(value) -> str:
    number = _decimal(value)
    if number is None or number == 0:
        return "num-zero"
    return "num-pos" if number > 0 else "num-neg"


def money(value, currency: str | None = None, *, places: int = 2, signed: bool = True) -> str:
    """plain_money in a span whose class colours it by sign (num-pos green, num-neg red)."""
    return format_html(
        '<span class="{}">{}</span>',
        sign_class(value),
        plain_money(value, currency, places=places, signed=signed),
    )


def percent(value, *, places: int = 2, signed: bool = True, ratio: bool = False) -> str:
    """'-0.74 %' from -0.7449 (a value already in percent), or from -0.007449 with ratio=True."""
    number = _decimal(value)
    if number is None:
        return DASH
    if ratio:
        number *= 100
    return format_html(
        '<span class="{}">{} %</span>', sign_class(number), plain_money(number, places=places, signed=signed)
    )


def quantity(value, *, max_places: int = 8) -> str:
    """A price or an amount at the precision it carries (NUMERIC(20,8) pads zeros): 0.01500000 -> 0.015."""
    number = _decimal(value)
    if number is None:
        return DASH
    number = number.quantize(Decimal(1).scaleb(-max_places))
    text = f"{number:,.{max_places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def price(value) -> str:
    """A price at a market's usual precision: 2 places from 100 up, 4 from 1, else up to 8 (no padding)."""
    number = _decimal(value)
    if number is None:
        return DASH
    places = 2 if abs(number) >= 100 else 4 if abs(number) >= 1 else 8
    text = f"{number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"
    return text.rstrip("0").rstrip(".") if places == 8 else text


def quote_currency(symbol: str | None) -> str | None:
    """'USDT' of 'BTC/USDT' (and of ccxt's 'BTC/USDT:USDT')."""
    if not symbol or "/" not in symbol:
        return None
    return symbol.split("/", 1)[1].split(":", 1)[0] or None
