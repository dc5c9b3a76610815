"""manage.py mcp_server: TradeOffice's MCP server (tradeoffice-client's) against this server's API.

The MCP server is an API client holding the agent's token, not a second way into the database: every
tool call goes through the API's authentication, attribution and validation. This command only gives
it this server's defaults; it takes no lock (each MCP host starts a server of its own over stdio).
"""

import os

from django.core.management.base import BaseCommand, CommandError
from tradeoffice_client import mcp_server


class Command(BaseCommand):
    help = (
        "Serve TradeOffice's MCP tools and resources over stdio (the agent token from $TRADEOFFICE_TOKEN) "
        "or streamable HTTP (each client sends its own agent token as 'Authorization: Bearer <token>')."
    )
    # stdout is the MCP protocol over stdio: Django's checks must not print on it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        mcp_server.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        token = os.environ.get("TRADEOFFICE_TOKEN")
        if options["transport"] == "stdio" and not token:
            raise CommandError(
                "Set TRADEOFFICE_TOKEN to the agent's token: manage.py create_agent NAME prints one."
            )
        try:
            mcp_server.serve(
                api_url=options["url"],
                token=token,
                transport=options["transport"],
                host=options["host"],
                port=options["port"],
                path=options["path"],
                allowed_hosts=options["allowed_hosts"],
            )
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise CommandError(str(exc.code)) from None
