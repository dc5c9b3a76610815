"""manage.py create_agent NAME [--rotate]: create an agent and print its token once, as the last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.agents.services import agent_create, agent_rotate_token
from apps.common.commands import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Create an agent principal for the API and print its token once, as the last line of output. "
        "Only a digest of the token is stored: keep it now, it cannot be shown again."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("name", help="The agent's name, e.g. btc-swing-trader.")
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="The agent exists: issue it a new token (the old one stops working at once).",
        )

    def handle(self, *args, **options) -> None:
        self._token = None
        super().handle(*args, **options)
        # Printed after the summary, whatever the verbosity, so scripts can take the last line.
        self.stdout.write(self._token)

    def run(self, **options) -> str:
        try:
            if options["rotate"]:
                issued = agent_rotate_token(name=options["name"])
                verb = "Issued a new token to"
            else:
                issued = agent_create(name=options["name"])
                verb = "Created"
        except ValidationError as exc:
            raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        self._token = issued.token
        return (
            f"{verb} agent {issued.agent.name!r}. Its token is the next line; it is shown only this once. "
            "Send it as 'Authorization: Bearer <token>'."
        )
