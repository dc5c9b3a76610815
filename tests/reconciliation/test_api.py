"""The reconciliation API over real HTTP with an agent's token: POST runs/ reconciles an emulated account and
answers with its open drift; GET runs/ and discrepancies/ list and filter; bad input, a busy account and
no token are refused with nothing written; no answer carries a credential."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from apps.agents.services import agent_revoke
from apps.reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyState, ReconciliationRun
from tests.factories import DiscrepancyFactory, ExchangeFactory, ReconciliationRunFactory
from tests.reconciliation.conftest import other_session_holding_reconciliation_lock
from tests.reconciliation.emulator import BINANCE, OKX

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

RUNS = "/api/v1/reconciliation/runs/"
DISCREPANCIES = "/api/v1/reconciliation/discrepancies/"


def start(api, body):
    return api.post(RUNS, body, format="json")


def nothing_written(*accounts) -> bool:
    no_rows = not ReconciliationRun.objects.exists() and not Discrepancy.objects.exists()
    return no_rows and all(account.requests == [] for account in accounts)


# ---- POST runs/ -------------------------------------------------------------------------------------


def test_a_run_answers_201_with_the_order_the_agent_placed_and_did_not_record(api, emulated):
    account, exchange = emulated(BINANCE)
    order_id = account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-1")

    response = start(api, {"exchange": "binance"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["exchange"], body["status"], body["trigger"], body["triggered_by"]) == (
        "binance", "ok", "api", "startup-checker",
    )  # fmt: skip
    assert body["finished_at"] is not None and body["counts"]["orders_fetched"] == 1
    (drift,) = body["open_discrepancies"]
    assert (drift["kind"], drift["subject"], drift["state"], drift["exchange"]) == (
        "missing_order", order_id, "open", "binance",
    )  # fmt: skip
    assert drift["exchange_version"]["clientOrderId"] == "agent-1"
    assert drift["record_version"] is None and drift["run"] == body["id"]
    run = ReconciliationRun.objects.get()
    assert (run.pk, run.exchange, run.trigger, run.triggered_by) == (
        body["id"], exchange, "api", "startup-checker",
    )  # fmt: skip


def test_a_run_with_nothing_to_find_answers_an_empty_drift(api, emulated):
    emulated(BINANCE)

    response = start(api, {"exchange": "BINANCE "})  # the ccxt id, any case

    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["open_discrepancies"]) == ("ok", [])


def test_the_drift_answered_is_the_accounts_whole_open_drift_not_only_this_runs(api, emulated):
    _, exchange = emulated(BINANCE)
    earlier = DiscrepancyFactory(exchange=exchange, kind=DiscrepancyKind.BALANCE_DIFFERS, subject="ETH")
    DiscrepancyFactory(exchange=exchange, state=DiscrepancyState.DISMISSED, note="testnet")
    elsewhere = DiscrepancyFactory(exchange=ExchangeFactory(name="okx"))

    body = start(api, {"exchange": "binance"}).json()

    subjects = {d["subject"] for d in body["open_discrepancies"]}
    assert earlier.subject in subjects  # still open: no run has resolved a balance of an asset it never read
    assert elsewhere.subject not in subjects and all(d["state"] == "open" for d in body["open_discrepancies"])


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"exchange": "nosuch"}, "exchange", "No exchange named 'nosuch' is registered"),
        ({}, "exchange", "This field is required."),
        ({"exchange": ""}, "exchange", "Name the exchange by its ccxt id"),
        ({"exchange": 7}, "exchange", "Name the exchange by its ccxt id"),
        ({"exchange": None}, "exchange", "may not be null"),
        ({"exchange": "binance", "since": "last tuesday"}, "since", "Datetime has wrong format"),
        ({"exchange": "binance", "since": "2999-01-01T00:00:00Z"}, "since", "Must not be in the future"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_written(api, emulated, body, field, message):
    account, _ = emulated(BINANCE)

    response = start(api, body)

    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid"
    assert field in error["details"] and message in " ".join(error["details"][field])
    assert f"{field}: " in error["message"]
    assert nothing_written(account)


def test_a_deactivated_account_is_a_400_and_is_not_called(api, emulated):
    account, exchange = emulated(BINANCE)
    exchange.is_active = False
    exchange.save(update_fields=["is_active"])

    response = start(api, {"exchange": "binance"})

    assert response.status_code == 400
    assert "deactivated" in " ".join(response.json()["details"]["exchange"])
    assert nothing_written(account)


def test_an_account_ccxt_does_not_know_is_a_failed_run_saying_so(api, db):
    ExchangeFactory(name="mybroker")

    response = start(api, {"exchange": "mybroker"})

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed" and "not a ccxt exchange id" in body["reason"]
    assert body["open_discrepancies"] == []


def test_a_testnet_account_ccxt_has_no_sandbox_for_is_a_failed_run_saying_so(api, db):
    ExchangeFactory(name="bitfinex", testnet=True)

    response = start(api, {"exchange": "bitfinex"})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "failed"
    assert "ccxt has no sandbox (testnet) for bitfinex" in response.json()["reason"]


def test_credentials_no_key_decrypts_are_a_failed_run_not_a_500_nor_a_run_left_running(api, db):
    stranger = Fernet(Fernet.generate_key())
    ExchangeFactory(name="binance", api_key_encrypted=stranger.encrypt(b"old-key").decode())

    response = start(api, {"exchange": "binance"})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "failed"
    assert "cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS" in response.json()["reason"]
    assert ReconciliationRun.objects.get().status == "failed"


def test_a_run_already_holding_the_accounts_lock_is_a_409_and_nothing_is_written(api, emulated):
    account, exchange = emulated(BINANCE)
    account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-2")

    with other_session_holding_reconciliation_lock(exchange):
        response = start(api, {"exchange": "binance"})

    assert response.status_code == 409, response.content
    error = response.json()
    assert error["code"] == "reconciliation_running"
    assert "already running" in error["message"] and "binance" in error["message"]
    assert nothing_written(account)
    # Once the other run lets go, the account can be reconciled again.
    assert start(api, {"exchange": "binance"}).status_code == 201


def test_the_lock_is_per_account_another_one_still_runs(api, emulated):
    _, binance = emulated(BINANCE)
    emulated(OKX)

    with other_session_holding_reconciliation_lock(binance):
        response = start(api, {"exchange": "okx"})

    assert response.status_code == 201 and response.json()["exchange"] == "okx"


# ---- GET runs/ and discrepancies/ --------------------------------------------------------------------


def test_runs_are_listed_newest_first_and_filtered_by_exchange_and_status(api, emulated):
    binance_account, _ = emulated(BINANCE)
    emulated(OKX)
    first = start(api, {"exchange": "binance"}).json()
    second = start(api, {"exchange": "okx"}).json()
    binance_account.refuse_auth()
    third = start(api, {"exchange": "binance"}).json()

    listed = api.get(RUNS).json()

    assert [r["id"] for r in listed["results"]] == [third["id"], second["id"], first["id"]]
    assert listed["count"] == 3
    assert "open_discrepancies" not in listed["results"][0]  # the list stays one query per page
    by_exchange = api.get(RUNS, {"exchange": "binance"}).json()["results"]
    assert [r["id"] for r in by_exchange] == [third["id"], first["id"]]
    failed = api.get(RUNS, {"status": "failed"}).json()["results"]
    assert [r["id"] for r in failed] == [third["id"]]
    one = api.get(f"{RUNS}{second['id']}/").json()
    assert (one["exchange"], one["status"]) == ("okx", "ok")
    assert api.get(RUNS, {"status": "exploded"}).status_code == 400
    assert api.get(f"{RUNS}999999/").status_code == 404


@pytest.fixture
def queue(db):
    binance, okx = ExchangeFactory(name="binance"), ExchangeFactory(name="okx")
    return {
        "binance_missing": DiscrepancyFactory(exchange=binance, kind=DiscrepancyKind.MISSING_ORDER),
        "binance_fill": DiscrepancyFactory(exchange=binance, kind=DiscrepancyKind.MISSING_TRADE),
        "binance_dismissed": DiscrepancyFactory(
            exchange=binance, kind=DiscrepancyKind.MISSING_ORDER, state=DiscrepancyState.DISMISSED
        ),
        "okx_missing": DiscrepancyFactory(exchange=okx, kind=DiscrepancyKind.MISSING_ORDER),
    }


def listed_ids(api, query) -> set[int]:
    response = api.get(DISCREPANCIES, query)
    assert response.status_code == 200, response.content
    return {d["id"] for d in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "open", "exchange": "binance", "kind": "missing_order"}, {"binance_missing"}),
        ({"state": "open", "kind": "missing_order"}, {"binance_missing", "okx_missing"}),
        ({"exchange": "binance", "kind": "missing_order"}, {"binance_missing", "binance_dismissed"}),
        ({"state": "open", "exchange": "binance"}, {"binance_missing", "binance_fill"}),
        ({"state": "dismissed"}, {"binance_dismissed"}),
        ({"kind": ["missing_order", "missing_trade"], "exchange": "binance", "state": "open"},
         {"binance_missing", "binance_fill"}),
        ({"exchange": "kraken"}, set()),
        ({}, {"binance_missing", "binance_fill", "binance_dismissed", "okx_missing"}),
    ],
)  # fmt: skip
def test_discrepancies_are_filtered_by_state_exchange_and_kind(api, queue, query, expected):
    assert listed_ids(api, query) == {queue[name].pk for name in expected}


@pytest.mark.parametrize(("query", "field"), [({"kind": "typo"}, "kind"), ({"state": "closed"}, "state")])
def test_a_filter_value_that_is_no_choice_is_a_400_naming_it(api, queue, query, field):
    response = api.get(DISCREPANCIES, query)

    assert response.status_code == 400
    assert field in response.json()["details"]


def test_one_discrepancy_shows_both_versions(api, queue):
    discrepancy = queue["binance_missing"]

    body = api.get(f"{DISCREPANCIES}{discrepancy.pk}/").json()

    assert (body["kind"], body["exchange"]) == ("missing_order", "binance")
    assert body["subject"] == discrepancy.subject
    assert body["exchange_version"] == discrepancy.exchange_version and body["record_version"] is None


def test_the_discrepancy_list_runs_a_fixed_number_of_queries(api, queue, django_assert_max_num_queries):
    api.get(DISCREPANCIES)  # the agent's lookups warm, as in a running worker
    with django_assert_max_num_queries(4) as few:
        api.get(DISCREPANCIES)
    run = ReconciliationRunFactory(exchange=queue["okx_missing"].exchange)
    DiscrepancyFactory.create_batch(20, exchange=run.exchange, run=run)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get(DISCREPANCIES, {"page_size": 50}).json()["results"]) == 24


def test_a_read_only_endpoint_takes_no_writes(api, queue):
    discrepancy = queue["binance_missing"]

    assert api.post(DISCREPANCIES, {"state": "dismissed"}, format="json").status_code == 405
    one = f"{DISCREPANCIES}{discrepancy.pk}/"
    assert api.patch(one, {"state": "adopted"}, format="json").status_code == 405
    assert api.delete(f"{RUNS}{discrepancy.run_id}/").status_code == 405
    discrepancy.refresh_from_db()
    assert discrepancy.state == "open" and ReconciliationRun.objects.filter(pk=discrepancy.run_id).exists()


# ---- what no answer shows, and who may ask ------------------------------------------------------------


def test_no_answer_contains_the_accounts_credentials(api, emulated):
    binance_account, _ = emulated(BINANCE)
    okx_account, okx = emulated(OKX)
    binance_account.place_order("BTC/USDT", "buy", "limit", "0.5", "60000", client_order_id="agent-3")
    okx_account.refuse_auth()

    answers = [start(api, {"exchange": "binance"}), start(api, {"exchange": "okx"})]
    assert answers[1].json()["status"] == "failed"  # the refusal is reported, scrubbed
    assert "Authentication" in answers[1].json()["reason"] or "50111" in answers[1].json()["reason"]
    with other_session_holding_reconciliation_lock(okx):
        answers.append(start(api, {"exchange": "okx"}))
    answers.append(start(api, {"exchange": "nosuch"}))
    answers += [api.get(RUNS), api.get(DISCREPANCIES), api.get(f"{RUNS}{answers[1].json()['id']}/")]
    answers += [api.get(f"{DISCREPANCIES}{d.pk}/") for d in Discrepancy.objects.all()]
    answers.append(api.get("/api/v1/exchanges/"))

    assert [a.status_code for a in answers[:4]] == [201, 201, 409, 400]
    for answer in answers:
        text = answer.content.decode()
        for account in (binance_account, okx_account):
            for secret in (account.api_key, account.secret, account.password):
                if secret:
                    assert secret not in text, answer.request["PATH_INFO"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", RUNS), ("get", RUNS), ("get", DISCREPANCIES), ("get", f"{DISCREPANCIES}1/")],
)
def test_without_a_token_the_api_refuses_and_reconciles_nothing(anonymous, emulated, method, path):
    account, _ = emulated(BINANCE)

    response = getattr(anonymous, method)(path, {"exchange": "binance"}, format="json")

    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")
    assert nothing_written(account)


def test_a_revoked_token_is_refused(api, agent, emulated):
    account, _ = emulated(BINANCE)
    agent_revoke(name=agent.name)

    assert start(api, {"exchange": "binance"}).status_code == 401
    assert nothing_written(account)


def test_the_openapi_schema_still_generates_with_the_reconciliation_endpoints(api):
    response = api.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in (
        "/api/v1/reconciliation/runs/",
        "/api/v1/reconciliation/runs/{id}/",
        "/api/v1/reconciliation/discrepancies/",
        "/api/v1/reconciliation/discrepancies/{id}/",
    ):
        assert path in paths, path
    post = paths["/api/v1/reconciliation/runs/"]["post"]
    assert "201" in post["responses"]
    request_schema = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "exchange" in schema["components"]["schemas"][request_schema]["required"]
    answered = post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    drift = schema["components"]["schemas"][answered]["properties"]["open_discrepancies"]
    assert drift["items"] == {"$ref": "#/components/schemas/Discrepancy"}  # typed, for generated clients
    filters = {p["name"] for p in paths["/api/v1/reconciliation/discrepancies/"]["get"]["parameters"]}
    assert {"state", "exchange", "kind"} <= filters
