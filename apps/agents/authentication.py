"""DRF authentication by agent token: `Authorization: Bearer <token>` (or `Token <token>`)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .services import agent_authenticate

KEYWORDS = ("bearer", "token")


class AgentTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower().decode("latin-1") not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <token>' with no spaces in the token."
            )
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is invalid or has been revoked.") from None
        agent = agent_authenticate(token=token)
        if agent is None:
            raise exceptions.AuthenticationFailed("The token is invalid or has been revoked.")
        return (agent, None)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the header is missing or wrong.
        return f'{self.keyword} realm="api"'
