"""Near duplicates flagged and linked (not merged), supersession's rules, the playbook."""

import pytest
from django.core.exceptions import ValidationError

from apps.memory.models import Experience, ExperienceLink
from apps.memory.services.experiences import experience_create
from apps.memory.services.lifecycle import experience_supersede, experience_unsupersede, playbook
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
