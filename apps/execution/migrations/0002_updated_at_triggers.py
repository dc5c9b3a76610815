"""updated_at triggers on orders and positions."""

from django.db import migrations

from apps.common.sql import updated_at_trigger


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0001_initial"),
        ("exchanges", "0002_extensions_and_updated_at_function"),
    ]

    operations = [
        updated_at_trigger("orders"),
        updated_at_trigger("positions"),
    ]
