"""What operators see: a decision's recalled memories, an experience's users, history, links; the
suspect filter and the playbook page."""

from decimal import Decimal

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from apps.memory.models import Experience
from apps.memory.services import long_term
from apps.memory.services.feedback import experience_importance_feedback
from apps.memory.services.lifecycle import experience_supersede
from apps.memory.services.recall import memory_recall
from tests.factories import DecisionFactory, ExperienceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recalled():
    ExperienceFactory(
        id="exp_seen", situation="BTC oversold at RSI 24 after a dump; bought.", lessons_learned=[]
    )
    long_term.experiences_upsert(Experience.objects.all())
    decision = DecisionFactory(id="dec_seen")
    memory_recall(text="bitcoin oversold", limit=1, decision_id="dec_seen")
    return decision


def test_the_decision_page_shows_what_it_recalled(admin_client, recalled):
    page = admin_client.get(reverse("admin:decisions_decision_change", args=["dec_seen"]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "What it recalled from long-term memory" in html
    assert "exp_seen" in html and "rsi match" in html


def test_the_experience_page_shows_its_decisions_history_and_links(admin_client, recalled):
    experience = Experience.objects.get(pk="exp_seen")
    experience_importance_feedback(
        experience=experience,
        won=False,
        reason="operator_review",
        decision=recalled,
        rank=1,
        note="Too early.",
    )
    newer = ExperienceFactory(id="exp_newer")
    experience_supersede(experience=newer, supersedes=experience)

    html = admin_client.get(
        reverse("admin:memory_experience_change", args=[quote("exp_seen")])
    ).content.decode()

    assert "dec_seen" in html and "not ended yet" in html
    assert "Too early." in html and "0.35" in html
    assert "is superseded by (out of default recall)" in html and "exp_newer" in html


def test_the_suspect_filter_lists_experiences_recalled_into_losing_decisions(admin_client, recalled):
    loser = Experience.objects.get(pk="exp_seen")
    experience_importance_feedback(
        experience=loser, won=False, reason="realized_pnl", decision=recalled, rank=1, result=Decimal("-5")
    )
    ExperienceFactory(id="exp_innocent")

    html = admin_client.get(
        reverse("admin:memory_experience_changelist"), {"suspect": "yes"}
    ).content.decode()

    assert "exp_seen" in html and "exp_innocent" not in html


def test_the_playbook_page(admin_client):
    for _ in range(2):
        ExperienceFactory(situation_tags=["funding"], lessons_learned=["Respect negative funding"])

    page = admin_client.get(reverse("admin:memory_experience_playbook"), {"tag": "funding"})

    assert page.status_code == 200
    assert "Respect negative funding" in page.content.decode()
    assert "Playbook" in admin_client.get(reverse("admin:memory_experience_changelist")).content.decode()
