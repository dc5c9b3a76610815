"""Idempotency keys: the header's shape, and purging old keys."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from apps.agents.models import IdempotencyKey
from apps.decisions.models import Decision
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db

DECISION = {
    "decision_layer": "tactical",
    "input_context": {"symbol": "BTC/USDT"},
    "thought_process": "Flat market.",
    "decision": "hold",
}


@pytest.fixture
def api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentFactory().token}")
    return client


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there"])
def test_a_malformed_key_is_a_400_naming_the_header(api, key):
    response = api.post("/api/v1/decisions/", DECISION, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["details"]
    assert not Decision.objects.exists()


def test_purge_forgets_old_keys_only(api):
    api.post("/api/v1/decisions/", DECISION, format="json", HTTP_IDEMPOTENCY_KEY="old")
    api.post("/api/v1/decisions/", {**DECISION, "decision": "buy"}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)

    assert "Deleted 1 idempotency key" in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_purge_dry_run_changes_nothing_and_refuses_a_zero_window(api):
    api.post("/api/v1/decisions/", DECISION, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(days=3))

    call_command("purge_idempotency_keys", "--dry-run", stdout=StringIO())
    with pytest.raises(CommandError, match="at least 1"):
        call_command("purge_idempotency_keys", "--older-than-hours", "0", stdout=StringIO())

    assert IdempotencyKey.objects.count() == 1
