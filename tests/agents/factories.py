"""Agents with a known token, for tests that call the API as one."""

import factory

from apps.agents.models import Agent
from apps.agents.services import token_digest


class AgentFactory(factory.django.DjangoModelFactory):
    """`AgentFactory()` has `.token` (the plaintext) set on the instance for the test's use."""

    class Meta:
        model = Agent
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"agent-{n}")
    token = factory.Sequence(lambda n: f"to_test-token-{n:04d}-aaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    token_digest = factory.LazyAttribute(lambda o: token_digest(o.token))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token = kwargs.pop("token")
        agent = super()._create(model_class, *args, **kwargs)
        agent.token = token
        return agent
