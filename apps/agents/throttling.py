"""Per-agent request limits, counted in Redis by the shared fixed-window counter."""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from apps.common.redis import full_key, window_hit

from .models import Agent

logger = logging.getLogger("tradeoffice.api")

# Counted under ratelimit:api:agent:{id}, beside the seed's ratelimit:{exchange}:{endpoint} counters.
LIMITER_NAMESPACE = "api"
WINDOW_SECONDS = 60


class AgentRateThrottle(BaseThrottle):
    """API_RATE_LIMIT_PER_MINUTE requests per agent per minute; past it a 429 with Retry-After.

    When Redis cannot count, the request goes through: PostgreSQL is the record, and an agent
    must still be able to write fills there while the cache is down. (The rate-limit check an
    agent asks before calling an exchange fails closed; that one protects the exchange account.)
    """

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request, view) -> bool:
        limit = settings.API_RATE_LIMIT_PER_MINUTE
        agent = request.user
        if not limit or not isinstance(agent, Agent):
            return True
        decision = window_hit(
            key=full_key(f"ratelimit:{LIMITER_NAMESPACE}:agent:{agent.pk}"),
            limit=limit,
            window=WINDOW_SECONDS,
            operation="api_throttle",
        )
        if decision.allowed or decision.count is None:
            return True
        self._wait = decision.retry_after
        return False

    def wait(self) -> int | None:
        return self._wait
