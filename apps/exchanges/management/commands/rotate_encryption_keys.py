"""manage.py rotate_encryption_keys: re-encrypt every exchange credential with the first key."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.exchanges.crypto import CredentialDecryptionError
from apps.exchanges.services import exchange_rotate_encryption


class Command(MaintenanceCommand):
    help = (
        "Re-encrypt every exchange's credentials with the first key of FIELD_ENCRYPTION_KEYS, in one "
        "transaction. Put the new key first, run this, then remove the old key."
    )
    supports_dry_run = True

    def run(self, **options) -> str:
        try:
            changed = exchange_rotate_encryption(dry_run=self.dry_run)
        except (CredentialDecryptionError, ImproperlyConfigured) as exc:
            raise CommandError(f"{exc} Nothing was changed.") from exc
        return f"Re-encrypted the credentials of {changed} exchange{'s' if changed != 1 else ''}."
