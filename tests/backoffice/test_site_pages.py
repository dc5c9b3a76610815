"""Every admin page of every registered model, for a superuser, an operator and an auditor."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.urls import reverse

from .conftest import PASSWORD

# What the admin allows on each model whatever the role (a superuser holds every permission).
READ_ONLY = {
    "execution.order",
    "execution.trade",
    "execution.position",
    "execution.currentposition",
    "execution.todaytrade",
    "portfolio.portfoliosnapshot",
    "decisions.decision",
    "strategies.performancemetrics",
    "system_events.systemevent",
    "agents.agentwrite",
    "memory.memoryoutbox",
    "reconciliation.reconciliationrun",
    "journal.candle",
    "journal.positionexcursion",
}
# Records that are added and never edited: a flow is corrected by its opposite, a price by the next one.
ADD_ONLY = {"portfolio.cashflow", "decisions.modelprice"}
NEVER_ADDED = READ_ONLY | {"memory.experience", "agents.agent", "reconciliation.discrepancy"}

# What the roles may see and do (the groups come from the backoffice migration).
ROLE_APPS = {
    "exchanges", "execution", "portfolio", "decisions", "memory", "strategies", "system_events",
    "reconciliation", "journal",
}  # fmt: skip
OPERATOR_CHANGES = {
    "memory.experience", "strategies.strategy", "reconciliation.discrepancy", "journal.review",
}  # fmt: skip
OPERATOR_ADDS = {"strategies.strategy", "journal.review"} | ADD_ONLY

MODELS = {f"{model._meta.app_label}.{model._meta.model_name}": model for model in admin.site._registry}
ROLES = ["superuser", "operator", "auditor"]


def expected(role: str, label: str) -> dict[str, bool]:
    app = label.split(".")[0]
    if role == "superuser":
        return {"view": True, "add": label not in NEVER_ADDED, "change": label not in READ_ONLY | ADD_ONLY}
    view = app in ROLE_APPS
    if role == "auditor":
        return {"view": view, "add": False, "change": False}
    return {"view": view, "add": label in OPERATOR_ADDS, "change": label in OPERATOR_CHANGES}


def _urls(label: str, pk) -> dict[str, str]:
    info = label.replace(".", "_")
    return {
        "changelist": reverse(f"admin:{info}_changelist"),
        "add": reverse(f"admin:{info}_add"),
        "change": reverse(f"admin:{info}_change", args=[quote(pk)]),
    }


@pytest.fixture
def logged_in(request, client, world):
    user = request.getfixturevalue(request.param)
    assert client.login(username=user.username, password=PASSWORD)
    return request.param, client


@pytest.mark.parametrize("logged_in", ROLES, indirect=True)
@pytest.mark.parametrize("label", sorted(MODELS))
def test_pages_render_or_are_refused(logged_in, label):
    role, client = logged_in
    obj = MODELS[label]._default_manager.order_by("pk").first()
    assert obj is not None, f"the world fixture has no {label} row: add one so its change page is tested"
    can = expected(role, label)
    urls = _urls(label, obj.pk)

    changelist = client.get(urls["changelist"])
    assert changelist.status_code == (200 if can["view"] else 403)
    if can["view"]:
        # The row itself is listed (its change link), not only an empty table.
        assert urls["change"] in changelist.content.decode()

    assert client.get(urls["add"]).status_code == (200 if can["add"] else 403)
    if not can["add"]:
        assert client.post(urls["add"], {}).status_code == 403

    change = client.get(urls["change"])
    assert change.status_code == (200 if can["view"] else 403)
    if can["view"]:
        # A change page offers "Save" only to who may change; the others get a read-only page.
        assert ('name="_save"' in change.content.decode()) is can["change"]
    if not can["change"]:
        assert client.post(urls["change"], {}).status_code == 403


@pytest.mark.parametrize("logged_in", ROLES, indirect=True)
def test_index_and_dashboard_render_for_every_role(logged_in):
    role, client = logged_in
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert reverse("admin:dashboard") in index.content.decode()
    if role != "superuser":
        # The index lists what the role may see, and nothing of the user accounts.
        assert reverse("admin:auth_user_changelist") not in index.content.decode()
        assert reverse("admin:memory_experience_changelist") in index.content.decode()
    assert client.get(reverse("admin:dashboard")).status_code == 200


def test_nobody_adds_records_from_exchanges_or_agents():
    # Orders, trades, decisions and system events come from the exchange or the agent, never from a form.
    for label in ("execution.order", "execution.trade", "decisions.decision", "system_events.systemevent"):
        assert not any(expected(role, label)["add"] for role in ROLES)
        assert label in MODELS


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    for label in MODELS:
        response = client.get(reverse(f"admin:{label.replace('.', '_')}_changelist"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    response = client.get(reverse("admin:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_a_staff_user_without_a_role_sees_nothing(client, django_user_model, world):
    django_user_model.objects.create_user("nobody", password=PASSWORD, is_staff=True)
    client.login(username="nobody", password=PASSWORD)
    for label in MODELS:
        assert client.get(reverse(f"admin:{label.replace('.', '_')}_changelist")).status_code == 403


@pytest.mark.parametrize("label", sorted(MODELS))
def test_a_view_only_user_is_offered_no_action_that_changes_anything(rf, django_user_model, label):
    model = MODELS[label]
    user = django_user_model.objects.create_user(f"viewer-{model._meta.model_name}", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label=model._meta.app_label, codename=f"view_{model._meta.model_name}"
        )
    )
    request = rf.get("/")
    request.user = user
    assert set(admin.site._registry[model].get_actions(request)) <= {"export_as_csv"}
