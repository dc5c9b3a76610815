"""Per-agent request limits, counted in Redis by the memory service's rate limiter."""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from .models import Agent

logger = logging.getLogger("tradeoffice.api")

# The limiter's key is ratelimit:{exchange}:{endpoint}; the API counts under its own "exchange".
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
        # Imported here: the memory service brings Redis and Qdrant clients, needed only per request.
        from apps.memory.services import ratelimit_hit

        decision = ratelimit_hit(
            exchange=LIMITER_NAMESPACE, endpoint=f"agent:{agent.pk}", limit=limit, window=WINDOW_SECONDS
        )
        if decision.allowed or decision.count is None:
            return True
        self._wait = decision.retry_after
        return False

    def wait(self) -> int | None:
        return self._wait
