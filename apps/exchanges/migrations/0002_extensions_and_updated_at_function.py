"""The seed's extensions (where available), the updated_at trigger function, and its exchanges trigger."""

from django.db import migrations

from apps.common.sql import (
    UPDATED_AT_FUNCTION,
    UPDATED_AT_FUNCTION_REVERSE,
    create_extensions,
    keep_extensions,
    updated_at_trigger,
)


class Migration(migrations.Migration):
    dependencies = [
        ("exchanges", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_extensions, keep_extensions),
        migrations.RunSQL(UPDATED_AT_FUNCTION, reverse_sql=UPDATED_AT_FUNCTION_REVERSE),
        updated_at_trigger("exchanges"),
    ]
