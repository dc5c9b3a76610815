"""The roles again: both view the journal's daily roll-ups (sums of what they already view)."""

from django.db import migrations


def refresh_roles(apps, schema_editor):
    from apps.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0005_roles_for_the_journal"),
        ("journal", "0003_figure_rollup_triggers"),
    ]

    operations = [
        migrations.RunPython(refresh_roles, migrations.RunPython.noop),
    ]
