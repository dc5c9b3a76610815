"""POST/GET /api/v1/system-events/."""

import pytest

from apps.system_events.models import SystemEvent
from tests.factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def event(**overrides):
    body = {
        "event_type": "exchange_error",
        "severity": "warning",
        "message": "binance answered 418 to fetch_ticker",
        "data": {"endpoint": "ticker", "retry_in": 1.5},
        "related_symbol": "BTC/USDT",
    }
    body.update(overrides)
    return body


def test_an_event_is_recorded_once_per_idempotency_key(api):
    first = api.post("/api/v1/system-events/", event(), format="json", HTTP_IDEMPOTENCY_KEY="e-1")
    replay = api.post("/api/v1/system-events/", event(), format="json", HTTP_IDEMPOTENCY_KEY="e-1")

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json()["id"] == first.json()["id"]
    assert SystemEvent.objects.count() == 1
    assert SystemEvent.objects.get().data == {"endpoint": "ticker", "retry_in": 1.5}


def test_a_duplicate_id_is_a_409_and_a_bad_severity_a_400(api):
    api.post("/api/v1/system-events/", event(id="evt_1"), format="json")

    assert api.post("/api/v1/system-events/", event(id="evt_1"), format="json").status_code == 409
    assert api.post("/api/v1/system-events/", event(severity="meh"), format="json").status_code == 400
    assert SystemEvent.objects.count() == 1


def test_filters(api):
    SystemEventFactory.create_batch(3, severity="info")
    SystemEventFactory(severity="critical", event_type="risk_limit_hit")

    critical = api.get("/api/v1/system-events/?severity=critical&severity=error").json()["results"]
    typed = api.get("/api/v1/system-events/?event_type=risk_limit_hit").json()["results"]

    assert [e["severity"] for e in critical] == ["critical"]
    assert len(typed) == 1
