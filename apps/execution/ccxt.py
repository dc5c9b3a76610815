"""ccxt's unified structures in the seed's vocabulary: one mapping for the API, the import, reconciliation.

ccxt passes many exchanges' own words through (Binance's `limit_maker`, OKX's `post_only`, Kraken's
`stop-loss`), and its structures carry fees as `fee: {cost, currency}` and a `fees` list. Every place
that reads a ccxt order or trade asks this module what it means in the seed's terms, so a value
accepted by one path is accepted by all of them, with the same refusal when it is not.

Each function takes the value as ccxt (or a client using the seed's own names) sent it and returns the
seed's value, or raises `VocabularyError` whose message names what is accepted; callers prefix it with
the field's name. Range and scale (NUMERIC(20, 8), lengths) are the columns' business, checked by the
caller; this module says what a value *means*.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, NamedTuple

from apps.execution.models import OrderStatus, OrderType, Side

# ccxt's unified order statuses, and spellings exchanges use, onto the seed's. ccxt's `open` with a
# filled amount is partially_filled: the order service decides that, where the filled amount is known
# (apps.execution.services.orders.order_effective_status).
STATUS_SYNONYMS: dict[str, OrderStatus] = {
    "closed": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELED,
    "new": OrderStatus.OPEN,
    "partial": OrderStatus.PARTIALLY_FILLED,
}

# Exchanges' own order types that ccxt passes through (lower case, with `-`, `_` or a space).
TYPE_SYNONYMS: dict[str, OrderType] = {
    "limit_maker": OrderType.LIMIT,
    "post_only": OrderType.LIMIT,
    "fok": OrderType.LIMIT,
    "ioc": OrderType.LIMIT,
    "stop": OrderType.STOP_LOSS,
    "stop_market": OrderType.STOP_LOSS,
    "stop_loss_market": OrderType.STOP_LOSS,
    "stop_limit": OrderType.STOP_LOSS_LIMIT,
    "take_profit_market": OrderType.TAKE_PROFIT,
}

# ccxt's position structure says long/short where an order or a trade says buy/sell.
POSITION_SIDE_SYNONYMS: dict[str, Side] = {"long": Side.BUY, "short": Side.SELL}

# Client order ids that mean "none": ccxt's Kraken parser reports the order's `userref` as its
# clientOrderId, and an order placed without one has userref 0, so every such order arrives as "0".
# Keyed on "0", the second of them would collide with the first; absent, each is keyed on the
# exchange's own order id, as every order without a client id is.
PLACEHOLDER_CLIENT_ORDER_IDS = frozenset({"", "0"})

SEVERAL_CURRENCIES = (
    "`fees` are in several currencies ({currencies}); the seed records one fee. "
    "Send `fee: {{cost, currency}}` with the one to record."
)


class VocabularyError(ValueError):
    """A value ccxt's vocabulary has no seed meaning for; the message says what is accepted."""


class Fee(NamedTuple):
    cost: Decimal | None
    currency: Any  # the currency code as sent (a string in ccxt); its length is the column's business


def _lookup(direct: dict[str, Any], value: Any) -> Any:
    """The entry for `value` as sent, or for its token: lower case, `-` and spaces as `_`."""
    if type(value) is str:
        # The exact spelling first: the import asks this once per line of files of a million.
        found = direct.get(value)
        if found is not None:
            return found
        return direct.get(value.strip().lower().replace("-", "_").replace(" ", "_"))
    return None


def _unknown(value: Any, allowed: type[Enum]) -> VocabularyError:
    return VocabularyError(f"{str(value)[:50]!r} is not one of: {', '.join(m.value for m in allowed)}.")


def _terms(choices: type[Enum], synonyms: dict[str, Any]) -> dict[str, Any]:
    return {**{member.value: member for member in choices}, **synonyms}


_STATUSES = _terms(OrderStatus, STATUS_SYNONYMS)
_TYPES = _terms(OrderType, TYPE_SYNONYMS)
_SIDES = _terms(Side, {})
_POSITION_SIDES = _terms(Side, POSITION_SIDE_SYNONYMS)


def order_status(value: Any) -> OrderStatus:
    """The seed's status for ccxt's (open, closed, canceled, expired, rejected) or the seed's own."""
    status = _lookup(_STATUSES, value)
    if status is None:
        raise _unknown(value, OrderStatus)
    return status


def order_type(value: Any) -> OrderType:
    """The seed's order type: its own six, or an exchange's word for one of them (TYPE_SYNONYMS)."""
    kind = _lookup(_TYPES, value)
    if kind is None:
        raise _unknown(value, OrderType)
    return kind


def side(value: Any) -> Side:
    """An order's or a trade's side: buy or sell, in any case."""
    found = _lookup(_SIDES, value)
    if found is None:
        raise _unknown(value, Side)
    return found


def position_side(value: Any) -> Side:
    """A position's side: ccxt's long/short, or buy/sell."""
    found = _lookup(_POSITION_SIDES, value)
    if found is None:
        raise _unknown(value, Side)
    return found


def client_order_id(value: Any) -> Any:
    """None when ccxt's clientOrderId is a placeholder ("0", empty), else the value as sent.

    The caller then keys the order on the exchange's order id, as for any order without a client
    id. Whether what is left is valid text is the caller's check.
    """
    if value is None:
        return None
    if type(value) is str:
        return None if value.strip() in PLACEHOLDER_CLIENT_ORDER_IDS else value
    if type(value) is int and value == 0:  # a raw Kraken userref
        return None
    return value


def _cost(value: Any) -> Decimal | None:
    if value is None:
        return None
    kind = type(value)
    try:
        if kind is Decimal:
            number = value
        elif kind is int:
            number = Decimal(value)
        elif kind is float:
            number = Decimal(repr(value))  # the float's shortest spelling: 0.1 is 0.1
        elif kind is str and 0 < len(value.strip()) <= 100:
            number = Decimal(value.strip())
        else:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise VocabularyError(f"{str(value)[:50]!r} is not a number.") from None
    if not number.is_finite():
        raise VocabularyError(f"{str(value)[:50]!r} is not a finite number.")
    return number


def fee(*, fee: Any = None, fees: Any = None, fee_currency: Any = None) -> Fee:
    """The one fee (cost, currency) the seed records for ccxt's `fee` and `fees`.

    - `fee` is ccxt's `{cost, currency}` or a plain number (the seed's `fee`, with `fee_currency`).
    - Without a cost in `fee`, the `fees` list: its costs summed when they are in one currency.
      Entries without a cost say nothing and are skipped; zero-cost entries are skipped when other
      entries charge something (ccxt lists a zero fee in the exchange's token beside the real one).
      Costs in several currencies cannot be one column: VocabularyError, saying what to send.
    - `fee_currency`, the seed's own name, wins over the currency of ccxt's structures when given.

    A negative cost is a maker rebate (ccxt's sign convention: OKX and others pay makers) and is
    kept as it is, negative; no caller refuses a fee for its sign.
    """
    currency = None
    cost = None
    if isinstance(fee, dict):
        cost = _cost(fee.get("cost"))
        currency = fee.get("currency")
    elif fee is not None:
        cost = _cost(fee)
    if cost is None and fees:
        cost, currency = _sum_fees(fees)
    if fee_currency is not None and fee_currency != "":
        currency = fee_currency
    return Fee(cost, currency)


def _sum_fees(fees: Any) -> tuple[Decimal | None, Any]:
    if not isinstance(fees, list | tuple) or not all(isinstance(entry, dict) for entry in fees):
        raise VocabularyError("`fees` must be a list of {cost, currency}.")
    known = [(_cost(entry.get("cost")), entry.get("currency")) for entry in fees]
    known = [(cost, currency) for cost, currency in known if cost is not None]
    if not known:
        return None, None
    charged = [(cost, currency) for cost, currency in known if cost != 0] or known
    currencies = {currency for _, currency in charged}
    if len(currencies) > 1:
        shown = ", ".join(sorted(str(c) for c in currencies))
        raise VocabularyError(SEVERAL_CURRENCIES.format(currencies=shown))
    return sum((cost for cost, _ in charged), Decimal(0)), currencies.pop()
