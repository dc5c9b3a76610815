"""Near duplicates flagged and linked (not merged), supersession's rules, the playbook."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.memory.models import Experience, ExperienceLink
from apps.memory.services.experiences import experience_bulk_create, experience_create
from apps.memory.services.lifecycle import (
    experience_supersede,
    experience_unsupersede,
    experiences_supersede,
    experiences_unsupersede,
    playbook,
)
from tests.factories import ExperienceFactory

pytestmark = pytest.mark.django_db

BASE = {"decision": "Enter long", "decision_reasoning": "Bounce", "outcome": "success"}


def test_a_near_duplicate_is_flagged_and_linked_not_merged(on_commit):
    with on_commit():
        experience_create(id="exp_first", situation="BTC oversold at RSI 24 after a 9% drop; bought.", **BASE)
    with on_commit():
        experience_create(id="exp_again", situation="BTC oversold at RSI 24 after a 9% drop; bought!", **BASE)
    with on_commit():
        experience_create(id="exp_other", situation="ETH funding turned negative, shorts crowded.", **BASE)

    link = ExperienceLink.objects.get()
    assert (link.source_id, link.target_id, link.kind) == ("exp_again", "exp_first", "near_duplicate")
    assert link.similarity >= 0.95
    assert Experience.objects.count() == 3


def test_a_large_write_is_compared_by_the_command_afterwards(on_commit, monkeypatch, capsys):
    from apps.memory.services import lifecycle

    monkeypatch.setattr(lifecycle, "NEAR_DUPLICATE_BATCH_LIMIT", 1)  # a "large" write: two at once
    with on_commit():
        experience_bulk_create(
            experiences=[
                {
                    "id": "exp_first",
                    "situation": "SOL broke the range high on volume; bought the retest.",
                    **BASE,
                },
                {
                    "id": "exp_again",
                    "situation": "SOL broke the range high on volume; bought the retest!",
                    **BASE,
                },
            ]
        )
    assert not ExperienceLink.objects.exists()  # not compared on write
    call_command("flag_near_duplicates", "--batch-size", "1")
    assert "2 experience(s) compared, 1 near duplicate(s) linked." in capsys.readouterr().out
    link = ExperienceLink.objects.get()
    assert {link.source_id, link.target_id} == {"exp_first", "exp_again"}
    call_command("flag_near_duplicates")  # again: the pair is linked once, either way round
    assert ExperienceLink.objects.count() == 1
    with pytest.raises(CommandError, match="batch size"):
        call_command("flag_near_duplicates", "--batch-size", "0")


def test_bulk_supersession_is_all_or_nothing():
    older, other, newer = ExperienceFactory(), ExperienceFactory(), ExperienceFactory()
    experience_supersede(experience=other, supersedes=older)
    with pytest.raises(ValidationError, match="already superseded"):
        experiences_supersede(experience_ids=[older.pk, other.pk], by_id=newer.pk)
    assert ExperienceLink.objects.count() == 1  # other was not superseded either
    with pytest.raises(ValidationError, match="is none"):
        experiences_supersede(experience_ids=[other.pk], by_id="exp_missing")
    assert experiences_supersede(experience_ids=[other.pk], by_id=newer.pk) == 1
    assert experiences_unsupersede(experience_ids=[older.pk, other.pk, newer.pk]) == 2
    assert not ExperienceLink.objects.exists()


def test_supersession_refuses_self_a_second_superseder_and_circles():
    old, new, newest = ExperienceFactory(), ExperienceFactory(), ExperienceFactory()

    with pytest.raises(ValidationError, match="itself"):
        experience_supersede(experience=old, supersedes=old)
    experience_supersede(experience=new, supersedes=old)
    with pytest.raises(ValidationError, match="already superseded by"):
        experience_supersede(experience=newest, supersedes=old)
    with pytest.raises(ValidationError, match="already supersedes"):
        experience_supersede(experience=old, supersedes=new)
    assert ExperienceLink.objects.count() == 1

    assert experience_unsupersede(experience=old) is True
    assert not ExperienceLink.objects.exists()


def test_the_playbook_gathers_lessons_that_recur_per_tag():
    ExperienceFactory(
        situation_tags=["btc", "oversold"], lessons_learned=["Wait for the 4h close."], outcome="success"
    )
    ExperienceFactory(
        situation_tags=["oversold"], lessons_learned=["wait for the 4H close"], outcome="failure"
    )
    ExperienceFactory(situation_tags=["oversold"], lessons_learned=["Size down in chop"], outcome="failure")
    superseded = ExperienceFactory(situation_tags=["oversold"], lessons_learned=["Size down in chop"])
    experience_supersede(experience=ExperienceFactory(situation_tags=["other"]), supersedes=superseded)

    book = playbook()

    assert list(book) == [
        "oversold"
    ]  # btc has the lesson once; "Size down" counts once (the other superseded)
    (lesson,) = book["oversold"]
    assert (lesson.experiences, lesson.successes, lesson.failures) == (2, 1, 1)
    assert lesson.lesson.lower().startswith("wait for the 4")
    assert list(playbook(tag="btc", min_experiences=1)) == ["btc"]
    with pytest.raises(ValidationError):
        playbook(min_experiences=0)
