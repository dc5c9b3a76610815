"""The roles again: both view cash flows, model prices and the recalls and feedback of memory; operators add
cash flows and model prices."""

from django.db import migrations


def refresh_roles(apps, schema_editor):
    from apps.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0003_roles_for_reconciliation"),
        ("portfolio", "0003_cash_flows"),
        ("decisions", "0003_inference_cost"),
        ("memory", "0006_recalls_feedback_links"),
    ]

    operations = [
        migrations.RunPython(refresh_roles, migrations.RunPython.noop),
    ]
