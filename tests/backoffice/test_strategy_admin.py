"""The strategy admin: activation keeps one live version per name; metrics shown inline."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.strategies.models import Strategy
from tests.factories import PerformanceMetricsFactory, StrategyFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:strategies_strategy_changelist")
ADD = reverse("admin:strategies_strategy_add")
ONE_ACTIVE = "Another version of this strategy is already active"


@pytest.fixture
def versions(db):
    live = StrategyFactory(
        name="mean-reversion", version="1.0.0", is_active=True, activated_at=timezone.now()
    )
    return {
        "live": live,
        "next": StrategyFactory(name="mean-reversion", version="1.1.0"),
        "draft": StrategyFactory(name="mean-reversion", version="1.2.0"),
        "other": StrategyFactory(name="breakout", version="0.3.0"),
    }


def run_action(client, action: str, strategies):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [s.pk for s in strategies], "index": "0"},
        follow=True,
    )


def state() -> dict[str, tuple]:
    return {
        f"{s.name} {s.version}": (s.is_active, s.activated_at, s.deactivated_at)
        for s in Strategy.objects.order_by("pk")
    }


def test_activate_switches_the_live_version_and_stamps_both(root_client, versions):
    before = timezone.now()
    response = run_action(root_client, "activate", [versions["next"]])
    assert "Activated 1 strategy version(s)." in response.content.decode()
    active = Strategy.objects.filter(name="mean-reversion", is_active=True)
    assert list(active.values_list("version", flat=True)) == ["1.1.0"]
    new = Strategy.objects.get(pk=versions["next"].pk)
    old = Strategy.objects.get(pk=versions["live"].pk)
    assert new.activated_at >= before and new.deactivated_at is None
    assert old.is_active is False and old.deactivated_at >= before
    assert Strategy.objects.get(pk=versions["draft"].pk).deactivated_at is None  # was never live


def test_activate_versions_of_different_strategies_together(root_client, versions):
    run_action(root_client, "activate", [versions["draft"], versions["other"]])
    live = set(Strategy.objects.filter(is_active=True).values_list("name", "version"))
    assert live == {("mean-reversion", "1.2.0"), ("breakout", "0.3.0")}


def test_two_versions_of_one_name_is_an_error_and_changes_nothing(root_client, versions):
    before = state()
    response = run_action(root_client, "activate", [versions["next"], versions["draft"]])
    html = response.content.decode()
    assert "Select at most one version per strategy name." in html
    assert 'class="error"' in html
    assert state() == before


def test_deactivate_stamps_the_time(root_client, versions):
    response = run_action(root_client, "deactivate", [versions["live"]])
    assert "Deactivated 1 strategy version(s)." in response.content.decode()
    live = Strategy.objects.get(pk=versions["live"].pk)
    assert live.is_active is False and live.deactivated_at is not None


def test_a_second_active_version_is_refused_with_a_clear_error(versions):
    before = state()
    duplicate = Strategy(name="mean-reversion", version="2.0.0", config={}, is_active=True)
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert ONE_ACTIVE in " ".join(excinfo.value.messages)
    # Past validation, the database constraint strategies_one_active_version still refuses it.
    with pytest.raises(IntegrityError, match="strategies_one_active_version"), transaction.atomic():
        duplicate.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Strategy.objects.filter(pk=versions["next"].pk).update(is_active=True)
    assert state() == before


def test_the_form_cannot_make_a_version_active(root_client, versions):
    # is_active is read-only on the form: activation is the action's job, so a posted value is ignored.
    response = root_client.post(
        reverse("admin:strategies_strategy_change", args=[versions["next"].pk]),
        {
            "name": "mean-reversion",
            "version": "1.1.0",
            "config": '{"rsi_period": 10}',
            "is_active": "true",
            "performance_metrics-TOTAL_FORMS": "0",
            "performance_metrics-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    saved = Strategy.objects.get(pk=versions["next"].pk)
    assert saved.config == {"rsi_period": 10}
    assert saved.is_active is False
    assert Strategy.objects.get(pk=versions["live"].pk).is_active is True


def add_form(**overrides) -> dict:
    data = {
        "name": "mean-reversion",
        "version": "1.3.0",
        "description": "Tighter RSI bands.",
        "config": '{"rsi_period": 14, "rsi_buy": 25}',
        "reason_for_update": "Too many false entries at 30.",
        "performance_metrics-TOTAL_FORMS": "0",
        "performance_metrics-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_a_new_version_is_added_inactive_beside_the_live_one(root_client, versions):
    response = root_client.post(ADD, add_form())
    assert response.status_code == 302
    added = Strategy.objects.get(name="mean-reversion", version="1.3.0")
    assert added.is_active is False and added.activated_at is None
    assert added.config == {"rsi_period": 14, "rsi_buy": 25}
    assert Strategy.objects.get(pk=versions["live"].pk).is_active is True


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"version": "1.0.0"}, "__all__", "already exists"),
        ({"config": "{rsi: 14"}, "config", "Enter a valid JSON."),
        ({"config": ""}, "config", "This field is required."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_a_bad_new_version_is_a_form_error_and_saves_nothing(
    root_client, versions, overrides, field, message
):
    count = Strategy.objects.count()
    response = root_client.post(ADD, add_form(**overrides))
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert Strategy.objects.count() == count


def test_change_page_shows_performance_metrics_inline(root_client, versions):
    PerformanceMetricsFactory(strategy=versions["live"], sharpe_ratio="1.8500", total_return="4.2000")
    html = root_client.get(reverse("admin:strategies_strategy_change", args=[versions["live"].pk])).content
    html = html.decode()
    assert "Performance metrics" in html
    assert "1.8500" in html and "4.2000" in html


def test_operators_activate_and_auditors_cannot(client, operator, auditor, versions):
    client.force_login(auditor)
    assert 'value="activate"' not in client.get(CHANGELIST).content.decode()
    run_action(client, "activate", [versions["next"]])
    assert Strategy.objects.get(pk=versions["live"].pk).is_active is True

    client.force_login(operator)
    assert 'value="activate"' in client.get(CHANGELIST).content.decode()
    run_action(client, "activate", [versions["next"]])
    assert Strategy.objects.get(pk=versions["next"].pk).is_active is True
    assert Strategy.objects.get(pk=versions["live"].pk).is_active is False


def test_operators_edit_a_version_that_has_metrics(client, operator, versions):
    PerformanceMetricsFactory(strategy=versions["next"])
    client.force_login(operator)
    url = reverse("admin:strategies_strategy_change", args=[versions["next"].pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' in page.content.decode()
    form = page.context["adminform"].form
    data = {
        name: form[name].value() or "" for name in ("name", "version", "description", "reason_for_update")
    }
    data.update(config='{"rsi_period": 21}', description="Slower RSI.")
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        for inline_form in formset.formset.forms:
            data.update(
                {
                    inline_form.add_prefix("id"): inline_form.instance.pk,
                    inline_form.add_prefix("strategy"): versions["next"].pk,
                }
            )
    response = client.post(url, data)
    assert response.status_code == 302
    saved = Strategy.objects.get(pk=versions["next"].pk)
    assert (saved.description, saved.config) == ("Slower RSI.", {"rsi_period": 21})
