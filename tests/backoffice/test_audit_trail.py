"""Every operator write is on the record: the admin's history (LogEntry, Recent actions) and a system event
naming the user; a refused action writes neither. A strategy version that has been live stays as it ran."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone

from apps.memory.models import Experience, ExperienceLink
from apps.strategies.models import Strategy
from apps.system_events.models import SystemEvent
from tests.backoffice.test_reconciliation_admin import missing_order
from tests.factories import DiscrepancyFactory, ExperienceFactory, StrategyFactory

pytestmark = pytest.mark.django_db

EXPERIENCES = reverse("admin:memory_experience_changelist")
STRATEGIES = reverse("admin:strategies_strategy_changelist")
DISCREPANCIES = reverse("admin:reconciliation_discrepancy_changelist")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def act(client, url, action, objects, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": "0", **extra}
    return client.post(url, data, follow=True)


def history(obj) -> list[tuple[int, str, str]]:
    """(flag, user, message) of the object's admin history, oldest first."""
    entries = LogEntry.objects.filter(object_id=str(obj.pk), content_type__model=obj._meta.model_name)
    return [(e.action_flag, e.user.username, e.get_change_message()) for e in entries.order_by("pk")]


def operator_events() -> list[SystemEvent]:
    return list(SystemEvent.objects.filter(event_type="operator_action").order_by("datetime", "id"))


def test_a_bulk_importance_change_is_in_each_history_and_one_event(operator_client, operator, world):
    other = ExperienceFactory()
    response = act(operator_client, EXPERIENCES, "set_importance", [world.experience, other], value="0.9")
    assert "Importance set to 0.9 on 2 experience(s)." in response.content.decode()
    for experience in (world.experience, other):
        assert history(experience) == [(CHANGE, "olivia", "set importance to 0.9")]
    [event] = operator_events()
    assert event.message == "olivia: set importance to 0.9 (2 experiences)"
    assert event.data["user"] == "olivia" and event.data["action"] == "experience_set_importance"
    assert sorted(event.data["objects"]) == sorted([world.experience.pk, other.pk])
    # Recent actions on the admin index shows it to the operator.
    index = operator_client.get(reverse("admin:index")).content.decode()
    assert "Recent actions" in index and str(world.experience) in index


def test_a_refused_bulk_change_leaves_no_trace(operator_client, world):
    response = act(operator_client, EXPERIENCES, "set_importance", [world.experience], value="1.7")
    assert "Nothing changed" in response.content.decode()
    assert history(world.experience) == [] and operator_events() == []


@pytest.mark.parametrize(("action", "verb"), [("add_tag", "added"), ("remove_tag", "removed")])
def test_tagging_is_on_the_record(operator_client, world, action, verb):
    act(operator_client, EXPERIENCES, action, [world.experience], value="Breakout")
    assert history(world.experience) == [(CHANGE, "olivia", f"{verb} tag “breakout”")]
    [event] = operator_events()
    assert event.data["tag"] == "breakout" and event.message.startswith(f"olivia: {verb} tag")


def test_superseding_and_bringing_back_are_on_the_record(operator_client, world):
    older, newer = ExperienceFactory(), ExperienceFactory()
    response = act(operator_client, EXPERIENCES, "supersede_by", [older, world.experience], value=newer.pk)
    assert "2 experience(s) superseded by" in response.content.decode()
    assert set(ExperienceLink.objects.filter(kind="supersedes").values_list("source_id", "target_id")) == {
        (newer.pk, older.pk), (newer.pk, world.experience.pk)
    }  # fmt: skip
    assert history(older) == [(CHANGE, "olivia", f"superseded by {newer.pk}")]
    assert operator_events()[-1].data["superseded_by"] == newer.pk
    response = act(operator_client, EXPERIENCES, "bring_back", [older])
    assert "1 experience(s) back in default recall." in response.content.decode()
    assert history(older)[-1] == (CHANGE, "olivia", "brought back into default recall")
    assert list(ExperienceLink.objects.values_list("target_id", flat=True)) == [world.experience.pk]


@pytest.mark.parametrize("value", ["", "exp_nobody"])
def test_superseding_by_no_experience_or_by_itself_changes_nothing(operator_client, world, value):
    response = act(operator_client, EXPERIENCES, "supersede_by", [world.experience], value=value)
    assert "Nothing changed" in response.content.decode()
    response = act(
        operator_client, EXPERIENCES, "supersede_by", [world.experience], value=world.experience.pk
    )
    assert "cannot supersede itself" in response.content.decode()
    assert not ExperienceLink.objects.exists() and operator_events() == []


def test_an_auditor_cannot_supersede(client, auditor, world):
    client.force_login(auditor)
    act(client, EXPERIENCES, "supersede_by", [world.experience], value=ExperienceFactory().pk)
    assert not ExperienceLink.objects.exists() and operator_events() == []


def test_an_edit_through_the_form_is_in_the_history_and_an_event(operator_client, world):
    url = reverse("admin:memory_experience_change", args=[quote(world.experience.pk)])
    form = {
        "reflection": "Entered late after a 3% move; the edge was gone.",
        "lessons_learned": "Wait for a retest",
        "situation_tags": "btc, breakout",
        "importance_score": "0.70",
    }
    assert operator_client.post(url, form).status_code == 302
    [(flag, user, message)] = history(world.experience)
    assert (flag, user) == (CHANGE, "olivia") and "Reflection" in message
    [event] = operator_events()
    assert event.message.startswith(f"olivia: changed experience “{world.experience}”: Changed")
    assert event.data["action"] == "experience_change"


def test_activation_names_the_user_and_the_version_it_replaced(operator_client, operator):
    live = StrategyFactory(
        name="mean-reversion", version="1.0.0", is_active=True, activated_at=timezone.now()
    )
    new = StrategyFactory(name="mean-reversion", version="1.1.0")
    response = act(operator_client, STRATEGIES, "activate", [new])
    assert "Activated 1 strategy version(s)." in response.content.decode()
    assert history(new) == [
        (CHANGE, "olivia", "activated mean-reversion v1.1.0 in place of mean-reversion v1.0.0")
    ]
    assert history(live) == [
        (CHANGE, "olivia", "deactivated mean-reversion v1.0.0 by activating mean-reversion v1.1.0")
    ]
    first = operator_events()[0]
    assert first.data == {
        "user": "olivia", "action": "strategy_activate", "model": "strategies.strategy", "count": 1,
        "objects": [str(new.pk)], "deactivated": [live.pk],
    }  # fmt: skip


def test_deactivation_is_on_the_record(operator_client):
    live = StrategyFactory(name="breakout", version="0.3.0", is_active=True, activated_at=timezone.now())
    act(operator_client, STRATEGIES, "deactivate", [live])
    assert history(live) == [(CHANGE, "olivia", "deactivated breakout v0.3.0")]
    assert operator_events()[0].data["action"] == "strategy_deactivate"


def test_adopting_and_dismissing_are_on_the_record(operator_client, world):
    adoptable = missing_order(world.exchange, "9101")
    act(operator_client, DISCREPANCIES, "adopt", [adoptable])
    assert history(adoptable) == [(CHANGE, "olivia", "adopted the exchange's version")]
    other = DiscrepancyFactory(exchange=world.exchange)
    act(operator_client, DISCREPANCIES, "dismiss", [other], reason="Dust left by a fee in BNB")
    assert history(other) == [(CHANGE, "olivia", "dismissed: Dust left by a fee in BNB")]
    assert [e.data["action"] for e in operator_events()] == ["discrepancy_adopt", "discrepancy_dismiss"]


def test_a_refused_dismissal_leaves_no_trace(operator_client, world):
    act(operator_client, DISCREPANCIES, "dismiss", [world.discrepancy], reason="  ")
    assert history(world.discrepancy) == [] and operator_events() == []


def test_recording_a_cash_flow_is_an_event_naming_the_user(operator_client, world):
    url = reverse("admin:portfolio_cashflow_add")
    response = operator_client.get(url)
    assert response.status_code == 200
    form = {
        "exchange": world.exchange.pk, "kind": "deposit", "currency": "USDT", "amount": "250",
        "datetime_0": "2026-01-05", "datetime_1": "10:00:00", "note": "Top-up from the treasury",
    }  # fmt: skip
    before = LogEntry.objects.count()
    response = operator_client.post(url, form)
    if response.status_code != 302:  # the form's fields are the portfolio app's: say what it refused
        pytest.fail(str(response.context["adminform"].form.errors))
    assert LogEntry.objects.count() == before + 1
    assert LogEntry.objects.order_by("-pk").first().action_flag == ADDITION
    [event] = operator_events()
    assert event.data["action"] == "cashflow_add" and event.message.startswith("olivia: added cash flow")


def test_deleting_through_the_admin_is_an_event(root_client, superuser):
    experience = ExperienceFactory()
    url = reverse("admin:memory_experience_delete", args=[quote(experience.pk)])
    assert root_client.post(url, {"post": "yes"}).status_code == 302
    assert not Experience.objects.filter(pk=experience.pk).exists()
    assert history(experience) == [(DELETION, "root", "")]
    assert operator_events()[0].data["action"] == "experience_delete"


PER_ROW_STEP = {"activate": "activate_version"}


def test_every_action_that_changes_rows_is_audited():
    # A new bulk action must write the trail (operator_admin.py); only exports and deletions are exempt
    # (a deletion goes through log_deletions, which the site audits).
    audited = {
        "memory.experience": {"set_importance", "add_tag", "remove_tag", "supersede_by", "bring_back"},
        "strategies.strategy": {"activate", "deactivate"},
        "reconciliation.discrepancy": {"adopt", "dismiss"},
        "agents.agent": {"revoke"},
    }
    for model, model_admin in admin.site._registry.items():
        names = {a if isinstance(a, str) else a.__name__ for a in model_admin.actions or []}
        names -= {"export_as_csv", "delete_selected"}
        label = model._meta.label_lower
        assert names <= audited.get(label, set()), f"{label}: {names - audited.get(label, set())} not audited"
        for name in names:
            # The action itself, or the per-row step it calls (activation's), is the back-office's own.
            audited_by = getattr(type(model_admin), PER_ROW_STEP.get(name, name))
            assert audited_by.__module__ == "apps.backoffice.operator_admin", (label, name)


# --- a strategy version that has been live ---------------------------------------------------------


def change(client, strategy, **fields):
    data = {
        "name": strategy.name,
        "version": strategy.version,
        "description": strategy.description or "",
        "config": '{"rsi_entry": 30}',
        "reason_for_update": strategy.reason_for_update or "",
        "performance_metrics-TOTAL_FORMS": "0",
        "performance_metrics-INITIAL_FORMS": "0",
        **fields,
    }
    return client.post(reverse("admin:strategies_strategy_change", args=[strategy.pk]), data, follow=True)


def test_a_version_that_ran_cannot_be_edited_in_place(operator_client):
    ran = StrategyFactory(
        name="mean-reversion", version="1.0.0", config={"rsi_entry": 30},
        activated_at=timezone.now() - timedelta(days=3), deactivated_at=timezone.now(),
    )  # fmt: skip
    response = change(operator_client, ran, config='{"rsi_entry": 25}')
    assert "has been live, so it stays as it ran. Give a new version number" in response.content.decode()
    ran.refresh_from_db()
    assert ran.config == {"rsi_entry": 30} and Strategy.objects.count() == 1
    assert operator_events() == []


def test_with_a_new_version_number_the_change_is_a_new_inactive_version(operator_client):
    ran = StrategyFactory(
        name="mean-reversion", version="1.0.0", config={"rsi_entry": 30}, is_active=True,
        activated_at=timezone.now(),
    )  # fmt: skip
    response = change(operator_client, ran, version="1.0.1", config='{"rsi_entry": 25}')
    html = response.content.decode()
    assert "your changes are the new version mean-reversion v1.0.1" in html
    ran.refresh_from_db()
    assert (ran.version, ran.config, ran.is_active) == ("1.0.0", {"rsi_entry": 30}, True)
    new = Strategy.objects.get(name="mean-reversion", version="1.0.1")
    assert (new.config, new.is_active, new.activated_at) == ({"rsi_entry": 25}, False, None)
    assert new.reason_for_update == "Derived from v1.0.0."
    assert history(new) == [(ADDITION, "olivia", "made mean-reversion v1.0.1 from mean-reversion v1.0.0, "
                                                 "which has been live and stays as it ran")]  # fmt: skip
    assert history(ran) == []
    assert [e.data["action"] for e in operator_events()] == ["strategy_version_create"]


def test_a_version_that_never_ran_is_edited_in_place(operator_client):
    draft = StrategyFactory(name="breakout", version="0.4.0", config={"lookback": 20})
    change(operator_client, draft, config='{"lookback": 55}')
    draft.refresh_from_db()
    assert draft.config == {"lookback": 55} and Strategy.objects.count() == 1
    assert history(draft)[0][0] == CHANGE


def test_a_new_version_number_that_exists_is_refused(operator_client):
    ran = StrategyFactory(name="mean-reversion", version="1.0.0", is_active=True, activated_at=timezone.now())
    StrategyFactory(name="mean-reversion", version="1.1.0")
    response = change(operator_client, ran, version="1.1.0")
    assert "mean-reversion v1.1.0 exists already: choose another version number." in response.content.decode()
    assert Strategy.objects.count() == 2


def test_revoking_an_agent_is_on_the_record(root_client, world):
    act(root_client, reverse("admin:agents_agent_changelist"), "revoke", [world.agent])
    world.agent.refresh_from_db()
    assert world.agent.revoked_at is not None
    assert history(world.agent) == [(CHANGE, "root", "revoked the token")]
    assert operator_events()[0].message == f"root: revoked the token (agent {world.agent.pk})"
