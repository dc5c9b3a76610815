"""Agent principals: tokens stored as digests only, revocation, rotation, last use."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.agents.models import Agent
from apps.agents.services import (
    agent_authenticate,
    agent_create,
    agent_revoke,
    agent_rotate_token,
    token_digest,
)

pytestmark = pytest.mark.django_db


def test_create_returns_a_long_random_token_and_stores_only_its_digest():
    issued = agent_create(name="btc-swing")
    other = agent_create(name="eth-scalper")

    assert issued.token.startswith("to_") and len(issued.token) >= 40
    assert issued.token != other.token
    row = Agent.objects.get(name="btc-swing")
    assert row.token_digest == token_digest(issued.token)
    assert issued.token not in row.token_digest
    assert issued.token not in repr(issued) and issued.token not in repr(row)


def test_the_token_authenticates_its_agent_and_nothing_else_does():
    issued = agent_create(name="btc-swing")

    assert agent_authenticate(token=issued.token) == issued.agent
    assert agent_authenticate(token=issued.token + "x") is None
    assert agent_authenticate(token="") is None
    assert agent_authenticate(token="x" * 10_000) is None


def test_a_revoked_token_no_longer_authenticates_and_revoking_twice_is_harmless():
    issued = agent_create(name="btc-swing")

    first = agent_revoke(name="btc-swing")
    again = agent_revoke(name="btc-swing")

    assert agent_authenticate(token=issued.token) is None
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at


def test_rotation_replaces_the_token_and_revives_a_revoked_agent():
    old = agent_create(name="btc-swing")
    agent_revoke(name="btc-swing")

    new = agent_rotate_token(name="btc-swing")

    assert agent_authenticate(token=old.token) is None
    assert agent_authenticate(token=new.token).name == "btc-swing"


def test_names_are_unique_and_must_not_be_empty():
    agent_create(name="btc-swing")

    with pytest.raises(ValidationError, match="already exists"):
        agent_create(name="btc-swing")
    with pytest.raises(ValidationError, match="must not be empty"):
        agent_create(name="  ")
    with pytest.raises(ValidationError, match="No agent named"):
        agent_revoke(name="nobody")
    assert Agent.objects.count() == 1


def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries):
    issued = agent_create(name="btc-swing")

    agent_authenticate(token=issued.token)
    first = Agent.objects.get(pk=issued.agent.pk).last_used_at
    with django_assert_num_queries(1):  # the lookup only: no second write within the minute
        agent_authenticate(token=issued.token)

    Agent.objects.filter(pk=issued.agent.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
    agent_authenticate(token=issued.token)

    assert first is not None
    assert Agent.objects.get(pk=issued.agent.pk).last_used_at > first - timedelta(seconds=1)
    assert timezone.now() - Agent.objects.get(pk=issued.agent.pk).last_used_at < timedelta(minutes=1)
