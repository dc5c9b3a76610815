"""What a decision's tokens cost: model prices with their history, the split or the documented rule for
unsplit tokens, repricing when a price is added, and the API's split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.decisions.costs import decisions_reprice, model_price_add
from apps.decisions.models import Decision, ModelPrice
from apps.decisions.services import decision_record

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def record(**overrides) -> Decision:
    arguments = {
        "decision_layer": "tactical",
        "input_context": {},
        "thought_process": "t",
        "decision": "hold",
        "model_used": "gpt-4o",
        "timestamp": ms(JAN + timedelta(days=3)),
    }
    arguments.update(overrides)
    return decision_record(**arguments)


def test_split_tokens_are_priced_apart_and_unsplit_ones_at_the_output_price():
    model_price_add(
        model="gpt-4o", input_per_million=D("2.5"), output_per_million=D("10"), effective_from=JAN
    )
    split = record(input_tokens=1_000_000, output_tokens=100_000)
    unsplit = record(tokens_used=1_000_000)
    assert split.tokens_used == 1_100_000
    assert split.inference_cost == D("3.5")  # 2.5 + 0.1 x 10
    assert "1000000 input and 100000 output tokens" in split.inference_cost_note
    assert unsplit.inference_cost == D("10")  # every token at the output price: the upper bound
    assert (
        "not told apart" in unsplit.inference_cost_note and "0% at the input" in unsplit.inference_cost_note
    )


def test_the_unsplit_share_setting_blends_the_prices(settings):
    settings.INFERENCE_UNSPLIT_INPUT_SHARE = "0.75"
    model_price_add(model="gpt-4o", input_per_million=D("2"), output_per_million=D("10"), effective_from=JAN)
    assert record(tokens_used=1_000_000).inference_cost == D("4")  # 0.75 x 2 + 0.25 x 10


def test_a_decision_without_a_price_says_so_and_is_priced_when_one_is_added():
    early = record(tokens_used=500_000)
    assert early.inference_cost is None and "No price for gpt-4o" in early.inference_cost_note
    _, priced = model_price_add(
        model="gpt-4o", input_per_million=D("1"), output_per_million=D("4"), effective_from=JAN
    )
    early.refresh_from_db()
    assert priced == 1 and early.inference_cost == D("2")


def test_a_new_price_is_a_new_row_and_prices_only_the_decisions_after_it():
    model_price_add(model="gpt-4o", input_per_million=D("1"), output_per_million=D("4"), effective_from=JAN)
    january = record(tokens_used=1_000_000)
    february = record(tokens_used=1_000_000, timestamp=ms(FEB + timedelta(days=1)))
    model_price_add(model="gpt-4o", input_per_million=D("1"), output_per_million=D("8"), effective_from=FEB)
    january.refresh_from_db()
    february.refresh_from_db()
    assert (january.inference_cost, february.inference_cost) == (D("4"), D("8"))
    assert ModelPrice.objects.filter(model="gpt-4o").count() == 2  # the history stays
    assert decisions_reprice() == 2  # repricing everything again changes nothing
    january.refresh_from_db()
    assert january.inference_cost == D("4")


def test_bad_prices_and_token_counts_are_refused():
    with pytest.raises(ValidationError) as refused:
        model_price_add(model=" ", input_per_million=D("-1"), output_per_million=D("1"))
    assert {"model", "input_per_million"} <= set(refused.value.message_dict)
    model_price_add(model="gpt-4o", input_per_million=D("1"), output_per_million=D("1"), effective_from=JAN)
    with pytest.raises(ValidationError, match="already has a price"):
        model_price_add(
            model="gpt-4o", input_per_million=D("2"), output_per_million=D("2"), effective_from=JAN
        )
    with pytest.raises(ValidationError) as refused:
        record(tokens_used=10, input_tokens=3, output_tokens=4)
    assert "is not input_tokens + output_tokens" in refused.value.message_dict["tokens_used"][0]
    assert not Decision.objects.exists()


def test_the_api_accepts_the_split_and_shows_the_cost():
    from rest_framework.test import APIClient

    from tests.agents.factories import AgentFactory

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentFactory(name='pricing-test').token}")
    model_price_add(
        model="gpt-4o", input_per_million=D("2.5"), output_per_million=D("10"), effective_from=JAN
    )
    body = {
        "decision_layer": "tactical",
        "input_context": {},
        "thought_process": "t",
        "decision": "hold",
        "model_used": "gpt-4o",
        "input_tokens": 2000,
        "output_tokens": 500,
    }
    created = api.post("/api/v1/decisions/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["tokens_used"] == 2500
    assert created.json()["inference_cost"] == "0.01000000"  # 2,000 x 2.5 / 1M + 500 x 10 / 1M
    refused = api.post("/api/v1/decisions/", {**body, "tokens_used": 9, "output_tokens": -1}, format="json")
    assert refused.status_code == 400 and "output_tokens" in refused.json()["details"]


def test_operators_add_a_price_in_the_admin_and_cannot_edit_one(client, django_user_model):
    from django.contrib.auth.models import Group

    operator = django_user_model.objects.create_user("olga", password="pw-123456!", is_staff=True)
    operator.groups.add(Group.objects.get(name="operators"))
    client.force_login(operator)
    record(tokens_used=1_000_000)
    response = client.post(
        reverse("admin:decisions_modelprice_add"),
        {
            "model": "gpt-4o",
            "input_per_million": "1",
            "output_per_million": "3",
            "effective_from_0": "2026-01-01",
            "effective_from_1": "00:00:00",
            "note": "list price",
        },
    )
    assert response.status_code == 302
    price = ModelPrice.objects.get()
    assert price.recorded_by == "olga" and price.currency == "USDT"
    assert Decision.objects.get().inference_cost == D("3")
    change = client.post(
        reverse("admin:decisions_modelprice_change", args=[price.pk]), {"output_per_million": "0"}
    )
    assert change.status_code == 403
