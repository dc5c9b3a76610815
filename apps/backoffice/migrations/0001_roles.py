"""The operators and auditors groups."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from apps.backoffice.roles import roles_sync

    roles_sync(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["operators", "auditors"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("exchanges", "0002_extensions_and_updated_at_function"),
        ("execution", "0003_views"),
        ("portfolio", "0001_initial"),
        ("decisions", "0001_initial"),
        ("memory", "0002_updated_at_trigger_and_win_rate"),
        ("strategies", "0003_one_active_version"),
        ("system_events", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_roles, remove_roles),
    ]
