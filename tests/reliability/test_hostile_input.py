"""Hostile input: oversized and deeply nested JSON, huge strings, NaN and Infinity, numbers beyond
NUMERIC(20,8), invalid UTF-8, NUL and unpaired surrogates are a clear 4xx in the error body with nothing
written; SQL and template injection are stored as the text they are; the admin escapes every
agent-written text it shows."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings as django_settings
from django.utils.html import escape

from apps.agents.models import AgentWrite, IdempotencyKey
from apps.common.admin import change_url
from apps.decisions.models import Decision
from apps.execution.models import Order, Position, Trade
from apps.memory.models import Experience, MemoryOutbox
from apps.system_events.models import SystemEvent

pytestmark = pytest.mark.django_db

WRITTEN = (
    Order,
    Trade,
    Position,
    Experience,
    MemoryOutbox,
    Decision,
    SystemEvent,
    AgentWrite,
    IdempotencyKey,
)


def _order(**overrides) -> dict:
    order = {
        "exchange": "binance",
        "id": "h-1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "status": "open",
        "amount": "0.01",
        "price": "45000.1",
        "timestamp": 1_767_225_600_000,
    }
    return order | overrides


def _experience(**overrides) -> dict:
    experience = {
        "id": "exp-h-1",
        "situation": "BTC oversold",
        "decision": "Long",
        "decision_reasoning": "Bounce",
        "outcome": "success",
    }
    return experience | overrides


def _decision(**overrides) -> dict:
    decision = {
        "id": "dec-h-1",
        "decision_layer": "tactical",
        "input_context": {"symbol": "BTC/USDT"},
        "thought_process": "RSI oversold.",
        "decision": "Buy",
    }
    return decision | overrides


def _position(**overrides) -> dict:
    # Each price and the amount fit NUMERIC(20,8); their product (the value, the PnL) does not.
    position = {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "amount": "478498655940",
        "entry_price": "74461056218",
        "current_price": "74461056219",
    }
    return position | overrides


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _raw(body: dict, placeholder: str, replacement: str) -> bytes:
    """The body as JSON text with one value replaced by text JSON libraries would never write."""
    return json.dumps(body).replace(f'"{placeholder}"', replacement).encode()


HOSTILE = {
    "over the byte limit": ("/api/v1/orders/", json.dumps(_order(info={"pad": "x" * 11_000_000})), 413),
    "nested 100 deep in info": ("/api/v1/orders/", _raw(_order(info="@"), "@", _nested(100)), 400),
    "nested 5,000 deep": ("/api/v1/decisions/", _raw(_decision(input_context="@"), "@", _nested(5000)), 400),
    "nested 200,000 deep": ("/api/v1/orders/", _nested(200_000).encode(), 400),
    "a 1 MB symbol": ("/api/v1/orders/", json.dumps(_order(symbol="B" * 1_000_000)), 400),
    "a 1 MB id": ("/api/v1/experiences/", json.dumps(_experience(id="e" * 1_000_000)), 400),
    "a 300 kB situation": ("/api/v1/experiences/", json.dumps(_experience(situation="s" * 300_000)), 400),
    "NaN bare": ("/api/v1/orders/", _raw(_order(amount="@"), "@", "NaN"), 400),
    "-Infinity bare": ("/api/v1/experiences/", _raw(_experience(pnl="@"), "@", "-Infinity"), 400),
    "NaN as a string": ("/api/v1/orders/", json.dumps(_order(price="NaN")), 400),
    "Infinity as a string": ("/api/v1/experiences/", json.dumps(_experience(pnl="Infinity")), 400),
    "sNaN": ("/api/v1/orders/", json.dumps(_order(amount="sNaN")), 400),
    "NaN importance": ("/api/v1/experiences/", json.dumps(_experience(importance_score="NaN")), 400),
    "NaN min_importance": ("/api/v1/memory/recall/", json.dumps({"text": "x", "min_importance": "NaN"}), 400),
    "1e400 in info": ("/api/v1/orders/", _raw(_order(info={"n": "@"}), "@", "1e400"), 400),
    "13 digits before the point": ("/api/v1/orders/", json.dumps(_order(amount="1234567890123.5")), 400),
    "1E+13": ("/api/v1/orders/", json.dumps(_order(price="1E+13")), 400),
    "a 5,000-digit integer": ("/api/v1/orders/", _raw(_order(amount="@"), "@", "9" * 5000), 400),
    "pnl beyond NUMERIC(20,8)": ("/api/v1/experiences/", json.dumps(_experience(pnl="1e12")), 400),
    "tokens beyond INTEGER": ("/api/v1/decisions/", json.dumps(_decision(tokens_used=2**31)), 400),
    "position value beyond": ("/api/v1/positions/", json.dumps(_position(current_price="910146216274")), 400),
    "position PnL beyond": ("/api/v1/positions/", json.dumps(_position(entry_price="1", side="sell")), 400),
    "timestamp beyond year 9999": ("/api/v1/orders/", json.dumps(_order(timestamp=10**20)), 400),
    "invalid UTF-8": ("/api/v1/orders/", b'{"exchange": "binance", "id": "\xff\xfe\xfd"}', 400),
    "NUL in a text column": ("/api/v1/orders/", json.dumps(_order(symbol="BTC\u0000USDT")), 400),
    "NUL in JSONB": ("/api/v1/decisions/", json.dumps(_decision(input_context={"a": "x\u0000"})), 400),
    "unpaired surrogate": ("/api/v1/experiences/", _raw(_experience(situation="@"), "@", '"\\ud800"'), 400),
    "surrogate key": ("/api/v1/decisions/", _raw(_decision(input_context="@"), "@", '{"\\udc00": 1}'), 400),
    "1,001 orders": ("/api/v1/orders/", json.dumps([_order(id=f"h-{n}") for n in range(1001)]), 413),
}  # fmt: skip


@pytest.mark.parametrize("path, body, status", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bodies_are_a_clear_4xx_and_write_nothing(api, binance, path, body, status):
    response = api.post(path, data=body, content_type="application/json")

    assert response.status_code == status, response.content[:300]
    error = response.json()
    assert set(error) == {"code", "message", "details"} and error["message"]
    for model in WRITTEN:
        assert not model.objects.exists(), f"{model.__name__} written by a refused request"


def test_a_batch_of_several_megabytes_within_the_documented_limit_is_accepted(api, binance):
    info = {"padding": "x" * 4000}  # exchanges' raw replies are verbose
    orders = [_order(id=f"big-{n}", clientOrderId=f"c-big-{n}", info=info) for n in range(1000)]
    body = json.dumps(orders)

    response = api.post("/api/v1/orders/", data=body, content_type="application/json")

    assert len(body) > 4_000_000  # over Django's default 2.5 MB, under API_MAX_BODY_BYTES
    assert response.status_code == 201, response.content[:300]
    assert Order.objects.count() == 1000


def test_an_imported_trade_whose_cost_cannot_be_stored_is_one_rejected_line(binance, tmp_path):
    from django.core.management import call_command

    lines = [
        {"id": "big", "symbol": "BTC/USDT", "side": "buy", "price": "999999999999", "amount": "999999999999",
         "timestamp": 1_767_225_600_000},
        {"id": "fine", "symbol": "BTC/USDT", "side": "buy", "price": "45000.1", "amount": "0.01",
         "timestamp": 1_767_225_600_000},
    ]  # fmt: skip
    path = tmp_path / "trades.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out, err = io.StringIO(), io.StringIO()

    call_command("import_trades", str(path), "--exchange", "binance", stdout=out, stderr=err)

    assert "line 1: cost (price x amount) does not fit NUMERIC(20, 8)" in err.getvalue()
    assert list(Trade.objects.values_list("id", flat=True)) == ["fine"]


def test_hostile_queries_are_4xx_or_empty_never_5xx(api, binance):
    queries = [
        "/api/v1/orders/?symbol=%FF%FE",
        "/api/v1/orders/?symbol=%00",
        "/api/v1/orders/?symbol=' OR 1=1--",
        "/api/v1/orders/?since=9999999-01-01",
        "/api/v1/orders/?page_size=99999999999999999999999",
        "/api/v1/orders/?cursor=%FF%FE%00",
        "/api/v1/experiences/?min_importance=NaN",
        "/api/v1/experiences/?tags=a,%00",
        "/api/v1/orders/%00/",
        "/api/v1/exchanges/%FF/",
        "/api/v1/memory/prices/?symbol=BTC/USDT&timeframe=1h&limit=-5",
    ]
    for query in queries:
        response = api.get(query)
        assert response.status_code < 500, (query, response.content[:300])
        if response.status_code == 200:
            assert response.json().get("results", []) == []


def test_sql_injection_is_stored_as_text_and_filters_by_it_find_only_it(api, binance):
    injection = "x'); DROP TABLE orders; --"
    order = _order(id="inj-1", info={"note": injection}, clientOrderId="c'; DELETE FROM trades; --")

    created = api.post("/api/v1/orders/", order, format="json")
    found = api.get("/api/v1/orders/", {"client_order_id": "c'; DELETE FROM trades; --"})
    nothing = api.get("/api/v1/orders/", {"symbol": "BTC/USDT' OR '1'='1"})

    assert created.status_code == 201
    assert Order.objects.get(pk="inj-1").raw_data == {"note": injection}
    assert [o["id"] for o in found.json()["results"]] == ["inj-1"]
    assert nothing.json()["results"] == []


# --- what the admin renders ----------------------------------------------------------------------

XSS = '<script>alert("xss")</script>'
XSS_ATTRIBUTE = '"><img src=x onerror=alert(1)>'
XSS_TAG = "<svg/onload=alert(1)>"
TEMPLATE = "{{ settings.SECRET_KEY }}{% debug %}"


def test_agent_written_text_is_escaped_on_every_admin_page(
    api, binance, admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            api.post(
                "/api/v1/decisions/",
                _decision(
                    id="dec-xss",
                    thought_process=f"{XSS} {TEMPLATE}",
                    decision=f"Buy {XSS_ATTRIBUTE}",
                    input_context={"note": XSS},
                ),
                format="json",
            ).status_code
            == 201
        )
        assert api.post(
            "/api/v1/orders/", _order(id="o-xss", decisionId="dec-xss", info={"x": XSS}), format="json"
        ).status_code in (200, 201)
        for n in (1, 2):
            response = api.post(
                "/api/v1/experiences/",
                _experience(
                    id=f"exp-xss-{n}",
                    decision_id="dec-xss",
                    situation=f"BTC oversold {XSS} {TEMPLATE}",
                    decision=f"Long {XSS_ATTRIBUTE}",
                    tags=["btc", XSS_TAG],
                    lessons_learned=[f"Scale in {XSS}", TEMPLATE],
                    related_orders=["o-xss", f"missing-{XSS_TAG}"],
                ),
                format="json",
            )
            assert response.status_code == 201, response.content
        assert (
            api.patch(
                "/api/v1/experiences/exp-xss-1/", {"reflection": f"Too early {XSS_ATTRIBUTE}"}, format="json"
            ).status_code
            == 200
        )
        assert (
            api.post(
                "/api/v1/system-events/",
                {"event_type": "note", "severity": "info", "message": XSS, "data": {"x": XSS_TAG}},
                format="json",
            ).status_code
            == 201
        )
    event = SystemEvent.objects.get(event_type="note")

    pages = [
        "/admin/memory/experience/",
        "/admin/memory/experience/?tag=btc",
        "/admin/memory/experience/exp-xss-1/change/",
        "/admin/decisions/decision/",
        "/admin/decisions/decision/dec-xss/change/",
        "/admin/execution/order/o-xss/change/",
        "/admin/system_events/systemevent/",
        change_url("system_events_systemevent", event.pk),
        "/admin/dashboard/",
    ]
    for url in pages:
        response = admin_client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        for payload in (XSS, XSS_ATTRIBUTE, XSS_TAG):
            assert payload not in html, f"{payload} rendered unescaped on {url}"
        assert django_settings.SECRET_KEY not in html
        assert "<script>alert" not in html and "onerror=alert(1)>" not in html
    # The text is there, shown as text: escaped, and the template syntax as written.
    experience_page = admin_client.get("/admin/memory/experience/exp-xss-1/change/").content.decode()
    assert escape(XSS) in experience_page  # situation, lessons, the similar panel, thought_process
    assert escape(XSS_TAG) in experience_page  # tags
    assert escape(f"Too early {XSS_ATTRIBUTE}") in experience_page  # reflection
    assert escape(TEMPLATE) in experience_page or TEMPLATE in experience_page
    assert "exp-xss-2" in experience_page  # the similar-experiences panel rendered the other one
    decision_page = admin_client.get("/admin/decisions/decision/dec-xss/change/").content.decode()
    assert escape(XSS) in decision_page  # thought_process and the input context


def test_the_admin_escapes_what_an_operator_types_too(admin_client, db, memory_stores):
    from tests.factories import ExperienceFactory

    experience = ExperienceFactory(id="exp-typed")
    response = admin_client.post(
        f"/admin/memory/experience/{experience.pk}/change/",
        {
            "reflection": XSS,
            "lessons_learned": f"{XSS_ATTRIBUTE}\n{TEMPLATE}",
            "situation_tags": "btc, <b>bold</b>",
            "importance_score": "0.50",
        },
    )
    page = admin_client.get(f"/admin/memory/experience/{experience.pk}/change/").content.decode()

    assert response.status_code == 302
    experience.refresh_from_db()
    assert experience.reflection == XSS and experience.lessons_learned == [XSS_ATTRIBUTE, TEMPLATE]
    assert XSS not in page and XSS_ATTRIBUTE not in page and "<b>bold</b>" not in page
    assert escape(XSS) in page
