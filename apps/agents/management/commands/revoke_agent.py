"""manage.py revoke_agent NAME: refuse the agent's token from now on (its history stays)."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.agents.services import agent_revoke
from apps.common.commands import MaintenanceCommand


class Command(MaintenanceCommand):
    help = "Revoke an agent's token. Its past writes stay attributed to it; create_agent --rotate revives it."

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("name", help="The agent's name.")

    def run(self, **options) -> str:
        try:
            agent = agent_revoke(name=options["name"])
        except ValidationError as exc:
            raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        return f"Agent {agent.name!r} is revoked (since {agent.revoked_at:%Y-%m-%d %H:%M:%S} UTC)."
