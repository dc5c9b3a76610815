"""updated_at trigger on experiences, and calculate_win_rate(p_start_date, p_end_date)."""

from django.db import migrations

from apps.common.sql import updated_at_trigger

# Percentage of experiences with outcome 'success' whose date falls in the range; 0 when none.
CALCULATE_WIN_RATE = """
CREATE OR REPLACE FUNCTION calculate_win_rate(
    p_start_date DATE,
    p_end_date DATE
) RETURNS NUMERIC AS $$
DECLARE
    total_count INTEGER;
    win_count INTEGER;
BEGIN
    SELECT COUNT(*) INTO total_count
    FROM experiences
    WHERE datetime::DATE BETWEEN p_start_date AND p_end_date;

    SELECT COUNT(*) INTO win_count
    FROM experiences
    WHERE datetime::DATE BETWEEN p_start_date AND p_end_date
      AND outcome = 'success';

    IF total_count = 0 THEN
        RETURN 0;
    END IF;

    RETURN (win_count::NUMERIC / total_count) * 100;
END;
$$ LANGUAGE plpgsql;
"""
CALCULATE_WIN_RATE_REVERSE = "DROP FUNCTION IF EXISTS calculate_win_rate(DATE, DATE);"


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0001_initial"),
        ("exchanges", "0002_extensions_and_updated_at_function"),
    ]

    operations = [
        updated_at_trigger("experiences"),
        migrations.RunSQL(CALCULATE_WIN_RATE, reverse_sql=CALCULATE_WIN_RATE_REVERSE),
    ]
