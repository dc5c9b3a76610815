"""The roles again, now that reconciliation exists: both view runs and discrepancies, operators act on them."""

from django.db import migrations


def refresh_roles(apps, schema_editor):
    from apps.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_roles_for_memory_outbox"),
        ("reconciliation", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(refresh_roles, migrations.RunPython.noop),
    ]
