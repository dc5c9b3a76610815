"""POST/GET /api/v1/cash-flows/: deposits, withdrawals and transfers from agents; each external id once."""

from decimal import Decimal

import pytest

from apps.agents.models import AgentWrite
from apps.portfolio.models import CashFlow

pytestmark = pytest.mark.django_db

URL = "/api/v1/cash-flows/"


def test_a_deposit_is_recorded_once_per_external_id(api, binance):
    body = {
        "exchange": "binance",
        "kind": "deposit",
        "currency": "usdt",
        "amount": "2500.5",
        "external_id": "tx-9",
    }
    first = api.post(URL, body, format="json")
    again = api.post(URL, body, format="json")

    assert first.status_code == 201, first.json()
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    flow = CashFlow.objects.get()
    assert (flow.kind, flow.currency, flow.amount, flow.source) == (
        "deposit",
        "USDT",
        Decimal("2500.5"),
        "api",
    )
    assert flow.recorded_by == "test-trader"
    assert AgentWrite.objects.filter(resource="cash_flows", object_id=str(flow.pk)).exists()
    listed = api.get(URL, {"exchange": "binance", "kind": "deposit"}).json()["results"]
    assert [row["amount"] for row in listed] == ["2500.50000000"]


def test_a_transfer_records_both_legs(api, binance, okx):
    response = api.post(
        URL,
        {
            "exchange": "binance",
            "kind": "transfer",
            "to_exchange": "okx",
            "currency": "USDT",
            "amount": "100",
            "fee": "1",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    legs = {flow.exchange.name: flow for flow in CashFlow.objects.select_related("exchange")}
    assert (legs["binance"].kind, legs["okx"].kind) == ("transfer_out", "transfer_in")
    assert legs["binance"].transfer_group == legs["okx"].transfer_group


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "1e400"}, "amount"),
        ({"kind": "airdrop"}, "kind"),
        ({"exchange": "nowhere"}, "exchange"),
        ({"kind": "transfer"}, "to_exchange"),
        ({"to_exchange": "okx"}, "to_exchange"),
        ({"fee": "2"}, "fee"),
        ({"datetime": "2999-01-01T00:00:00Z"}, "datetime"),
    ],
)
def test_bad_flows_are_refused_with_the_field_and_nothing_is_written(api, binance, okx, overrides, field):
    body = {"exchange": "binance", "kind": "deposit", "currency": "USDT", "amount": "10", **overrides}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in str(response.json()["details"])
    assert not CashFlow.objects.exists()


def test_a_snapshot_reports_its_flow_and_refuses_an_unpriced_one(api, binance):
    api.post(URL, {"exchange": "binance", "kind": "deposit", "currency": "ETH", "amount": "2"}, format="json")
    snapshot = {"exchange": "binance", "total_value": "12000", "cash": "6000"}
    refused = api.post("/api/v1/portfolio-snapshots/", snapshot, format="json")
    assert refused.status_code == 400
    assert "no USDT rate for ETH" in str(refused.json()["details"]["rates"])

    taken = api.post("/api/v1/portfolio-snapshots/", {**snapshot, "rates": {"ETH": "3000"}}, format="json")
    assert taken.status_code == 201, taken.json()
    body = taken.json()
    assert body["net_flow"] == "6000.00000000" and body["reporting_currency"] == "USDT"
    assert body["rates"]["ETH"] == {"rate": "3000.00000000", "source": "given"}
