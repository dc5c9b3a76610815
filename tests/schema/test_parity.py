"""The migrated schema against the seed's own DDL: the documented deviations are the only differences.

The seed's section 2 DDL (tests/fixtures/seed_schema.sql) and its section 5.1 SQL objects are
loaded into a scratch schema; both schemas are then read from the catalog into the same plain
shape and compared. Each deviation rewrites the seed's shape into the one expected; whatever
still differs fails with a readable diff. The same list is in docs/schema.md.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection, transaction

from apps.journal.rollups import SPECS as ROLLUPS

TESTS_DIR = Path(__file__).resolve().parent.parent
SEED_DDL = TESTS_DIR / "fixtures" / "seed_schema.sql"
SCHEMA_DOC = TESTS_DIR.parent / "docs" / "schema.md"
SCRATCH = "seed_ddl"

# The seed's section 5.1 (scripts/init_postgres.sql) after its CREATE DATABASE and CREATE
# EXTENSION lines, verbatim: the trigger function, the four triggers, the two views and
# calculate_win_rate. Extensions are database-wide and are checked on their own.
SEED_SQL_OBJECTS = (TESTS_DIR / "fixtures" / "seed_objects.sql").read_text()


# --- The shape both schemas are read into ----------------------------------------------------------


@dataclass(frozen=True)
class Column:
    type: str
    nullable: bool
    default: str | None
    identity: str | None


@dataclass
class Schema:
    tables: set[str] = field(default_factory=set)
    columns: dict[str, Column] = field(default_factory=dict)  # "table.column"
    column_order: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table: columns
    constraints: set[str] = field(default_factory=set)  # "table: definition"
    indexes: dict[str, str] = field(default_factory=dict)  # name: definition
    triggers: set[str] = field(default_factory=set)  # definition
    views: dict[str, str] = field(default_factory=dict)  # name: definition
    functions: dict[str, str] = field(default_factory=dict)  # signature: result, language, body


# --- Reading a schema from the catalog ---------------------------------------------------------------


def _rows(cursor, sql: str, params: list | None = None) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _unqualified(text: str, schema: str) -> str:
    """Definitions name objects outside the search path as `schema.name`; drop the schema."""
    return re.sub(rf'\b"?{re.escape(schema)}"?\.', "", text)


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _framework_tables() -> set[str]:
    """Tables of Django's own apps (auth, sessions, admin...), which the seed knows nothing about."""
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if not model.__module__.startswith("apps.")
    }
    return tables | {"django_migrations"}


def _column_type(data_type: str, udt_name: str, length, precision, scale) -> str:
    if data_type == "character varying":
        return f"varchar({length})"
    if data_type == "numeric":
        return f"numeric({precision},{scale})"
    if data_type == "ARRAY":
        return f"{udt_name.lstrip('_')}[]"
    return data_type


def read_tables(cursor, schema: str) -> set[str]:
    rows = _rows(
        cursor,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        [schema],
    )
    return {name for (name,) in rows} - _framework_tables()


def read_columns(cursor, schema: str, tables: set[str]) -> tuple[dict, dict]:
    rows = _rows(
        cursor,
        """
        SELECT table_name, column_name, data_type, udt_name, character_maximum_length,
               numeric_precision, numeric_scale, is_nullable, column_default, identity_generation
        FROM information_schema.columns
        WHERE table_schema = %s
        ORDER BY table_name, ordinal_position
        """,
        [schema],
    )
    columns: dict[str, Column] = {}
    order: dict[str, list[str]] = {}
    for table, name, data_type, udt, length, precision, scale, nullable, default, identity in rows:
        if table not in tables:
            continue
        columns[f"{table}.{name}"] = Column(
            type=_column_type(data_type, udt, length, precision, scale),
            nullable=nullable == "YES",
            default=_unqualified(default, schema) if default is not None else None,
            identity=identity,
        )
        order.setdefault(table, []).append(name)
    return columns, {table: tuple(names) for table, names in order.items()}


def read_constraints(cursor, schema: str, tables: set[str]) -> set[str]:
    """PK, UNIQUE and CHECK by name and definition; FOREIGN KEY by definition alone (columns,
    target, ON DELETE, deferrability), since PostgreSQL and Django name them differently."""
    rows = _rows(
        cursor,
        """
        SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = %s AND c.contype IN ('p', 'u', 'c', 'f')
        """,
        [schema],
    )
    constraints = set()
    for table, name, kind, definition in rows:
        table = _unqualified(table, schema)
        if table in tables:
            definition = _unqualified(definition, schema)
            constraints.add(f"{table}: {definition}" if kind == "f" else f"{table}: {name} {definition}")
    return constraints


def read_indexes(cursor, schema: str, tables: set[str]) -> dict[str, str]:
    rows = _rows(
        cursor,
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
        [schema],
    )
    return {name: _unqualified(definition, schema) for table, name, definition in rows if table in tables}


def read_triggers(cursor, schema: str, tables: set[str]) -> set[str]:
    rows = _rows(
        cursor,
        """
        SELECT c.relname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND NOT t.tgisinternal
        """,
        [schema],
    )
    return {_unqualified(definition, schema) for table, definition in rows if table in tables}


def read_views(cursor, schema: str) -> dict[str, str]:
    """Each view's definition, written `SELECT * FROM ...` when it returns every column of its
    table in the table's order (PostgreSQL expands the `*` when the view is created)."""
    views = {}
    for name, definition in _rows(
        cursor,
        "SELECT viewname, definition FROM pg_views WHERE schemaname = %s",
        [schema],
    ):
        select, _, rest = _squeeze(_unqualified(definition, schema)).rstrip(";").partition(" FROM ")
        table = rest.split()[0]
        if _column_names(cursor, schema, name) == _column_names(cursor, schema, table):
            select = "SELECT *"
        # Column references are table-qualified or not depending on the server version.
        views[name] = re.sub(rf"\b{table}\.", "", f"{select} FROM {rest}")
    return views


def _column_names(cursor, schema: str, relation: str) -> list[str]:
    rows = _rows(
        cursor,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        [schema, relation],
    )
    return [name for (name,) in rows]


def read_functions(cursor, schema: str) -> dict[str, str]:
    """Functions the schema defines itself (not those an extension brought), by signature."""
    rows = _rows(
        cursor,
        """
        SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               pg_get_function_result(p.oid), l.lanname, p.prosrc
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname = %s
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        """,
        [schema],
    )
    return {
        signature: f"RETURNS {result} LANGUAGE {language} AS {_squeeze(body)}"
        for signature, result, language, body in rows
    }


def read_schema(cursor, schema: str, *, scope: set[str] | None = None) -> Schema:
    """Everything the comparison looks at. Columns, constraints, indexes and triggers are read for
    the tables in `scope` (default: all); tables beyond it are only named."""
    tables = read_tables(cursor, schema)
    scope = tables if scope is None else scope & tables
    columns, order = read_columns(cursor, schema, scope)
    return Schema(
        tables=tables,
        columns=columns,
        column_order=order,
        constraints=read_constraints(cursor, schema, scope),
        indexes=read_indexes(cursor, schema, scope),
        triggers=read_triggers(cursor, schema, scope),
        views=read_views(cursor, schema),
        functions=read_functions(cursor, schema),
    )


# --- The documented deviations (the same list is in docs/schema.md) ----------------------------------


@dataclass(frozen=True)
class Deviation:
    title: str  # as written in docs/schema.md's deviation table
    reason: str
    # Rewrites the seed's schema into the one expected; None when the catalog cannot show it.
    apply: Callable[[Schema], None] | None = None


# Tables the project has beyond the seed's ten, each described in docs/schema.md. Their own
# shape is theirs: the comparison only checks that no other table appears.
ADDED_TABLES = {
    "memory_outbox": "changes to experiences still to be pushed to Qdrant, written in the same transaction",
    "agents": "the trading agents allowed to call the API, with a digest of their token",
    "agent_idempotency_keys": "the first answer to an API create, replayed when the agent retries it",
    "agent_writes": "which agent created or changed which row through the API",
    "reconciliation_runs": "each check of an exchange account against the record: status, counts, watermarks",
    "reconciliation_discrepancies": "each difference a run found, both versions side by side, what was done",
    "memory_recalls": "a recall from long-term memory made for a decision: the query, filters, embedder",
    "memory_recall_hits": "each experience such a recall returned, with its rank, score and explanation",
    "experience_importance_changes": "each move of an experience's importance by feedback: old, new, why",
    "experience_links": "an experience that nearly duplicates, or supersedes, another (nothing merged)",
    "cash_flows": "deposits, withdrawals and transfers between accounts, each recorded once",
    "model_prices": "each model's token prices from a moment on, never overwritten",
    "reviews": "an operator's verdict and rubric scores on a decision or an experience, once per subject",
    "ohlcv_candles": "the exchange's OHLCV bars over each closed position's life, kept for its excursions",
    "position_excursions": "a closed position's planned risk (1 R), R-multiple, MAE and MFE",
    **{spec.table: f"the daily sums of {spec.source} behind the changelists' figures" for spec in ROLLUPS},
}


def _added_tables(schema: Schema) -> None:
    schema.tables |= set(ADDED_TABLES)


def _importance_range(schema: Schema) -> None:
    schema.constraints.add(
        "experiences: experiences_importance_score_range CHECK "
        "(((importance_score >= (0)::numeric) AND (importance_score <= (1)::numeric)))"
    )


def _one_active_strategy_version(schema: Schema) -> None:
    schema.indexes["strategies_one_active_version"] = (
        "CREATE UNIQUE INDEX strategies_one_active_version ON strategies USING btree (name) WHERE is_active"
    )


def _timestamptz(schema: Schema) -> None:
    for key, column in schema.columns.items():
        if column.type == "timestamp without time zone":
            schema.columns[key] = Column(**{**column.__dict__, "type": "timestamp with time zone"})


def _identity_keys(schema: Schema) -> None:
    for key, column in schema.columns.items():
        if column.default and column.default.startswith("nextval("):
            schema.columns[key] = Column(**{**column.__dict__, "default": None, "identity": "BY DEFAULT"})


def _one_open_position(schema: Schema) -> None:
    schema.constraints.remove(
        "positions: positions_exchange_id_symbol_is_open_key UNIQUE (exchange_id, symbol, is_open)"
    )
    del schema.indexes["positions_exchange_id_symbol_is_open_key"]
    schema.indexes["positions_exchange_id_symbol_open_key"] = (
        "CREATE UNIQUE INDEX positions_exchange_id_symbol_open_key "
        "ON positions USING btree (exchange_id, symbol) WHERE is_open"
    )


# Django adds a varchar_pattern_ops index beside every varchar primary key, for LIKE 'prefix%'
# (admin search, startswith filters); the names carry Django's hash of table and column.
PATTERN_OPS_INDEXES = {
    "orders": "orders_id_ecea5967_like",
    "trades": "trades_id_4627e65a_like",
    "decisions": "decisions_id_c406a717_like",
    "experiences": "experiences_id_01847e65_like",
    "system_events": "system_events_id_2d28b014_like",
}


def _pattern_ops_indexes(schema: Schema) -> None:
    for table, name in PATTERN_OPS_INDEXES.items():
        schema.indexes[name] = f"CREATE INDEX {name} ON {table} USING btree (id varchar_pattern_ops)"


def _foreign_key_indexes(schema: Schema) -> None:
    schema.indexes["idx_trades_exchange"] = (
        "CREATE INDEX idx_trades_exchange ON trades USING btree (exchange_id)"
    )
    schema.indexes["idx_experiences_decision"] = (
        "CREATE INDEX idx_experiences_decision ON experiences USING btree (decision_id)"
    )


def _foreign_keys(schema: Schema) -> dict[str, set[str]]:
    """table: its foreign key columns."""
    keys: dict[str, set[str]] = {}
    for constraint in schema.constraints:
        match = re.match(r"(\w+): FOREIGN KEY \((\w+)\)", constraint)
        if match:
            keys.setdefault(match.group(1), set()).add(match.group(2))
    return keys


def _deferred_foreign_keys(schema: Schema) -> None:
    schema.constraints = {
        f"{constraint} DEFERRABLE INITIALLY DEFERRED" if ": FOREIGN KEY " in constraint else constraint
        for constraint in schema.constraints
    }


def _foreign_key_columns_last(schema: Schema) -> None:
    for table, keys in _foreign_keys(schema).items():
        order = schema.column_order[table]
        schema.column_order[table] = tuple(c for c in order if c not in keys) + tuple(sorted(keys))


def _rollup_triggers(schema: Schema) -> None:
    transitions = {
        "insert": "REFERENCING NEW TABLE AS new_rows ",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows ",
        "delete": "REFERENCING OLD TABLE AS old_rows ",
        "truncate": "",
    }
    for spec in ROLLUPS:
        for event, transition in transitions.items():
            schema.triggers.add(
                f"CREATE TRIGGER {spec.table}_{event} AFTER {event.upper()} ON {spec.source} {transition}"
                f"FOR EACH STATEMENT EXECUTE FUNCTION {spec.function}()"
            )
        body = spec.create_sql().split("$$")[1]
        schema.functions[f"{spec.function}()"] = f"RETURNS trigger LANGUAGE plpgsql AS {_squeeze(body)}"
    schema.indexes["idx_positions_opened_at"] = (
        "CREATE INDEX idx_positions_opened_at ON positions USING btree (opened_at DESC)"
    )


def _exchanges_trigger(schema: Schema) -> None:
    schema.triggers.add(
        "CREATE TRIGGER update_exchanges_updated_at BEFORE UPDATE ON exchanges "
        "FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()"
    )


def _today_trades_range(schema: Schema) -> None:
    schema.views["today_trades"] = (
        "SELECT * FROM trades WHERE ((datetime >= CURRENT_DATE) AND (datetime < (CURRENT_DATE + 1)))"
    )


# Realized PnL, computed from the fills and kept with the position (apps/execution/services/realized.py).
REALIZED_COLUMNS = {
    "realized_pnl": Column(type="numeric(20,8)", nullable=True, default=None, identity=None),
    "realized_fees": Column(type="numeric(20,8)", nullable=True, default=None, identity=None),
    "realized_other_fees": Column(type="jsonb", nullable=True, default=None, identity=None),
    "realized_at": Column(type="timestamp with time zone", nullable=True, default=None, identity=None),
    "realized_note": Column(type="text", nullable=True, default=None, identity=None),
}


# Flows, one reporting currency and the rates used, kept with each snapshot (apps/portfolio/services/).
SNAPSHOT_COLUMNS = {
    "net_flow": Column(type="numeric(20,8)", nullable=False, default="0", identity=None),
    "rates": Column(type="jsonb", nullable=True, default=None, identity=None),
    "reporting_currency": Column(type="varchar(20)", nullable=True, default=None, identity=None),
}
# What a decision's tokens cost (apps/decisions/costs.py).
DECISION_COLUMNS = {
    "inference_cost": Column(type="numeric(20,8)", nullable=True, default=None, identity=None),
    "inference_cost_note": Column(type="text", nullable=True, default=None, identity=None),
    "input_tokens": Column(type="integer", nullable=True, default=None, identity=None),
    "output_tokens": Column(type="integer", nullable=True, default=None, identity=None),
}


def _snapshot_flows(schema: Schema) -> None:
    for name, column in SNAPSHOT_COLUMNS.items():
        schema.columns[f"portfolio_snapshots.{name}"] = column
    schema.column_order["portfolio_snapshots"] += tuple(SNAPSHOT_COLUMNS)


def _decision_costs(schema: Schema) -> None:
    for name, column in DECISION_COLUMNS.items():
        schema.columns[f"decisions.{name}"] = column
    schema.column_order["decisions"] += tuple(DECISION_COLUMNS)


def _realized_pnl(schema: Schema) -> None:
    """Appended after the foreign key column (applied after _foreign_key_columns_last)."""
    for name, column in REALIZED_COLUMNS.items():
        schema.columns[f"positions.{name}"] = column
    schema.column_order["positions"] += tuple(REALIZED_COLUMNS)


DEVIATIONS = [
    Deviation(
        "Timestamps are timestamptz",
        "USE_TZ=True: Django stores aware datetimes; `timestamp without time zone` would drop the "
        "offset and make every reading depend on the session time zone.",
        _timestamptz,
    ),
    Deviation(
        "SERIAL keys are identity columns",
        "Django's AutoField is `integer GENERATED BY DEFAULT AS IDENTITY`: the same int4 and the same "
        "numbering, with the sequence owned by the column instead of a nextval() default.",
        _identity_keys,
    ),
    Deviation(
        "One open position per exchange and symbol",
        "The seed's UNIQUE(exchange_id, symbol, is_open) allows one closed position per symbol, so a "
        "symbol could never be closed twice; the partial unique index "
        "positions_exchange_id_symbol_open_key (exchange_id, symbol) WHERE is_open keeps the intent.",
        _one_open_position,
    ),
    Deviation(
        "varchar_pattern_ops indexes on text primary keys",
        "Django adds `<table>_id_<hash>_like` beside each varchar primary key (orders, trades, "
        "decisions, experiences, system_events) so that LIKE 'prefix%' searches use an index.",
        _pattern_ops_indexes,
    ),
    Deviation(
        "Indexes on trades.exchange_id and experiences.decision_id",
        "idx_trades_exchange and idx_experiences_decision: the admin and the API join on these foreign "
        "keys, and deleting an exchange or a decision must not scan the whole table.",
        _foreign_key_indexes,
    ),
    Deviation(
        "Foreign keys are DEFERRABLE INITIALLY DEFERRED",
        "Django creates every foreign key deferred (checked at commit). ON DELETE is NO ACTION in both; "
        "the models' PROTECT, SET_NULL and CASCADE are carried out by Django before it deletes.",
        _deferred_foreign_keys,
    ),
    Deviation(
        "Foreign key columns come last",
        "Django's initial migrations add relation fields after the others, so exchange_id, order_id, "
        "strategy_id and decision_id are the last columns; only a positional INSERT or a COPY without "
        "a column list would notice.",
        _foreign_key_columns_last,
    ),
    Deviation(
        "updated_at trigger on exchanges",
        "exchanges has updated_at like the other four tables; the seed gives it no trigger, so it "
        "would never move.",
        _exchanges_trigger,
    ),
    Deviation(
        "today_trades is a datetime range",
        "`datetime >= CURRENT_DATE AND datetime < CURRENT_DATE + 1` returns the same rows as "
        "DATE(datetime) = CURRENT_DATE, and idx_trades_datetime can serve it.",
        _today_trades_range,
    ),
    Deviation(
        "One active version per strategy name",
        "The partial unique index strategies_one_active_version (name) WHERE is_active: two live "
        "versions of one strategy would leave the agent with two configurations; the seed's "
        "is_active flag alone cannot prevent it.",
        _one_active_strategy_version,
    ),
    Deviation(
        "Importance score between 0 and 1",
        "The CHECK experiences_importance_score_range: NUMERIC(3,2) alone takes up to 9.99, and "
        "recall weighs importance as a fraction, so a raw SQL write must not put it out of range.",
        _importance_range,
    ),
    Deviation(
        "Daily roll-ups kept by triggers",
        "Statement-level AFTER INSERT, UPDATE, DELETE and TRUNCATE triggers on experiences, positions, "
        "trades and decisions (transition tables) keep the rollup_* tables' daily sums, so the "
        "changelists' figures do not scan a million rows; idx_positions_opened_at serves the positions "
        "changelist's order and date hierarchy.",
        _rollup_triggers,
    ),
    Deviation(
        "Tables beyond the seed",
        "; ".join(f"{table}: {purpose}" for table, purpose in ADDED_TABLES.items())
        + ". Each is described in docs/schema.md; the seed's ten tables are compared in full.",
        _added_tables,
    ),
    Deviation(
        "CREATE OR REPLACE TRIGGER",
        "Instead of CREATE TRIGGER, so a migration can be re-run; the catalog cannot tell the two apart.",
    ),
    Deviation(
        "Extensions only where available",
        "uuid-ossp and pgcrypto are created where the server ships them and skipped with a warning "
        "elsewhere (the embedded PostgreSQL has no contrib); nothing in the schema uses them.",
    ),
    Deviation(
        "Realized PnL kept on positions",
        "positions.realized_pnl, realized_fees (NUMERIC(20,8)), realized_other_fees (JSONB), realized_at "
        "and realized_note, all nullable: the seed keeps no result for a closed position (its unrealized "
        "PnL is of the last price only). current_positions is re-created so that its * carries them.",
        _realized_pnl,
    ),
    Deviation(
        "Cash flows and rates kept on snapshots",
        "portfolio_snapshots.net_flow (NUMERIC(20,8) NOT NULL DEFAULT 0), reporting_currency (varchar(20)) "
        "and rates (JSONB), after exchange_id: returns are measured net of deposits and withdrawals, every "
        "value is in one reporting currency, and the conversion rates used are kept beside it.",
        _snapshot_flows,
    ),
    Deviation(
        "Inference cost kept on decisions",
        "decisions.input_tokens, output_tokens (integer), inference_cost (NUMERIC(20,8)) and "
        "inference_cost_note (text), nullable, last: the seed's one tokens_used cannot be priced by a "
        "model's separate input and output prices.",
        _decision_costs,
    ),
]


def expected_schema(seed: Schema, *, without: Deviation | None = None) -> Schema:
    """The seed's schema with every deviation (but `without`) applied."""
    expected = copy.deepcopy(seed)
    for deviation in DEVIATIONS:
        if deviation.apply and deviation is not without:
            deviation.apply(expected)
    return expected


# --- Comparing --------------------------------------------------------------------------------------


def diff_sets(what: str, expected: set[str], actual: set[str]) -> list[str]:
    return [f"{what} missing: {item}" for item in sorted(expected - actual)] + [
        f"{what} not in the seed: {item}" for item in sorted(actual - expected)
    ]


def diff_mappings(what: str, expected: dict, actual: dict, attributes: tuple[str, ...] = ()) -> list[str]:
    """Missing and unexpected keys, then `key: expected X, got Y` for each value (or attribute)."""
    problems = diff_sets(what, set(expected), set(actual))
    for key in sorted(set(expected) & set(actual)):
        want, got = expected[key], actual[key]
        if not attributes and want != got:
            problems.append(f"{what} {key}: expected {want!r}, got {got!r}")
        for attribute in attributes:
            wanted, found = getattr(want, attribute), getattr(got, attribute)
            if wanted != found:
                problems.append(f"{key} {attribute}: expected {wanted!r}, got {found!r}")
    return problems


def differences(expected: Schema, actual: Schema) -> list[str]:
    return (
        diff_sets("table", expected.tables, actual.tables)
        + diff_mappings("column", expected.columns, actual.columns, ("type", "nullable", "identity"))
        + diff_mappings("column order of", expected.column_order, actual.column_order)
        + diff_sets("constraint", expected.constraints, actual.constraints)
        + diff_mappings("index", expected.indexes, actual.indexes)
        + diff_sets("trigger", expected.triggers, actual.triggers)
        + diff_mappings("view", expected.views, actual.views)
        + diff_mappings("function", expected.functions, actual.functions)
    )


def _report(problems: list[str]) -> str:
    return "the migrated schema differs from the seed:\n  " + "\n  ".join(problems)


# --- Tests ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schemas(django_db_setup, django_db_blocker) -> tuple[Schema, Schema]:
    """(the seed's schema as loaded, the migrated public schema); deviations are applied per test.

    The scratch schema lives only inside a transaction that is rolled back.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {SCRATCH}")
            cursor.execute(f"SET LOCAL search_path TO {SCRATCH}")
            cursor.execute(SEED_DDL.read_text())
            cursor.execute(SEED_SQL_OBJECTS)
            cursor.execute("SET LOCAL search_path TO DEFAULT")
            seed = read_schema(cursor, SCRATCH)
            built = read_schema(cursor, "public", scope=seed.tables)
        transaction.set_rollback(True)
    return seed, built


def test_seed_fixture_holds_the_ten_tables(schemas):
    seed, _ = schemas
    assert seed.tables == {
        "exchanges", "orders", "trades", "positions", "portfolio_snapshots",
        "decisions", "experiences", "strategies", "performance_metrics", "system_events",
    }  # fmt: skip
    assert len(seed.indexes) == 30 + 10 + 6  # CREATE INDEX statements, primary keys, UNIQUEs


def test_tables(schemas):
    seed, built = schemas
    problems = diff_sets("table", expected_schema(seed).tables, built.tables)
    assert not problems, _report(problems)


def test_columns_type_length_precision_nullability(schemas):
    seed, built = schemas
    problems = diff_mappings(
        "column", expected_schema(seed).columns, built.columns, ("type", "nullable", "identity")
    )
    assert not problems, _report(problems)


def test_columns_have_a_default_exactly_where_the_seed_has_one(schemas):
    seed, built = schemas
    expected = expected_schema(seed).columns
    problems = [
        f"{key} default: expected {'one' if want.default else 'none'}, got {built.columns[key].default!r}"
        for key, want in expected.items()
        if key in built.columns and (want.default is None) != (built.columns[key].default is None)
    ]
    assert not problems, _report(problems)


def test_column_defaults_are_the_seeds(schemas):
    """Same expression, not only some default: CURRENT_TIMESTAMP is the transaction's start, as the
    updated_at trigger uses, so a row created and updated in one transaction never shows an
    updated_at earlier than its created_at."""
    seed, built = schemas
    problems = diff_mappings("column", expected_schema(seed).columns, built.columns, ("default",))
    assert not problems, _report(problems)


def test_column_order(schemas):
    seed, built = schemas
    problems = diff_mappings("column order of", expected_schema(seed).column_order, built.column_order)
    assert not problems, _report(problems)


def test_constraints(schemas):
    seed, built = schemas
    problems = diff_sets("constraint", expected_schema(seed).constraints, built.constraints)
    assert not problems, _report(problems)


def test_indexes_by_name_and_definition(schemas):
    seed, built = schemas
    problems = diff_mappings("index", expected_schema(seed).indexes, built.indexes)
    assert not problems, _report(problems)


def test_desc_and_gin_indexes_are_there(schemas):
    _, built = schemas
    assert built.indexes["idx_orders_datetime"].endswith("USING btree (datetime DESC)")
    assert built.indexes["idx_experiences_importance"].endswith("USING btree (importance_score DESC)")
    assert built.indexes["idx_experiences_tags"].endswith("USING gin (situation_tags)")


def test_triggers(schemas):
    seed, built = schemas
    problems = diff_sets("trigger", expected_schema(seed).triggers, built.triggers)
    assert not problems, _report(problems)


def test_views(schemas):
    seed, built = schemas
    problems = diff_mappings("view", expected_schema(seed).views, built.views)
    assert not problems, _report(problems)


def test_functions(schemas):
    seed, built = schemas
    problems = diff_mappings("function", expected_schema(seed).functions, built.functions)
    assert not problems, _report(problems)


@pytest.mark.django_db
def test_extensions_exist_where_the_server_ships_them():
    with connection.cursor() as cursor:
        available = {n for (n,) in _rows(cursor, "SELECT name FROM pg_available_extensions")}
        installed = {n for (n,) in _rows(cursor, "SELECT extname FROM pg_extension")}
    for name in ("uuid-ossp", "pgcrypto"):
        assert (name in installed) == (name in available), name


@pytest.mark.parametrize("deviation", [d for d in DEVIATIONS if d.apply], ids=lambda d: d.title)
def test_every_deviation_is_still_needed(schemas, deviation):
    """A deviation the schema no longer shows must leave the list (and docs/schema.md)."""
    seed, built = schemas
    assert differences(expected_schema(seed, without=deviation), built), (
        f"the schema now matches the seed without the deviation {deviation.title!r}; remove it"
    )


def test_every_deviation_is_documented():
    text = SCHEMA_DOC.read_text()
    missing = [deviation.title for deviation in DEVIATIONS if deviation.title not in text]
    assert not missing, f"docs/schema.md does not list the deviations: {missing}"
