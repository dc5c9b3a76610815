"""The decision audit page, and the read-only record pages that show JSON from exchanges and agents."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from tests.factories import DecisionFactory, ExperienceFactory, OrderFactory, SystemEventFactory

pytestmark = pytest.mark.django_db


def test_the_audit_page_shows_what_the_agent_saw_thought_chose_and_what_followed(root_client, world):
    decision = DecisionFactory(
        id="dec_audit",
        input_context={"symbol": "ETH/USDT", "rsi": 27, "funding": "-0.0100"},
        thought_process="Funding flipped negative while the RSI sat at 27.",
        tools_used=["get_ticker", "get_funding_rate"],
        decision="Buy 0.5 ETH",
        model_used="gpt-4o-mini",
        tokens_used=4321,
        latency_ms=1789,
    )
    orders = [OrderFactory(exchange=world.exchange, decision_id="dec_audit") for _ in range(2)]
    unrelated = OrderFactory(exchange=world.exchange)  # another decision's
    experience = ExperienceFactory(id="exp_from_audit", decision_ref=decision, outcome="success")

    response = root_client.get(reverse("admin:decisions_decision_change", args=[quote(decision.pk)]))
    assert response.status_code == 200
    html = response.content.decode()
    for section in ("What it saw", "What it thought", "What it chose", "What it cost", "What followed"):
        assert section in html
    # The input context pretty-printed, keys sorted, one per line.
    assert '<pre class="json">{\n  &quot;funding&quot;: &quot;-0.0100&quot;,\n  &quot;rsi&quot;: 27,' in html
    assert "Funding flipped negative while the RSI sat at 27." in html
    assert "get_ticker" in html and "get_funding_rate" in html
    for figure in ("gpt-4o-mini", "4321", "1789"):
        assert figure in html
    for order in orders:
        assert reverse("admin:execution_order_change", args=[quote(order.pk)]) in html
    assert reverse("admin:execution_order_change", args=[quote(unrelated.pk)]) not in html
    assert reverse("admin:memory_experience_change", args=[quote(experience.pk)]) in html
    assert 'name="_save"' not in html  # an audit record: read-only


def test_json_from_exchanges_and_agents_is_escaped_not_rendered(root_client, world):
    order = OrderFactory(exchange=world.exchange, raw_data={"info": {"note": "<script>alert(1)</script>"}})
    event = SystemEventFactory(data={"detail": "<img src=x onerror=alert(1)>"})
    pages = [
        reverse("admin:execution_order_change", args=[quote(order.pk)]),
        reverse("admin:system_events_systemevent_change", args=[quote(event.pk)]),
    ]
    for url in pages:
        html = root_client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html or "&lt;img src=x" in html
        assert '<pre class="json">' in html
