"""The operators and auditors groups: made by migrations, refreshed by sync_roles, secrets for nobody."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from apps.backoffice.roles import roles_sync

pytestmark = pytest.mark.django_db

VIEWED_APPS = (
    "exchanges", "execution", "portfolio", "decisions", "memory", "strategies", "system_events",
    "reconciliation", "journal",
)  # fmt: skip


def codenames(group: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=group).permissions.select_related("content_type")
    }


def every_view_permission() -> set[str]:
    return {
        f"{model._meta.app_label}.view_{model._meta.model_name}"
        for app in VIEWED_APPS
        for model in apps.get_app_config(app).get_models()
    }


def test_the_migrations_give_auditors_every_view_and_nothing_else():
    # Every model of the trading apps, including those added after the first roles migration.
    assert codenames("auditors") == every_view_permission()
    assert "memory.view_memoryoutbox" in codenames("auditors")


def test_operators_also_annotate_experiences_manage_strategies_and_act_on_discrepancies():
    extra = codenames("operators") - codenames("auditors")
    assert extra == {
        "memory.change_experience",
        "strategies.add_strategy",
        "strategies.change_strategy",
        "reconciliation.change_discrepancy",
        "portfolio.add_cashflow",
        "decisions.add_modelprice",
        "journal.add_review",
        "journal.change_review",
    }
    assert codenames("auditors") <= codenames("operators")


def test_no_role_may_change_exchanges_delete_anything_or_touch_accounts():
    for group in ("operators", "auditors"):
        held = codenames(group)
        assert not {c for c in held if ".delete_" in c}
        assert not {c for c in held if c.startswith("exchanges.") and not c.startswith("exchanges.view_")}
        assert not {c for c in held if c.startswith(("auth.", "agents."))}


def test_sync_roles_restores_what_was_taken_away():
    operators = Group.objects.get(name="operators")
    operators.permissions.remove(Permission.objects.get(codename="change_experience"))
    Group.objects.get(name="auditors").delete()
    out = io.StringIO()
    call_command("sync_roles", stdout=out)
    assert "memory.change_experience" in codenames("operators")
    assert codenames("auditors") == every_view_permission()
    assert "Roles in place: operators with" in out.getvalue()


def test_sync_roles_leaves_the_live_app_registry_as_it_was():
    before = {config.label: config.models_module for config in apps.get_app_configs()}
    roles_sync()
    assert {config.label: config.models_module for config in apps.get_app_configs()} == before
