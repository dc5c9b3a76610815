"""Who may call what: agents everywhere in the API; staff sessions only for the schema and its docs."""

from rest_framework.permissions import BasePermission

from .models import Agent


class IsAgent(BasePermission):
    message = "Only agents may call the API: send 'Authorization: Bearer <token>'."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Agent) and request.user.is_active


class IsAgentOrStaff(BasePermission):
    """For the OpenAPI schema and the interactive docs, which operators read in a browser."""

    message = "Send an agent token, or sign in to the admin as staff to read the API docs."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if isinstance(user, Agent):
            return user.is_active
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
