"""The operator and auditor roles as Django groups.

- operators: view everything, annotate experiences, manage strategies, adopt or dismiss discrepancies,
  record cash flows, add model prices, review decisions and experiences.
- auditors: view everything, change nothing.
Nobody sees exchange secrets: the admin never shows them, whatever the role.
"""

from __future__ import annotations

ROLE_APPS = (
    "exchanges",
    "execution",
    "portfolio",
    "decisions",
    "memory",
    "strategies",
    "system_events",
    "reconciliation",
    "journal",
)
OPERATOR_EXTRA = (
    ("reconciliation", "change_discrepancy"),  # adopt and dismiss
    ("memory", "change_experience"),
    ("strategies", "add_strategy"),
    ("strategies", "change_strategy"),
    ("portfolio", "add_cashflow"),  # deposits, withdrawals and transfers no exchange reports
    ("decisions", "add_modelprice"),  # a model's next price
    ("journal", "add_review"),  # review a decision or an experience
    ("journal", "change_review"),  # and revise the review
)


def roles_sync(apps=None) -> dict[str, int]:
    """Create or refresh the groups; returns how many permissions each holds.

    `apps` is a migration's historical registry, or None for the live one.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; create them now so the groups can hold them.
    for app_config in apps.get_app_configs():
        # create_permissions skips an app config without models_module (a migration's stubs have
        # none); put back what was there, or the live registry would lose it for later signals.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    view = permission_model.objects.filter(
        content_type__app_label__in=ROLE_APPS, codename__startswith="view_"
    )
    extra = permission_model.objects.none()
    for app_label, codename in OPERATOR_EXTRA:
        extra |= permission_model.objects.filter(content_type__app_label=app_label, codename=codename)

    auditors, _ = group_model.objects.get_or_create(name="auditors")
    auditors.permissions.set(view)
    operators, _ = group_model.objects.get_or_create(name="operators")
    operators.permissions.set(view | extra)
    return {"auditors": auditors.permissions.count(), "operators": operators.permissions.count()}
