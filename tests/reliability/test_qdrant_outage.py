"""Qdrant unreachable (QDRANT_URL on a closed loopback port): experiences are still recorded, the outbox
keeps every change, recall answers 503 saying why; once Qdrant is back sync_memory converges and
check_memory finds no drift."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from apps.memory.models import Experience, MemoryOutbox, OutboxStatus
from apps.memory.services import long_term

from .servers import free_port

pytestmark = [
    pytest.mark.django_db,
    # qdrant-client asks the (absent) server its version first; the warning is the point here.
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
]


def _experience(n: int) -> dict:
    return {
        "id": f"exp-outage-{n}",
        "symbol": "BTC/USDT",
        "situation": f"BTC oversold on the 1h after a sharp drop, case {n}",
        "tags": ["btc", "oversold"],
        "decision": "Long 0.01 BTC",
        "decision_reasoning": "Oversold bounces have worked in this range.",
        "outcome": "success",
        "pnl": "12.50",
        "importance_score": 0.7,
    }


@pytest.fixture
def qdrant_unreachable(settings, memory_stores):
    """A Qdrant server URL where nothing listens (connection refused at once)."""
    settings.QDRANT_URL = f"http://127.0.0.1:{free_port()}"
    settings.QDRANT_TIMEOUT = 2
    long_term.reset_backend()


def test_qdrant_unreachable_loses_nothing_and_memory_converges_after(
    api, qdrant_unreachable, settings, admin_client, django_capture_on_commit_callbacks, measured
):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        created = [api.post("/api/v1/experiences/", _experience(n), format="json") for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        reviewed = api.patch(
            "/api/v1/experiences/exp-outage-0/", {"reflection": "Entry was early."}, format="json"
        )
    writes_took = time.monotonic() - started
    recall = api.post("/api/v1/memory/recall/", {"text": "BTC oversold after a drop"}, format="json")
    health = api.get("/api/v1/health/").json()
    page = admin_client.get("/admin/memory/experience/exp-outage-0/change/")

    measured.update(
        writes_seconds=round(writes_took, 2),
        pending_outbox_rows=MemoryOutbox.objects.filter(status=OutboxStatus.PENDING).count(),
        recall_status=recall.status_code,
    )
    assert [r.status_code for r in created] == [201, 201, 201]
    assert reviewed.status_code == 200
    assert writes_took < 10  # the failed pushes did not hold the agent up
    assert Experience.objects.count() == 3
    pending = MemoryOutbox.objects.filter(status=OutboxStatus.PENDING)
    assert pending.count() == 4  # three creates and the review, each kept
    assert all(row.attempts == 1 and "Qdrant" in (row.last_error or "") for row in pending)
    assert recall.status_code == 503
    assert recall.json()["code"] == "long_term_memory_unavailable"
    assert recall.json()["message"].startswith("Long-term memory is unavailable")
    assert health["status"] == "degraded" and health["qdrant"]["status"] == "down"
    assert page.status_code == 200 and b"Long-term memory is unavailable" in page.content

    # Qdrant is back (here: the in-process store in its place).
    settings.QDRANT_URL = ""
    long_term.reset_backend()
    call_command("sync_memory", stdout=io.StringIO(), stderr=io.StringIO())
    checked = io.StringIO()
    call_command("check_memory", stdout=checked, stderr=io.StringIO())  # raises on any drift

    assert not MemoryOutbox.objects.filter(status=OutboxStatus.PENDING).exists()
    assert "3 experiences in PostgreSQL; 3 points" in checked.getvalue()
    found = api.post("/api/v1/memory/recall/", {"text": "BTC oversold after a drop"}, format="json")
    assert found.status_code == 200
    assert {r["experience"]["id"] for r in found.json()["results"]} == {f"exp-outage-{n}" for n in range(3)}
    reflected = next(r for r in found.json()["results"] if r["experience"]["id"] == "exp-outage-0")
    assert reflected["experience"]["reflection"] == "Entry was early."
