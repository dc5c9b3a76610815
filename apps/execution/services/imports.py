"""Bulk import of ccxt trades and orders from JSON lines or CSV: COPY straight into `trades` when nothing
can conflict, else COPY into a staging table and merge.

The file is read one line at a time and streamed with COPY in batches, so memory stays flat whatever
the file's size. Each line is validated in Python against the columns' own rules (side, type and
status lists, NUMERIC(20, 8) bounds, lengths, positive amounts); a line that fails is rejected with
its number and the reason, and the rest goes on.

The usual file, new trades of orders already recorded, is copied straight into `trades` under a
savepoint: the database inserts while the next lines are parsed, and no second pass over the rows
is needed. Anything that may conflict ends that attempt: an order in the file, a trade id already
recorded or repeated in the file (the unique index on id refuses it), a trade of an order not
recorded on this exchange (looked up after each batch), or any other row the database refuses. The
savepoint is rolled back and the file is read again through the staged merge, whose outcome is the
same as if it had been the only path: it rejects what only the database can tell (a trade whose
order is unknown, a client order id that belongs to another order) and inserts the rest with
INSERT ... SELECT ... ON CONFLICT DO NOTHING, so importing the same file twice changes nothing the
second time. Existing rows are never rewritten: the import only adds what is missing.

A record is an order when it has a `status` (ccxt's order structure), a trade otherwise (ccxt's
trade structure); orders are merged before trades, so one file may hold both. Statuses, types, sides,
fees and client order ids are read through ccxt's vocabulary (apps.execution.ccxt), as the API reads
them, so a file line and an API post of the same ccxt structure are accepted or refused alike.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from json.encoder import c_make_encoder, encode_basestring_ascii
from pathlib import Path
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from apps.common.clock import from_ms, to_ms
from apps.exchanges.models import Exchange
from apps.execution import ccxt
from apps.execution.services.orders import order_effective_status

BATCH_SIZE = 5_000
MAX_REPORTED_REJECTIONS = 1_000
MONEY_SCALE = Decimal("0.00000001")
MONEY_LIMIT = Decimal(10) ** 12  # NUMERIC(20, 8): twelve digits before the point
ZERO = Decimal(0)  # a constant: building Decimal(0) at each call was a tenth of the line parser's time
# Rounding as the column does, in a context of its own: quantize(rounding=...) builds one per call.
_ROUND_TO_COLUMN = Context(
    prec=28, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)
# ccxt timestamps are milliseconds; anything before September 2001 is almost surely seconds.
MIN_TIMESTAMP_MS = 1_000_000_000_000

STAGE = "import_stage"
SOURCE = "__source__"  # the record's JSON text, kept beside the parsed record
INFO_TEXT = "__info__"  # a CSV line's `info` cell, JSON text as the file has it
STAGE_COLUMNS = (
    "line_no", "kind", "id", "order_id", "client_order_id", "symbol", "side", "type", "status",
    "price", "amount", "cost", "filled", "remaining", "average", "fee", "fee_currency",
    "stop_price", "take_profit_price", "stop_loss_price", "timestamp", "datetime", "info",
)  # fmt: skip


class Rejected(Exception):
    """One line that cannot be imported, and why."""


class NeedsMerge(Exception):
    """The file holds something that may conflict: it is imported through the staged merge."""


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class ImportReport:
    lines: int = 0
    orders_inserted: int = 0
    orders_present: int = 0
    trades_inserted: int = 0
    trades_present: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first MAX_REPORTED_REJECTIONS

    @property
    def inserted(self) -> int:
        return self.orders_inserted + self.trades_inserted

    @property
    def present(self) -> int:
        return self.orders_present + self.trades_present

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REPORTED_REJECTIONS:
            self.rejections.append(Rejection(line, reason))


# --- reading ------------------------------------------------------------------------------------


def detect_format(path: Path) -> str:
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def _json_records(handle) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    for line_no, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = _DECODER.decode(line)
        except (ValueError, Rejected) as exc:
            yield line_no, Rejected(f"not valid JSON ({exc})")
            continue
        if not isinstance(record, dict):
            yield line_no, Rejected("not a JSON object (one ccxt trade or order per line is expected)")
            continue
        record[SOURCE] = line
        yield line_no, record


def _no_constant(name: str):
    raise Rejected(f"{name} is not a number")


# One decoder for every line (json.loads with options builds a new one per call).
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant)


def _csv_records(handle) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    reader = csv.DictReader(handle)
    if not reader.fieldnames:
        return
    for row in reader:
        if None in row:  # more cells than the header has names
            yield reader.line_num, Rejected("more cells than the header has columns")
            continue
        record: dict[str, Any] = {k.strip(): (v if v != "" else None) for k, v in row.items() if k}
        fee_cost = record.pop("fee.cost", None) or record.pop("fee_cost", None)
        fee_currency = record.pop("fee.currency", None) or record.pop("fee_currency", None)
        if fee_cost is not None or fee_currency is not None:
            record["fee"] = {"cost": fee_cost, "currency": fee_currency}
        info = record.pop("info", None)
        if info is not None:
            try:
                json.loads(info, parse_constant=_no_constant)
            except (ValueError, Rejected) as exc:
                yield reader.line_num, Rejected(f"info is not valid JSON ({exc})")
                continue
            record[SOURCE] = '{"info": ' + info + "}"
            record[INFO_TEXT] = info
        yield reader.line_num, record


# --- validation ---------------------------------------------------------------------------------


def _text(
    record: dict, key: str, *, max_length: int, required: bool = True, alias: str | None = None
) -> str | None:
    value = record.get(key)
    if value is None and alias:
        value = record.get(alias)
    if type(value) is str:  # the common case first: one strip, two checks (a million lines add up)
        text = value.strip()
        if text and len(text) <= max_length and "\x00" not in text:
            return text
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Rejected(f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected(f"{key} must be a string")
    value = str(value).strip()
    if "\x00" in value:
        raise Rejected(f"{key} contains a NUL character")
    if len(value) > max_length:
        raise Rejected(f"{key} is longer than {max_length} characters")
    return value


def _money(
    record: dict,
    key: str,
    *,
    required: bool = False,
    minimum: Decimal | None = None,
    positive: bool = False,
    value: Any = None,
) -> Decimal | None:
    raw = record.get(key) if value is None else value
    if raw is None:
        if required:
            raise Rejected(f"{key} is missing")
        return None
    kind = type(raw)
    if kind is not Decimal and kind is not int and kind is not str:  # bool is not int here
        raise Rejected(f"{key} is not a number")
    try:
        # JSON numbers arrive as Decimal already (parse_float=Decimal): no round trip through str.
        number = raw if kind is Decimal else Decimal(raw)
    except InvalidOperation:
        raise Rejected(f"{key} {raw!r} is not a number") from None
    if not number.is_finite():
        raise Rejected(f"{key} {raw!r} is not a finite number")
    try:
        number = _ROUND_TO_COLUMN.quantize(number, MONEY_SCALE)
    except InvalidOperation:  # more digits than the context holds: far beyond NUMERIC(20, 8)
        raise Rejected(f"{key} {raw} does not fit NUMERIC(20, 8)") from None
    if not -MONEY_LIMIT < number < MONEY_LIMIT:
        raise Rejected(f"{key} {raw} does not fit NUMERIC(20, 8)")
    if positive and number <= 0:
        raise Rejected(f"{key} must be greater than zero")
    if minimum is not None and number < minimum:
        raise Rejected(f"{key} must not be negative")
    return number


def _moment(record: dict) -> tuple[int, datetime]:
    raw = record.get("timestamp")
    if raw is not None:
        if isinstance(raw, bool):
            raise Rejected("timestamp is not a whole number of milliseconds")
        try:
            timestamp = raw if type(raw) is int else int(Decimal(str(raw)))
        except (InvalidOperation, ValueError):
            raise Rejected(f"timestamp {raw!r} is not a whole number of milliseconds") from None
    elif record.get("datetime"):
        try:
            moment = datetime.fromisoformat(str(record["datetime"]).replace("Z", "+00:00"))
        except ValueError:
            raise Rejected(f"datetime {record['datetime']!r} is not ISO 8601") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        timestamp = to_ms(moment)
    else:
        raise Rejected("timestamp and datetime are both missing")
    if timestamp < MIN_TIMESTAMP_MS:
        raise Rejected(f"timestamp {timestamp} is before 2001: ccxt timestamps are milliseconds, not seconds")
    try:
        return timestamp, from_ms(timestamp)
    except (OverflowError, ValueError, OSError):
        raise Rejected(f"timestamp {timestamp} is out of range") from None


def _fee(record: dict) -> tuple[Decimal | None, str | None]:
    """ccxt's `fee` / `fees` (or the seed's `fee` and `fee_currency`) as the vocabulary reads them."""
    explicit = record.get("fee_currency")
    try:
        cost, currency = ccxt.fee(
            fee=record.get("fee"),
            fees=record.get("fees"),
            fee_currency=explicit if explicit is not None else record.get("feeCurrency"),
        )
    except ccxt.VocabularyError as exc:
        raise Rejected(f"fee: {exc}") from None
    if cost is not None:
        cost = _money(record, "fee", value=cost)  # signed: a negative fee is a maker rebate
    if type(currency) is str and 0 < len(currency) <= 10 and currency.isalnum():  # "USDT": nothing to check
        return cost, currency
    return cost, _text({"fee currency": currency}, "fee currency", max_length=10, required=False)


def _term(record: dict, key: str, term: Callable[[str], str]) -> str:
    """A side, type or status in the seed's words, through ccxt's vocabulary."""
    value = _text(record, key, max_length=40)
    try:
        return term(value)
    except ccxt.VocabularyError as exc:
        raise Rejected(f"{key}: {exc}") from None


def _client_order_id(record: dict) -> str | None:
    """ccxt's clientOrderId, None when absent or a placeholder ("0": Kraken's orders without one)."""
    value = record.get("clientOrderId")
    if value is None:
        value = record.get("client_order_id")
    value = ccxt.client_order_id(value)
    return _text({"clientOrderId": value}, "clientOrderId", max_length=100, required=False)


def _source(record: dict) -> str | None:
    """The JSON text staged for the row; the merge keeps its `info` (ccxt's raw exchange response)
    as raw_data. The line's own text is staged rather than re-encoded, so numbers keep their digits."""
    source = record.get(SOURCE)
    if source is not None and "\\u0000" in source:
        raise Rejected("the line contains a NUL character (\\u0000), which PostgreSQL's JSONB cannot store")
    return source


def _order_row(line_no: int, record: dict) -> tuple:
    order_id = _text(record, "id", max_length=100)
    client_order_id = _client_order_id(record)
    amount = _money(record, "amount", required=True, positive=True)
    filled = _money(record, "filled", minimum=ZERO)
    status = order_effective_status(status=_term(record, "status", ccxt.order_status), filled=filled or ZERO)
    fee, fee_currency = _fee(record)
    timestamp, moment = _moment(record)
    return (
        line_no, "order", order_id, None,
        client_order_id or order_id,  # the column is NOT NULL UNIQUE; ccxt often has no client id
        _text(record, "symbol", max_length=20),
        _term(record, "side", ccxt.side),
        _term(record, "type", ccxt.order_type),
        status,
        _money(record, "price", minimum=ZERO),
        amount,
        _money(record, "cost", minimum=ZERO),
        filled,
        _money(record, "remaining", minimum=ZERO),
        _money(record, "average", minimum=ZERO),
        fee, fee_currency,
        _money(
            record,
            "stopPrice",
            minimum=ZERO,
            value=record.get("stopPrice") or record.get("triggerPrice"),
        ),
        _money(record, "takeProfitPrice", minimum=ZERO),
        _money(record, "stopLossPrice", minimum=ZERO),
        timestamp, moment, _source(record),
    )  # fmt: skip


def _trade_fields(record: dict) -> tuple:
    """A trade's checked values: id, order id, symbol, side, price, amount, cost, fee, fee currency,
    timestamp, datetime (the checks in the order their reasons are reported)."""
    price = _money(record, "price", required=True, minimum=ZERO)
    amount = _money(record, "amount", required=True, positive=True)
    cost = _money(record, "cost", minimum=ZERO)
    if cost is None:
        cost = price * amount
        # Checked before rounding too: quantizing a product past 28 significant digits is an error.
        if cost >= MONEY_LIMIT or _ROUND_TO_COLUMN.quantize(cost, MONEY_SCALE) >= MONEY_LIMIT:
            raise Rejected("cost (price x amount) does not fit NUMERIC(20, 8)")
        cost = _ROUND_TO_COLUMN.quantize(cost, MONEY_SCALE)
    fee, fee_currency = _fee(record)  # a negative fee is a maker rebate, and allowed
    timestamp, moment = _moment(record)
    return (
        _text(record, "id", max_length=100),
        _text(record, "order", max_length=100, required=False, alias="order_id"),
        _text(record, "symbol", max_length=20),
        _term(record, "side", ccxt.side),
        price, amount, cost, fee, fee_currency, timestamp, moment,
    )  # fmt: skip


def _trade_row(line_no: int, record: dict) -> tuple:
    trade_id, order_id, symbol, side, price, amount, cost, fee, fee_currency, timestamp, moment = (
        _trade_fields(record)
    )
    return (
        line_no, "trade", trade_id, order_id, None, symbol, side, None, None,
        price, amount, cost, None, None, None,
        fee, fee_currency, None, None, None,
        timestamp, moment, _source(record),
    )  # fmt: skip


def _row(line_no: int, record: dict) -> tuple:
    return _order_row(line_no, record) if "status" in record else _trade_row(line_no, record)


# --- staging and merging ------------------------------------------------------------------------

CREATE_STAGE = f"""
DROP TABLE IF EXISTS {STAGE};
CREATE TEMP TABLE {STAGE} (
    line_no integer NOT NULL,
    kind text NOT NULL,
    id varchar(100) NOT NULL,
    order_id varchar(100),
    client_order_id varchar(100),
    symbol varchar(20) NOT NULL,
    side varchar(10) NOT NULL,
    type varchar(20),
    status varchar(20),
    price numeric(20, 8),
    amount numeric(20, 8) NOT NULL,
    cost numeric(20, 8),
    filled numeric(20, 8),
    remaining numeric(20, 8),
    average numeric(20, 8),
    fee numeric(20, 8),
    fee_currency varchar(10),
    stop_price numeric(20, 8),
    take_profit_price numeric(20, 8),
    stop_loss_price numeric(20, 8),
    timestamp bigint NOT NULL,
    datetime timestamptz NOT NULL,
    info jsonb,
    reject_reason text
) ON COMMIT DROP;
"""

# Checks only the database can make, each marking the lines it rejects. The first line with a
# given id wins; later duplicates in the file count as already present, not as rejected.
ORDER_CHECKS = [
    f"""
    UPDATE {STAGE} s SET reject_reason = 'client order id ' || s.client_order_id
        || ' already belongs to order ' || o.id
    FROM orders o
    WHERE s.kind = 'order' AND s.reject_reason IS NULL
      AND o.client_order_id = s.client_order_id AND o.id <> s.id
    """,
    f"""
    UPDATE {STAGE} s SET reject_reason = 'client order id ' || s.client_order_id
        || ' is used by another order on line ' || f.line_no
    FROM {STAGE} f
    WHERE s.kind = 'order' AND f.kind = 'order' AND s.reject_reason IS NULL
      AND f.client_order_id = s.client_order_id AND f.id <> s.id AND f.line_no < s.line_no
    """,
    f"""
    UPDATE {STAGE} s
    SET reject_reason = 'order ' || s.id || ' is already recorded for another exchange or symbol'
    FROM orders o
    WHERE s.kind = 'order' AND s.reject_reason IS NULL AND o.id = s.id
      AND (o.exchange_id IS DISTINCT FROM %(exchange_id)s OR o.symbol <> s.symbol)
    """,
]

# When an id is on several lines, the first wins: FIRST_LINES keeps only those, found by sorting ids
# and line numbers (not whole rows); it is left out when no id repeats (DUPLICATE_IDS), the usual case,
# which spares a million-line import that sort. Rows are read in the stage's order, the file's.
FIRST_LINES = "\n  AND line_no IN (SELECT DISTINCT ON (id) line_no FROM {stage} WHERE kind = '{kind}' AND " \
    "reject_reason IS NULL ORDER BY id, line_no)"  # fmt: skip
DUPLICATE_IDS = f"""
SELECT EXISTS (
    SELECT 1 FROM {STAGE} WHERE kind = %(kind)s AND reject_reason IS NULL GROUP BY id HAVING count(*) > 1
)
"""

INSERT_ORDERS = """
INSERT INTO orders (
    id, client_order_id, exchange_id, symbol, side, type, status, price, amount, filled, remaining,
    cost, average, fee, fee_currency, stop_price, take_profit_price, stop_loss_price,
    timestamp, datetime, raw_data
)
SELECT id, client_order_id, %(exchange_id)s, symbol, side, type, status, price, amount,
       COALESCE(filled, 0), remaining, COALESCE(cost, 0), average, fee, fee_currency,
       stop_price, take_profit_price, stop_loss_price, timestamp, datetime,
       NULLIF(info -> 'info', 'null'::jsonb)
FROM {STAGE} candidate
WHERE kind = 'order' AND reject_reason IS NULL{FIRST_LINES}
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = candidate.id)
ON CONFLICT DO NOTHING
"""

TRADE_CHECKS = [
    f"""
    UPDATE {STAGE} s SET reject_reason = 'order ' || s.order_id
        || ' is not recorded; import the orders first (the same file may hold them)'
    WHERE s.kind = 'trade' AND s.reject_reason IS NULL AND s.order_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = s.order_id)
    """,
    f"""
    UPDATE {STAGE} s SET reject_reason = 'order ' || s.order_id || ' is recorded on another exchange'
    FROM orders o
    WHERE s.kind = 'trade' AND s.reject_reason IS NULL AND o.id = s.order_id
      AND o.exchange_id IS DISTINCT FROM %(exchange_id)s
    """,
    f"""
    UPDATE {STAGE} s
    SET reject_reason = 'trade ' || s.id || ' is already recorded for another exchange or symbol'
    FROM trades t
    WHERE s.kind = 'trade' AND s.reject_reason IS NULL AND t.id = s.id
      AND (t.exchange_id IS DISTINCT FROM %(exchange_id)s OR t.symbol <> s.symbol)
    """,
]

# NOT EXISTS on id, not only ON CONFLICT: once `trades` is partitioned by month its primary key is
# (id, datetime), and this is what keeps a trade id unique across partitions on this path.
INSERT_TRADES = """
INSERT INTO trades (
    id, order_id, exchange_id, symbol, side, price, amount, cost, fee, fee_currency,
    timestamp, datetime, raw_data
)
SELECT id, order_id, %(exchange_id)s, symbol, side, price, amount, cost, fee, fee_currency,
       timestamp, datetime, NULLIF(info -> 'info', 'null'::jsonb)
FROM {STAGE} candidate
WHERE kind = 'trade' AND reject_reason IS NULL{FIRST_LINES}
  AND NOT EXISTS (SELECT 1 FROM trades t WHERE t.id = candidate.id)
ON CONFLICT DO NOTHING
"""


def _merge(cursor, template: str, kind: str, params: dict) -> int:
    """Insert the staged lines of `kind` that passed every check; the number inserted."""
    cursor.execute(DUPLICATE_IDS, {"kind": kind})
    (repeated,) = cursor.fetchone()
    first_lines = FIRST_LINES.format(stage=STAGE, kind=kind) if repeated else ""
    cursor.execute(template.format(STAGE=STAGE, FIRST_LINES=first_lines), params)
    return cursor.rowcount


# --- straight into trades -----------------------------------------------------------------------

# In _trade_fields' order, then the exchange and raw_data: a row is those fields and two more.
DIRECT_COLUMNS = (
    "id", "order_id", "symbol", "side", "price", "amount", "cost", "fee", "fee_currency", "timestamp",
    "datetime", "exchange_id", "raw_data",
)  # fmt: skip

# The direct path relies on the index to refuse a recorded or repeated trade id as it is copied: a
# unique index on id alone, checked immediately. A partitioned `trades` has none (its key is
# (id, datetime)), and is always merged through the stage, whose NOT EXISTS keeps ids unique.
TRADE_IDS_UNIQUE = """
SELECT EXISTS (
    SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = 'trades'::regclass AND i.indisunique AND i.indimmediate AND i.indisvalid
      AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = 'id'
)
"""

ORDERS_ON_EXCHANGE = "SELECT count(*) FROM orders WHERE id = ANY(%s) AND exchange_id IS NOT DISTINCT FROM %s"


def _no_decimal(value: Any) -> Any:
    raise TypeError  # a Decimal: spelled by _json_text, with its digits


_INFO_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_no_decimal, check_circular=False)


def _c_encoder() -> Callable[[Any, int], list[str]] | None:
    """The C encoder JSONEncoder.encode builds on each call, built once: half the cost of an `info`."""
    try:
        return c_make_encoder(None, _no_decimal, encode_basestring_ascii, None, ":", ",", False, False, True)
    except TypeError:  # no C accelerator (None), or another signature: JSONEncoder.encode does the same
        return None


_C_ENCODE = _c_encoder()


def _json_text(value: Any) -> str:
    """JSON parsed with Decimal fractions (parse_float=Decimal), back to JSON text with the same digits."""
    if type(value) is Decimal:
        return str(value)
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{_INFO_ENCODER.encode(str(k))}:{_json_text(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return _INFO_ENCODER.encode(value)


def _raw_data(record: dict) -> str | None:
    """The trade's raw_data as JSON text: the same JSONB value the staged merge keeps (`info`)."""
    text = record.get(INFO_TEXT)
    if text is not None:  # CSV: the cell's own text
        return None if text.strip() == "null" else text
    info = record.get("info")
    if info is None:
        return None
    try:  # in C; most exchanges' `info` holds strings only
        return "".join(_C_ENCODE(info, 0)) if _C_ENCODE is not None else _INFO_ENCODER.encode(info)
    except TypeError:
        return _json_text(info)


def _direct_rows(
    records: Iterable[tuple[int, dict | Rejected]], report: ImportReport, exchange_id: int | None
) -> Iterator[tuple]:
    for line_no, record in records:
        report.lines += 1
        if isinstance(record, Rejected):
            report.reject(line_no, str(record))
            continue
        if "status" in record:
            raise NeedsMerge("an order")
        try:
            fields = _trade_fields(record)
            _source(record)  # the same refusal of a NUL character as the staged line's
        except Rejected as exc:
            report.reject(line_no, str(exc))
            continue
        # The datetime as ISO text: COPY parses it as it would the object, which psycopg formats slower.
        yield (*fields[:10], fields[10].isoformat(), exchange_id, _raw_data(record))


def _import_direct(
    cursor, *, records: AbstractContextManager, exchange_id: int | None, batch_size: int
) -> ImportReport | None:
    """COPY the file's trades straight into `trades`; None, with nothing written, when it needs the merge."""
    cursor.execute(TRADE_IDS_UNIQUE)
    if not cursor.fetchone()[0]:
        return None
    report = ImportReport()
    copying = f"COPY trades ({', '.join(DIRECT_COLUMNS)}) FROM STDIN"
    try:
        with transaction.atomic(), records as lines:  # a savepoint: rolled back whole on a conflict
            rows = _direct_rows(lines, report, exchange_id)
            while True:
                written = 0
                orders: set[str] = set()
                with cursor.cursor.copy(copying) as copy:
                    for row in rows:
                        copy.write_row(row)
                        if row[1] is not None:
                            orders.add(row[1])
                        written += 1
                        if written == batch_size:
                            break
                report.trades_inserted += written
                if orders:
                    # The batch's orders must be recorded, on this exchange: else the merge says which not.
                    cursor.execute(ORDERS_ON_EXCHANGE, [list(orders), exchange_id])
                    if cursor.fetchone()[0] != len(orders):
                        raise NeedsMerge("a trade of an order not recorded on this exchange")
                if written < batch_size:
                    break
    except (NeedsMerge, psycopg.IntegrityError, psycopg.DataError):
        # A recorded or repeated id (unique violation), an order, an unknown order, a value the
        # database refuses: all of it is the staged merge's to sort out, line by line.
        return None
    return report


# --- the import ---------------------------------------------------------------------------------


@transaction.atomic
def trades_import(
    *,
    path: Path,
    exchange: Exchange | None = None,
    file_format: str | None = None,
    strict: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> ImportReport:
    """Import a file of ccxt trades and/or orders; see the module docstring for the rules.

    `exchange` is the exchange every row is recorded for (NULL when None). With `strict`, a single
    rejected line aborts the import and nothing is written. A file whose every line is rejected is
    an error too: it is almost surely the wrong file or the wrong format.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError({"file": f"{path} does not exist or is not a file."})
    file_format = file_format or detect_format(path)
    if file_format not in {"csv", "jsonl"}:
        raise ValidationError({"format": f"Unknown format {file_format!r}: use csv or jsonl."})
    params = {"exchange_id": exchange.pk if exchange is not None else None}

    @contextmanager
    def records() -> Iterator[Iterable[tuple[int, dict | Rejected]]]:
        with path.open(newline="" if file_format == "csv" else None, encoding="utf-8-sig") as handle:
            lines = _csv_records(handle) if file_format == "csv" else _json_records(handle)
            yield progress(lines) if progress is not None else lines

    with connection.cursor() as cursor:
        # Memory for the merge's sorts and hashes, for this transaction only: a million staged lines
        # otherwise spill to temporary files on disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        direct = _import_direct(
            cursor, records=records(), exchange_id=params["exchange_id"], batch_size=batch_size
        )
        report = direct if direct is not None else _import_staged(cursor, records(), params, batch_size)

    return _checked(report, strict=strict)


def _import_staged(cursor, records: AbstractContextManager, params: dict, batch_size: int) -> ImportReport:
    """COPY every line into the staging table, let the database check what only it can, then merge."""
    report = ImportReport()
    cursor.execute(CREATE_STAGE)
    with records as lines:
        rows = _valid_rows(lines, report)
        staging = f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
        staged = {"order": 0, "trade": 0}
        while True:
            # Rows go straight from the parser into the COPY: nothing is kept in a list.
            written = 0
            with cursor.cursor.copy(staging) as copy:
                for row in rows:
                    copy.write_row(row)
                    staged[row[1]] += 1
                    written += 1
                    if written == batch_size:
                        break
            if written < batch_size:
                break
    # Statistics of the staged lines, so the checks below hash-join a million lines instead of
    # probing an index once per line (a fresh temporary table looks empty to the planner).
    cursor.execute(f"ANALYZE {STAGE}")

    if staged["order"]:
        for check in ORDER_CHECKS:
            cursor.execute(check, params)
        report.orders_inserted = _merge(cursor, INSERT_ORDERS, "order", params)
    if staged["trade"]:
        for check in TRADE_CHECKS:
            cursor.execute(check, params)
        report.trades_inserted = _merge(cursor, INSERT_TRADES, "trade", params)

    cursor.execute(
        f"SELECT kind, count(*) FILTER (WHERE reject_reason IS NULL), count(reject_reason) "
        f"FROM {STAGE} GROUP BY kind"
    )
    counts = {kind: (valid, rejected) for kind, valid, rejected in cursor.fetchall()}
    report.orders_present = counts.get("order", (0, 0))[0] - report.orders_inserted
    report.trades_present = counts.get("trade", (0, 0))[0] - report.trades_inserted
    # Counted in the database and only the first ones fetched: a file of a million lines the
    # database rejects must not bring a million reasons into memory.
    database_rejected = sum(rejected for _, rejected in counts.values())
    listed = []
    if database_rejected:
        cursor.execute(
            f"SELECT line_no, reject_reason FROM {STAGE} WHERE reject_reason IS NOT NULL "
            "ORDER BY line_no LIMIT %s",
            [MAX_REPORTED_REJECTIONS],
        )
        listed = cursor.fetchall()
    for line_no, reason in listed:
        report.reject(line_no, reason)
    report.rejected += database_rejected - len(listed)
    cursor.execute(f"DROP TABLE {STAGE}")
    return report


def _checked(report: ImportReport, *, strict: bool) -> ImportReport:
    """The report, or the ValidationError strict mode or a wholly rejected file makes of it."""
    report.rejections.sort(key=lambda r: r.line)
    if report.rejected and strict:
        first = report.rejections[0]
        raise ValidationError(
            {
                "file": f"{report.rejected} line(s) rejected, nothing imported (--strict); "
                f"first: line {first.line}: {first.reason}."
            }
        )
    if report.lines and report.rejected == report.lines:
        first = report.rejections[0]
        raise ValidationError(
            {
                "file": f"Every line ({report.lines}) was rejected, nothing imported; "
                f"first: line {first.line}: {first.reason}. Is this a ccxt trades or orders file?"
            }
        )
    return report


def _valid_rows(records: Iterable[tuple[int, dict | Rejected]], report: ImportReport) -> Iterator[tuple]:
    for line_no, record in records:
        report.lines += 1
        if isinstance(record, Rejected):
            report.reject(line_no, str(record))
            continue
        try:
            yield _row(line_no, record)
        except Rejected as exc:
            report.reject(line_no, str(exc))
