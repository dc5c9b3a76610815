"""manage.py purge_idempotency_keys [--older-than-hours N]: forget stored answers past their use (cron)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError

from apps.agents.services import idempotency_keys_purge
from apps.common.commands import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Delete Idempotency-Key records older than API_IDEMPOTENCY_KEY_TTL_HOURS (default 24): a retry "
        "after that is treated as a new request."
    )
    supports_dry_run = True

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than-hours",
            type=int,
            default=None,
            help="Override API_IDEMPOTENCY_KEY_TTL_HOURS for this run.",
        )

    def run(self, **options) -> str:
        hours = options["older_than_hours"]
        hours = settings.API_IDEMPOTENCY_KEY_TTL_HOURS if hours is None else hours
        if hours < 1:
            raise CommandError(
                "--older-than-hours must be at least 1: a retry in flight must still be answered."
            )
        deleted = idempotency_keys_purge(older_than=timedelta(hours=hours))
        return f"Deleted {deleted} idempotency key(s) older than {hours} h."
