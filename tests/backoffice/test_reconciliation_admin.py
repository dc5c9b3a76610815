"""Reconciliation in the admin: the discrepancy review queue and its filters, both versions side by side,
adopt and dismiss through the services (operators only), the exchange page's panel and the dashboard card."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from apps.agents.models import AgentWrite
from apps.exchanges.services import exchange_register
from apps.execution.models import Order
from apps.reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyState
from apps.system_events.models import SystemEvent
from tests.factories import DiscrepancyFactory, ExchangeFactory, OrderFactory, ReconciliationRunFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:reconciliation_discrepancy_changelist")
DASHBOARD = reverse("admin:dashboard")
KEY = "AKIA-live-key-7f3c9e21b4d8"
SECRET = "live-secret-0c8e2f7a9b6d4e1f"
PASSWORD = "trading-passphrase-5521"


def change_url(discrepancy: Discrepancy) -> str:
    return reverse("admin:reconciliation_discrepancy_change", args=[quote(discrepancy.pk)])


def ccxt_order(order_id: str, **overrides) -> dict:
    """An order as ccxt's fetch_orders gives it (what a run keeps as the exchange's version)."""
    order = {
        "id": order_id,
        "clientOrderId": "agent-42",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "status": "closed",
        "amount": 0.5,
        "filled": 0.5,
        "remaining": 0.0,
        "price": 60000.0,
        "average": 60000.0,
        "cost": 30000.0,
        "timestamp": 1_767_225_600_000,
        "datetime": "2026-01-01T00:00:00.000Z",
        "fee": None,
        "info": {"orderId": int(order_id), "status": "FILLED", "executedQty": "0.50000000"},
    }
    order.update(overrides)
    return order


def missing_order(exchange, order_id: str, **overrides) -> Discrepancy:
    return DiscrepancyFactory(
        exchange=exchange,
        kind=DiscrepancyKind.MISSING_ORDER,
        subject=order_id,
        exchange_version=ccxt_order(order_id, **overrides),
        record_version=None,
    )


def act(client, action: str, discrepancies, reason: str | None = None):
    data = {"action": action, "_selected_action": [d.pk for d in discrepancies], "index": "0"}
    if reason is not None:
        data["reason"] = reason
    return client.post(CHANGELIST, data, follow=True)


def rows(discrepancies) -> list[dict]:
    return list(Discrepancy.objects.filter(pk__in=[d.pk for d in discrepancies]).order_by("pk").values())


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


# ---- the queue ------------------------------------------------------------------------------------


@pytest.fixture
def queue(world):
    okx = ExchangeFactory(name="okx")
    return {
        "fill": world.discrepancy,  # binance, missing_trade, open
        "order": missing_order(world.exchange, "7001"),
        "dismissed": DiscrepancyFactory(
            exchange=world.exchange, kind=DiscrepancyKind.MISSING_ORDER, state=DiscrepancyState.DISMISSED
        ),
        "okx_order": missing_order(okx, "7002"),
        "okx_balance": DiscrepancyFactory(exchange=okx, kind=DiscrepancyKind.BALANCE_DIFFERS, subject="USDT"),
    }


def listed(client, query: str) -> set[int]:
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return {d.pk for d in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?state__exact=open", {"fill", "order", "okx_order", "okx_balance"}),
        ("?state__exact=dismissed", {"dismissed"}),
        ("?kind__exact=missing_order", {"order", "dismissed", "okx_order"}),
        ("?kind__exact=missing_order&state__exact=open", {"order", "okx_order"}),
        ("?exchange__id__exact={okx}", {"okx_order", "okx_balance"}),
        ("?exchange__id__exact={okx}&kind__exact=balance_differs", {"okx_balance"}),
        ("?q=7001", {"order"}),
        ("", {"fill", "order", "dismissed", "okx_order", "okx_balance"}),
    ],
)
def test_the_queue_filters_by_state_kind_and_exchange(auditor_client, queue, query, expected):
    okx = queue["okx_order"].exchange
    assert listed(auditor_client, query.format(okx=okx.pk)) == {queue[name].pk for name in expected}


def test_the_queue_shows_what_differs(auditor_client, world):
    DiscrepancyFactory(
        exchange=world.exchange,
        kind=DiscrepancyKind.ORDER_DIFFERS,
        subject="7003",
        differences={"status": ["open", "filled"], "filled": ["0E-8", "0.50000000"]},
    )

    html = auditor_client.get(CHANGELIST).content.decode()

    assert "status: open → filled" in html and "filled: 0E-8 → 0.50000000" in html
    assert "Order recorded with other status, filled, average or fee" in html  # the kind, by its label


def test_the_change_page_shows_both_versions_side_by_side_and_no_credential(root_client, db):
    exchange = exchange_register(name="okx", api_key=KEY, api_secret=SECRET, password=PASSWORD)
    order = OrderFactory(exchange=exchange, id="7004", status="open")
    discrepancy = DiscrepancyFactory(
        exchange=exchange,
        kind=DiscrepancyKind.STALE_OPEN_ORDER,
        subject=order.pk,
        record_version={"id": "7004", "status": "open", "filled": "0E-8"},
        exchange_version=ccxt_order("7004", info={"note": "<script>alert(1)</script>"}),
        differences={"status": ["open", "filled"]},
    )

    response = root_client.get(change_url(discrepancy))

    assert response.status_code == 200
    html = response.content.decode()
    record, exchange_side = html.index("<h4>The record</h4>"), html.index("<h4>The exchange</h4>")
    assert record < exchange_side
    assert "&quot;status&quot;: &quot;open&quot;" in html[record:exchange_side]
    assert "&quot;status&quot;: &quot;closed&quot;" in html[exchange_side:]
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html  # escaped, never run
    for secret in (KEY, SECRET, PASSWORD, KEY[:-4], exchange.api_secret_encrypted):
        assert secret not in html
    assert "gAAAAA" not in html  # no Fernet token at all


# ---- adopt and dismiss -----------------------------------------------------------------------------


def test_an_operator_adopts_a_missing_order_and_it_is_recorded(operator_client, operator, world):
    discrepancy = missing_order(world.exchange, "8001")

    response = act(operator_client, "adopt", [discrepancy])

    assert "1 adopted: the record now holds the exchange&#x27;s version." in response.content.decode()
    order = Order.objects.get(pk="8001")
    assert (order.exchange, order.status, order.client_order_id, order.symbol, order.side) == (
        world.exchange, "filled", "agent-42", "BTC/USDT", "buy",
    )  # fmt: skip
    assert (order.amount, order.filled, order.remaining, order.average) == (
        Decimal("0.5"), Decimal("0.5"), Decimal("0"), Decimal("60000"),
    )  # fmt: skip
    assert order.raw_data["status"] == "FILLED"
    discrepancy.refresh_from_db()
    assert (discrepancy.state, discrepancy.acted_by) == ("adopted", operator.username)
    assert discrepancy.note == "Order 8001 created from the exchange's version (status filled)."
    assert discrepancy.acted_at is not None
    # Through the services: the write is attributed and the adoption is an event naming the operator.
    assert AgentWrite.objects.filter(agent__name="reconciliation", object_id="8001").exists()
    event = SystemEvent.objects.get(event_type="discrepancy_adopted")
    assert event.related_order_id == "8001" and operator.username in event.message


def test_adopting_what_cannot_be_adopted_says_why_and_changes_nothing(operator_client, world):
    record = OrderFactory(exchange=world.exchange, id="8002", status="open")
    unknown = DiscrepancyFactory(
        exchange=world.exchange,
        kind=DiscrepancyKind.STALE_OPEN_ORDER,
        subject=record.pk,
        exchange_version={"id": "8002", "status": "unknown"},
    )
    adoptable = missing_order(world.exchange, "8003")

    response = act(operator_client, "adopt", [unknown, adoptable])

    html = response.content.decode()
    assert "1 adopted" in html
    assert f"Discrepancy {unknown.pk} not adopted: The exchange has no order 8002" in html
    assert 'class="warning"' in html
    unknown.refresh_from_db()
    assert (unknown.state, unknown.acted_by) == ("open", "")
    assert Order.objects.get(pk="8002").status == "open"
    assert Order.objects.filter(pk="8003").exists()


def test_adopting_one_already_dismissed_is_refused(operator_client, queue):
    before = rows([queue["dismissed"]])

    html = act(operator_client, "adopt", [queue["dismissed"]]).content.decode()

    assert "is dismissed, not open: it was acted on already." in html
    assert rows([queue["dismissed"]]) == before


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_dismissing_without_a_reason_is_refused_and_changes_nothing(operator_client, queue, reason):
    chosen = [queue["fill"], queue["order"]]
    before = rows(chosen)

    response = act(operator_client, "dismiss", chosen, reason=reason)

    html = response.content.decode()
    assert "Say why the difference is dismissed" in html and "Nothing was dismissed." in html
    assert 'class="error"' in html
    assert rows(chosen) == before


def test_dismissing_with_a_reason_dismisses_every_selected_one(operator_client, operator, queue):
    chosen = [queue["fill"], queue["order"], queue["okx_balance"]]

    response = act(operator_client, "dismiss", chosen, reason="  Testnet orders placed by hand  ")

    assert "3 dismissed." in response.content.decode()
    for row in rows(chosen):
        assert (row["state"], row["note"], row["acted_by"]) == (
            "dismissed", "Testnet orders placed by hand", operator.username,
        )  # fmt: skip
    assert Discrepancy.objects.get(pk=queue["okx_order"].pk).state == "open"  # not selected
    assert not Order.objects.filter(pk="7001").exists()  # the record is untouched


def test_one_not_open_among_the_selected_dismisses_none(operator_client, queue):
    chosen = [queue["fill"], queue["dismissed"]]
    before = rows(chosen)

    html = act(operator_client, "dismiss", chosen, reason="duplicate").content.decode()

    assert "not open" in html and "Nothing was dismissed." in html
    assert rows(chosen) == before


def test_an_auditor_sees_the_queue_but_cannot_adopt_or_dismiss(auditor_client, queue):
    page = auditor_client.get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert queue["order"].subject in html
    assert 'value="adopt"' not in html and 'value="dismiss"' not in html

    before = rows(queue.values())
    for action, reason in (("adopt", None), ("dismiss", "forged")):
        response = act(auditor_client, action, [queue["order"], queue["fill"]], reason=reason)
        assert response.status_code == 200
        assert not list(response.context["messages"])  # neither done nor refused: not offered at all
    assert rows(queue.values()) == before
    assert not Order.objects.filter(pk="7001").exists()
    # Nor through the change form: the page is read-only for an auditor.
    assert auditor_client.post(change_url(queue["order"]), {}).status_code == 403
    assert Discrepancy.objects.get(pk=queue["order"].pk).state == "open"


def test_nobody_adds_or_deletes_a_discrepancy(root_client, queue):
    assert root_client.get(reverse("admin:reconciliation_discrepancy_add")).status_code == 403
    delete = reverse("admin:reconciliation_discrepancy_delete", args=[queue["order"].pk])
    assert root_client.post(delete, {"post": "yes"}).status_code == 403
    assert Discrepancy.objects.filter(pk=queue["order"].pk).exists()


# ---- the exchange's page and the dashboard ------------------------------------------------------------


def test_the_exchange_page_shows_its_last_run_and_open_drift(auditor_client, queue, world):
    newer = ReconciliationRunFactory(
        exchange=world.exchange, status="partial", reason="fills of BTC/USDT: 503"
    )

    html = auditor_client.get(reverse("admin:exchanges_exchange_change", args=[world.exchange.pk])).content
    html = html.decode()

    run_url = reverse("admin:reconciliation_reconciliationrun_change", args=[newer.pk])
    assert f'{run_url}">Run {newer.pk}</a>' in html
    assert ": partial," in html and "fills of BTC/USDT: 503" in html
    assert "2 open discrepancies" in html  # the fill and the order; the dismissed one is not open
    assert f"{CHANGELIST}?state__exact=open&amp;exchange__id__exact={world.exchange.pk}" in html


def test_an_exchange_never_reconciled_says_so(auditor_client, db):
    exchange = ExchangeFactory(name="kraken")

    html = auditor_client.get(reverse("admin:exchanges_exchange_change", args=[exchange.pk])).content.decode()

    assert "Never reconciled (manage.py reconcile_exchanges --exchange kraken)." in html
    assert "0 open discrepancies" in html


def test_the_dashboard_shows_the_reconciliation_card(auditor_client, queue, world):
    okx = queue["okx_order"].exchange

    html = auditor_client.get(DASHBOARD).content.decode()

    card = html[html.index("Reconciliation with the exchanges") :]
    binance_row = card[card.index("<td>binance</td>") : card.index("</tr>", card.index("<td>binance</td>"))]
    assert f'?state__exact=open&amp;exchange__id__exact={world.exchange.pk}">2</a>' in binance_row
    last_run = world.exchange.reconciliation_runs.order_by("-started_at", "-id").first()
    run_url = reverse("admin:reconciliation_reconciliationrun_change", args=[last_run.pk])
    assert f'{run_url}">ok</a>' in binance_row
    okx_row = card[card.index("<td>okx</td>") : card.index("</tr>", card.index("<td>okx</td>"))]
    assert f'exchange__id__exact={okx.pk}">2</a>' in okx_row
