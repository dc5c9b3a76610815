"""Argument types and error shaping shared by the maintenance commands."""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


def iso_date(text: str) -> date:
    """An argparse type: YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD.") from exc


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number.") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1.")
    return value


def decimal_value(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number.") from exc
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number.")
    return value


def name_amount(text: str) -> tuple[str, Decimal]:
    """NAME=AMOUNT, e.g. binance=12500.50."""
    name, sep, amount = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=AMOUNT, e.g. binance=12500.50.")
    return name.strip().lower(), decimal_value(amount.strip())


def currency_rate(text: str) -> tuple[str, Decimal]:
    """CURRENCY=RATE, e.g. BTC=65000: one unit of the currency in the reporting currency; positive."""
    currency, sep, rate = text.partition("=")
    if not sep or not currency.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not CURRENCY=RATE, e.g. BTC=65000.")
    value = decimal_value(rate.strip())
    if value <= 0:
        raise argparse.ArgumentTypeError(f"The rate in {text!r} must be positive.")
    return currency.strip().upper(), value


def date_range(start: date, end: date) -> None:
    if start > end:
        raise CommandError(f"The start date {start} is after the end date {end}; swap them.")


def command_error(exc: ValidationError) -> CommandError:
    """A ValidationError as one readable line."""
    if hasattr(exc, "error_dict"):
        text = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    else:
        text = " ".join(exc.messages)
    return CommandError(text)
