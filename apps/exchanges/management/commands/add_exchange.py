"""manage.py add_exchange NAME [--testnet]: register an exchange with encrypted credentials.

The key, secret and password come from EXCHANGE_API_KEY, EXCHANGE_API_SECRET and
EXCHANGE_PASSWORD, or from a hidden prompt; never from arguments, which land in shell history.
"""

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.exchanges.services import exchange_register


class Command(MaintenanceCommand):
    help = (
        "Register an exchange. Credentials are read from EXCHANGE_API_KEY, EXCHANGE_API_SECRET and "
        "EXCHANGE_PASSWORD (optional), or prompted for without echo."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("name", help="The exchange's ccxt id, e.g. binance, okx, kraken.")
        parser.add_argument("--testnet", action="store_true", help="The credentials are for the testnet.")

    def run(self, **options) -> str:
        api_key = self._secret("EXCHANGE_API_KEY", "API key", required=True)
        api_secret = self._secret("EXCHANGE_API_SECRET", "API secret", required=True)
        password = self._secret("EXCHANGE_PASSWORD", "API password (empty if none)", required=False)
        try:
            exchange = exchange_register(
                name=options["name"],
                api_key=api_key,
                api_secret=api_secret,
                password=password or None,
                testnet=options["testnet"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())) from exc
        return f"Registered exchange {exchange.name!r} (id {exchange.pk}, testnet={exchange.testnet})."

    def _secret(self, variable: str, label: str, *, required: bool) -> str:
        value = os.environ.get(variable, "")
        if not value and sys.stdin is not None and sys.stdin.isatty():
            value = getpass.getpass(f"{label}: ")
        if required and not value.strip():
            raise CommandError(
                f"No {label} given: set {variable} in the environment or run this command on a terminal "
                "to be prompted for it."
            )
        return value
