"""updated_at trigger on strategies."""

from django.db import migrations

from apps.common.sql import updated_at_trigger


class Migration(migrations.Migration):
    dependencies = [
        ("strategies", "0001_initial"),
        ("exchanges", "0002_extensions_and_updated_at_function"),
    ]

    operations = [
        updated_at_trigger("strategies"),
    ]
