"""The views current_positions and today_trades (read through unmanaged models)."""

from django.db import migrations

CURRENT_POSITIONS = """
CREATE OR REPLACE VIEW current_positions AS
SELECT * FROM positions
WHERE is_open = TRUE;
"""
CURRENT_POSITIONS_REVERSE = "DROP VIEW IF EXISTS current_positions;"

# The seed's WHERE DATE(datetime) = CURRENT_DATE, written as a range so idx_trades_datetime
# serves it. CURRENT_DATE is the session's date (UTC: Django sets the connection time zone).
TODAY_TRADES = """
CREATE OR REPLACE VIEW today_trades AS
SELECT * FROM trades
WHERE datetime >= CURRENT_DATE
  AND datetime < CURRENT_DATE + 1;
"""
TODAY_TRADES_REVERSE = "DROP VIEW IF EXISTS today_trades;"


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0002_updated_at_triggers"),
    ]

    operations = [
        migrations.RunSQL(CURRENT_POSITIONS, reverse_sql=CURRENT_POSITIONS_REVERSE),
        migrations.RunSQL(TODAY_TRADES, reverse_sql=TODAY_TRADES_REVERSE),
    ]
