"""On the demo world, the active strategy's tearsheet has its benchmark and what the agent's thinking cost."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.demo.services import demo_seed
from apps.strategies.models import Strategy

pytestmark = pytest.mark.django_db


def test_the_demo_tearsheet_has_a_benchmark_and_an_inference_cost(
    client, operator, fresh_memory, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = demo_seed()
    assert report.created["model prices"] == 2
    client.force_login(operator)
    strategy = Strategy.objects.get(is_active=True)
    page = client.get(reverse("admin:tearsheet", args=[strategy.pk]))
    assert page.status_code == 200
    sheet = page.context["sheet"]
    assert sheet.benchmark is not None and len(sheet.benchmark) == len(sheet.days) > 30
    assert sheet.figures["inference_cost"] > 0
    assert {m["model"] for m in sheet.costs_by_model} <= {"gpt-4o", "gpt-4o-mini"}
    assert all(m["unpriced"] == 0 for m in sheet.costs_by_model)
    again = demo_seed()  # seeding again adds nothing
    assert again.created["model prices"] == 0
