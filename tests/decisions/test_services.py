"""decision_record: ids made or kept, conflicts, the moment derived from the timestamp."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from apps.decisions.models import Decision
from apps.decisions.services import DecisionConflict, decision_record

pytestmark = pytest.mark.django_db


def record(**overrides):
    values = {
        "decision_layer": "strategic",
        "input_context": {"regime": "range"},
        "thought_process": "Volatility is compressing; stay in mean reversion.",
        "decision": "Keep strategy rsi v1.1.0",
    }
    values.update(overrides)
    return decision_record(**values)


def test_an_id_is_made_when_none_is_given_and_the_moment_follows_the_timestamp():
    decision = record(timestamp=1_767_225_600_000)

    assert decision.id.startswith("dec_")
    assert Decision.objects.get(pk=decision.id).datetime == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_used_id_is_a_conflict_and_nothing_changes():
    record(decision_id="dec_1")

    with pytest.raises(DecisionConflict):
        record(decision_id="dec_1", decision="Something else")

    assert Decision.objects.get().decision == "Keep strategy rsi v1.1.0"


@pytest.mark.parametrize(
    ("overrides", "field"), [({"tokens_used": -1}, "tokens_used"), ({"latency_ms": -5}, "latency_ms")]
)
def test_negative_counts_are_refused(overrides, field):
    with pytest.raises(ValidationError) as caught:
        record(**overrides)

    assert field in caught.value.message_dict


def test_an_unknown_layer_is_refused():
    with pytest.raises(ValueError):
        record(decision_layer="cosmic")
