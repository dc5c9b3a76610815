"""The roles again, now that the memory outbox exists: operators and auditors may view it."""

from django.db import migrations


def refresh_roles(apps, schema_editor):
    from apps.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_roles"),
        ("memory", "0003_memory_outbox"),
    ]

    operations = [
        migrations.RunPython(refresh_roles, migrations.RunPython.noop),
    ]
