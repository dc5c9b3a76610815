"""Agents in the admin: who they are, when they last called, revoking; tokens are issued by create_agent."""

from django.contrib import admin, messages

from .models import Agent, AgentWrite
from .services import agent_revoke


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name"]
    readonly_fields = ["name", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_digest"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        # A token must be shown to whoever creates it, once: that is `manage.py create_agent`.
        return False

    @admin.action(description="Revoke the selected agents' tokens", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        count = 0
        for agent in queryset.filter(revoked_at__isnull=True):
            agent_revoke(name=agent.name)
            count += 1
        self.message_user(request, f"{count} agent(s) revoked.", messages.SUCCESS)


@admin.register(AgentWrite)
class AgentWriteAdmin(admin.ModelAdmin):
    list_display = ["created_at", "agent", "action", "resource", "object_id"]
    list_select_related = ["agent"]
    list_filter = ["action", "resource"]
    search_fields = ["object_id", "agent__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
