"""DRF authentication by agent token: `Authorization: Bearer <token>` (or `Token <token>`).

Wrong tokens are counted per client address (settings.API_BAD_TOKEN_ATTEMPTS_PER_MINUTE); past the
limit they are answered 429 instead of 401, so guessing is slow as well as hopeless (32 random bytes).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from apps.common.attempts import attempt_hit, client_address

from .services import agent_authenticate

KEYWORDS = ("bearer", "token")
BAD_TOKEN_SCOPE = "api-bad-token"  # noqa: S105 - a counter's name, not a secret
BAD_TOKEN_WINDOW_SECONDS = 60


def _refuse(request, message: str) -> exceptions.APIException:
    """401 for a wrong token, or 429 once this address has sent too many of them."""
    limit = settings.API_BAD_TOKEN_ATTEMPTS_PER_MINUTE
    if limit:
        decision = attempt_hit(
            scope=BAD_TOKEN_SCOPE,
            subject=client_address(request),
            limit=limit,
            window=BAD_TOKEN_WINDOW_SECONDS,
        )
        if not decision.allowed:
            return exceptions.Throttled(
                wait=decision.retry_after,
                detail=(
                    f"Too many requests with an invalid token from this address; "
                    f"retry after {decision.retry_after} s."
                ),
            )
    return exceptions.AuthenticationFailed(message)


class AgentTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower().decode("latin-1") not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise _refuse(
                request,
                "Malformed Authorization header: expected 'Bearer <token>' with no spaces in the token.",
            )
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise _refuse(request, "The token is invalid or has been revoked.") from None
        agent = agent_authenticate(token=token)
        if agent is None:
            raise _refuse(request, "The token is invalid or has been revoked.")
        return (agent, None)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the header is missing or wrong.
        return f'{self.keyword} realm="api"'
