"""The triggers that keep each roll-up (apps/journal/rollups.py), and its first fill from what is recorded.

Apart from 0002: the roll-ups' unique keys, which the triggers' upserts name, are created at the end of
the migration that creates the tables."""

from django.db import migrations

from apps.journal.rollups import SPECS


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0002_figure_rollups"),
    ]

    operations = [migrations.RunSQL(spec.create_sql(), spec.drop_sql()) for spec in SPECS]
