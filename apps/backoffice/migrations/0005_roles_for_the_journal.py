"""The roles again: both read the journal (reviews, the price path, excursions); operators review."""

from django.db import migrations


def refresh_roles(apps, schema_editor):
    from apps.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0004_roles_for_cash_flows_and_prices"),
        ("journal", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(refresh_roles, migrations.RunPython.noop),
    ]
