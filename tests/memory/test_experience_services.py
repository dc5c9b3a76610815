"""Experience services: validation naming the field (nothing written), defaults, updates and
annotations that write an outbox row only on change, bulk creation, and recall by similarity."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.memory.models import Experience, MemoryOutbox
from apps.memory.services import (
    experience_annotate,
    experience_bulk_create,
    experience_create,
    experience_delete,
    experience_update,
    memory_recall,
)
from tests.factories import DecisionFactory

pytestmark = pytest.mark.django_db

VALID = {
    "id": "exp_0001",
    "situation": "BTC at 45000, RSI oversold on the 1h, funding negative",
    "decision": "Enter long position",
    "decision_reasoning": "Oversold bounces have worked in this range.",
    "outcome": "success",
}


def nothing_written() -> bool:
    return not Experience.objects.exists() and not MemoryOutbox.objects.exists()


# --- create -------------------------------------------------------------------------------------


def test_create_records_the_experience_with_its_outbox_row():
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    experience = experience_create(
        **VALID,
        situation_tags=["btc", " oversold ", "btc"],
        pnl=Decimal("1250.5"),
        pnl_percentage="2.5",
        lessons_learned=["Wait for confirmation"],
        symbol="BTC/USDT",
        datetime=moment,
    )

    stored = Experience.objects.get(pk="exp_0001")
    assert stored.situation_tags == ["btc", "oversold"]
    assert stored.pnl == Decimal("1250.50000000")
    assert stored.importance_score == Decimal("0.50")
    assert (stored.timestamp, stored.datetime) == (1704067200000, moment)
    assert experience.pk == stored.pk
    row = MemoryOutbox.objects.get()
    assert (row.experience_id, row.operation, row.status) == ("exp_0001", "upsert", "pending")


def test_create_derives_the_datetime_from_a_timestamp():
    experience = experience_create(**VALID, timestamp=1704067200000)
    assert experience.datetime == datetime(2024, 1, 1, tzinfo=UTC)


def test_create_accepts_an_existing_decision():
    decision = DecisionFactory()
    experience = experience_create(**VALID, decision_id=decision.pk)
    assert Experience.objects.get(pk=experience.pk).decision_ref == decision


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"importance_score": Decimal("1.5")}, "importance_score"),
        ({"importance_score": "-0.1"}, "importance_score"),
        ({"importance_score": "0.555"}, "importance_score"),
        ({"outcome": "win"}, "outcome"),
        ({"situation_tags": ["btc", ""]}, "situation_tags"),
        ({"situation_tags": "btc"}, "situation_tags"),
        ({"situation_tags": ["btc", 7]}, "situation_tags"),
        ({"lessons_learned": [" "]}, "lessons_learned"),
        ({"pnl": 12.5}, "pnl"),
        ({"pnl": "twelve"}, "pnl"),
        ({"pnl": "0.123456789"}, "pnl"),
        ({"situation": "   "}, "situation"),
        ({"decision_reasoning": None}, "decision_reasoning"),
        ({"id": ""}, "id"),
        ({"id": "x" * 101}, "id"),
        ({"symbol": "X" * 21}, "symbol"),
        ({"decision_id": "dec_missing"}, "decision_id"),
        ({"datetime": datetime(2024, 1, 1)}, "datetime"),
        ({"timestamp": 1704067200000, "datetime": datetime(2024, 1, 2, tzinfo=UTC)}, "timestamp"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(changes, field):
    with pytest.raises(ValidationError) as error:
        experience_create(**{**VALID, **changes})

    assert field in error.value.message_dict
    assert nothing_written()


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ValidationError) as error:
        experience_create(**{**VALID, "outcome": "draw", "importance_score": 2, "situation_tags": [""]})
    assert {"outcome", "importance_score", "situation_tags"} <= set(error.value.message_dict)


def test_a_duplicate_id_is_refused():
    experience_create(**VALID)
    with pytest.raises(ValidationError) as error:
        experience_create(**VALID)
    assert "already exists" in error.value.message_dict["id"][0]
    assert MemoryOutbox.objects.count() == 1


# --- update, annotate, delete -------------------------------------------------------------------


def test_update_changes_the_fields_and_queues_a_push():
    experience = experience_create(**VALID)
    updated = experience_update(experience=experience, outcome="failure", pnl="-10.5", symbol="ETH/USDT")

    stored = Experience.objects.get(pk=experience.pk)
    assert (stored.outcome, stored.pnl, stored.symbol) == ("failure", Decimal("-10.5"), "ETH/USDT")
    assert updated.outcome == "failure"
    assert list(MemoryOutbox.objects.values_list("operation", flat=True)) == ["upsert", "upsert"]


def test_an_update_that_changes_nothing_writes_nothing():
    experience = experience_create(**VALID)
    experience_update(experience=experience, outcome="success", importance_score="0.5")
    assert MemoryOutbox.objects.count() == 1


def test_update_moves_the_timestamp_with_the_datetime():
    experience = experience_create(**VALID, timestamp=1704067200000)
    experience_update(experience=experience, datetime=datetime(2024, 1, 2, tzinfo=UTC))
    assert Experience.objects.get(pk=experience.pk).timestamp == 1704153600000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "exp_other"}, "id"),
        ({"created_at": datetime(2024, 1, 1, tzinfo=UTC)}, "created_at"),
        ({"mood": "bullish"}, "mood"),
        ({"importance_score": 3}, "importance_score"),
        ({"importance_score": None}, "importance_score"),
        ({"outcome": None}, "outcome"),
    ],
)
def test_update_refuses_what_cannot_change(changes, field):
    experience = experience_create(**VALID)
    with pytest.raises(ValidationError) as error:
        experience_update(experience=experience, **changes)
    assert field in error.value.message_dict
    assert Experience.objects.get(pk=experience.pk).importance_score == Decimal("0.50")
    assert MemoryOutbox.objects.count() == 1


def test_updating_an_experience_deleted_meanwhile_says_so():
    experience = experience_create(**VALID)
    Experience.objects.filter(pk=experience.pk).delete()

    with pytest.raises(ValidationError) as error:
        experience_update(experience=experience, outcome="failure")
    assert "No experience" in error.value.message_dict["id"][0]


def test_annotate_changes_only_what_it_is_given():
    experience = experience_create(**VALID, reflection="Entry was early.", situation_tags=["btc"])
    experience_annotate(
        experience=experience, importance_score=0.9, lessons_learned=["Wait for the 4h close"]
    )

    stored = Experience.objects.get(pk=experience.pk)
    assert stored.importance_score == Decimal("0.90")
    assert stored.lessons_learned == ["Wait for the 4h close"]
    assert stored.reflection == "Entry was early."
    assert stored.situation_tags == ["btc"]

    experience_annotate(experience=experience, reflection=None)
    assert Experience.objects.get(pk=experience.pk).reflection is None


def test_annotate_refuses_an_importance_outside_0_to_1():
    experience = experience_create(**VALID)
    with pytest.raises(ValidationError) as error:
        experience_annotate(experience=experience, importance_score=Decimal("1.01"))
    assert "importance_score" in error.value.message_dict


def test_delete_queues_the_removal():
    experience = experience_create(**VALID)
    experience_delete(experience=experience)

    assert not Experience.objects.exists()
    assert list(MemoryOutbox.objects.values_list("operation", flat=True)) == ["upsert", "delete"]


# --- bulk ---------------------------------------------------------------------------------------


def test_bulk_create_writes_all_with_one_push(django_capture_on_commit_callbacks):
    items = [{**VALID, "id": f"exp_{n}", "situation": f"situation {n}"} for n in range(5)]
    with django_capture_on_commit_callbacks() as callbacks:
        created = experience_bulk_create(experiences=items)

    assert [e.id for e in created] == [f"exp_{n}" for n in range(5)]
    assert Experience.objects.count() == 5
    assert MemoryOutbox.objects.count() == 5
    # One push of the batch, then one near-duplicate check of the batch.
    assert [getattr(c, "func", c).__name__ for c in callbacks] == ["outbox_push", "flag"]


def test_bulk_create_is_all_or_nothing_and_names_the_item():
    items = [{**VALID, "id": "exp_a"}, {**VALID, "id": "exp_b", "outcome": "maybe"}, {**VALID, "id": "exp_a"}]
    with pytest.raises(ValidationError) as error:
        experience_bulk_create(experiences=items)

    assert set(error.value.message_dict) == {"1.outcome", "0.id"}
    assert nothing_written()


# --- recall -------------------------------------------------------------------------------------


def test_written_experiences_are_recalled_by_similarity(on_commit):
    with on_commit():
        experience_bulk_create(
            experiences=[
                {**VALID, "id": "exp_btc", "situation_tags": ["btc", "oversold"], "symbol": "BTC/USDT"},
                {
                    **VALID,
                    "id": "exp_eth",
                    "situation": "ETH funding rate spiked; the breakout failed and reversed",
                    "situation_tags": ["eth", "breakout"],
                    "symbol": "ETH/USDT",
                    "outcome": "failure",
                },
            ]
        )

    hits = memory_recall(text="BTC RSI oversold on the 1h chart")
    assert [h.experience_id for h in hits] == ["exp_btc", "exp_eth"]
    assert hits[0].similarity > hits[1].similarity
    assert [h.experience_id for h in memory_recall(text="BTC oversold", outcome="failure")] == ["exp_eth"]
    assert [h.experience_id for h in memory_recall(text="anything", tags=["breakout"])] == ["exp_eth"]


def test_set_importance_on_many_counts_only_the_changed():
    from apps.memory.services.experiences import experiences_set_importance
    from tests.factories import ExperienceFactory

    a = ExperienceFactory(importance_score=Decimal("0.50"))
    b = ExperienceFactory(importance_score=Decimal("0.90"))
    outbox = MemoryOutbox.objects.count()
    assert experiences_set_importance(experience_ids=[a.pk, b.pk], importance_score="0.9") == 1
    assert Experience.objects.get(pk=a.pk).importance_score == Decimal("0.90")
    assert MemoryOutbox.objects.count() == outbox + 1


def test_set_importance_on_many_refuses_a_bad_score_and_changes_nothing():
    from apps.memory.services.experiences import experiences_set_importance
    from tests.factories import ExperienceFactory

    a = ExperienceFactory(importance_score=Decimal("0.50"))
    with pytest.raises(ValidationError, match="between 0 and 1"):
        experiences_set_importance(experience_ids=[a.pk], importance_score="1.5")
    assert Experience.objects.get(pk=a.pk).importance_score == Decimal("0.50")


def test_tag_many_adds_and_removes_once():
    from apps.memory.services.experiences import experiences_tag
    from tests.factories import ExperienceFactory

    a = ExperienceFactory(situation_tags=["btc"])
    b = ExperienceFactory(situation_tags=["btc", "breakout"])
    assert experiences_tag(experience_ids=[a.pk, b.pk], add="breakout") == 1
    assert Experience.objects.get(pk=a.pk).situation_tags == ["btc", "breakout"]
    assert experiences_tag(experience_ids=[a.pk, b.pk], remove="btc") == 2
    assert Experience.objects.get(pk=b.pk).situation_tags == ["breakout"]
    with pytest.raises(ValidationError):
        experiences_tag(experience_ids=[a.pk], add="   ")
    assert Experience.objects.get(pk=a.pk).situation_tags == ["breakout"]
