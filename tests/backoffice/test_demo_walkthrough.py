"""On the demo world, an operator finds last week's losing trades, reads the agent's thinking, writes a
lesson and sees the portfolio curve, with nothing but the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.demo.services import demo_seed
from apps.memory.models import Experience, Outcome

pytestmark = pytest.mark.django_db


def test_an_operator_reviews_last_weeks_losses_on_the_demo_world(
    client, operator, fresh_memory, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        demo_seed()
    client.force_login(operator)

    # Last week's losing experiences, from the filter and the date range a person would pick.
    since_moment = (timezone.now() - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    since = since_moment.date().isoformat()
    response = client.get(
        reverse("admin:memory_experience_changelist"),
        {"outcome__exact": Outcome.FAILURE, "datetime__gte": since_moment.isoformat()},
    )
    assert response.status_code == 200
    losses = list(response.context["cl"].result_list)
    assert losses, "the demo world has no losing experience in the last week"
    assert all(e.outcome == Outcome.FAILURE and e.datetime.date().isoformat() >= since for e in losses)

    # What the agent was thinking, and the orders behind it.
    loss = losses[0]
    assert loss.decision_ref_id, "a demo experience should lead back to its decision"
    page = client.get(reverse("admin:memory_experience_change", args=[loss.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Thought process:" in html and escape(loss.decision_ref.thought_process) in html
    for order_id in loss.related_orders:
        assert order_id in html
    assert "<th>similarity</th>" in html  # long-term memory answered with neighbours

    # A lesson written on it stays.
    form = page.context["adminform"].form
    data = {
        "reflection": form["reflection"].value() or "",
        "lessons_learned": "\n".join(form.initial.get("lessons_learned") or [])
        + "\nNo entries into a news spike",
        "situation_tags": ", ".join(form.initial.get("situation_tags") or []),
        "importance_score": str(form["importance_score"].value()),
    }
    assert client.post(reverse("admin:memory_experience_change", args=[loss.pk]), data).status_code == 302
    assert Experience.objects.get(pk=loss.pk).lessons_learned[-1] == "No entries into a news spike"

    # The portfolio curve.
    dashboard = client.get(reverse("admin:dashboard")).content.decode()
    assert "<polyline" in dashboard and "no data yet" not in dashboard
