"""SQL objects the seed defines beside its tables, as migration operations with their rollbacks."""

import logging

from django.db import migrations

logger = logging.getLogger("tradeoffice.migrations")

UPDATED_AT_FUNCTION = """
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""
UPDATED_AT_FUNCTION_REVERSE = "DROP FUNCTION IF EXISTS update_updated_at_column();"

EXTENSIONS = ("uuid-ossp", "pgcrypto")


def updated_at_trigger(table: str) -> migrations.RunSQL:
    """The seed's `update_<table>_updated_at` BEFORE UPDATE trigger: the database owns updated_at."""
    name = f"update_{table}_updated_at"
    return migrations.RunSQL(
        sql=(
            f"CREATE OR REPLACE TRIGGER {name} BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();"
        ),
        reverse_sql=f"DROP TRIGGER IF EXISTS {name} ON {table};",
    )


def create_extensions(apps, schema_editor) -> None:
    """Create uuid-ossp and pgcrypto where the server ships them; warn and go on where it does not.

    Nothing in the schema depends on them (ids come from the exchanges and the agent); they
    are there for operators' ad-hoc SQL, as the seed asks.
    """
    with schema_editor.connection.cursor() as cursor:
        for name in EXTENSIONS:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [name])
            if cursor.fetchone() is None:
                logger.warning(
                    "PostgreSQL extension %r is not available on this server; skipped. "
                    "Install the server's contrib package to have it.",
                    name,
                )
                continue
            try:
                cursor.execute("SAVEPOINT create_extension")
                cursor.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"')
                cursor.execute("RELEASE SAVEPOINT create_extension")
            except Exception as exc:  # noqa: BLE001 - e.g. insufficient privilege; not fatal
                cursor.execute("ROLLBACK TO SAVEPOINT create_extension")
                logger.warning("PostgreSQL extension %r could not be created (%s); skipped.", name, exc)


def keep_extensions(apps, schema_editor) -> None:
    """Extensions are database-wide and may serve others: a rollback leaves them in place."""
