"""Writes and secret reads for exchanges: registering, setting and rotating credentials."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from . import crypto
from .models import Exchange

CREDENTIAL_COLUMNS = ("api_key_encrypted", "api_secret_encrypted", "password_encrypted")


def mask(secret: str | None) -> str:
    """At most the last four characters, e.g. `••••1a2b`; nothing at all for short secrets."""
    if not secret:
        return ""
    return "••••" + (secret[-4:] if len(secret) >= 12 else "")


@dataclass(frozen=True)
class Credentials:
    """Decrypted credentials, for handing to ccxt. Never printed: repr and str are masked."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        password = "'••••'" if self.password else "None"
        return f"Credentials(api_key={mask(self.api_key)!r}, api_secret='••••', password={password})"

    __str__ = __repr__

    def as_ccxt_config(self) -> dict[str, str]:
        config = {"apiKey": self.api_key, "secret": self.api_secret}
        if self.password:
            config["password"] = self.password
        return config


def _require(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise ValidationError({what: f"The {what.replace('_', ' ')} must not be empty."})
    return value.strip()


@transaction.atomic
def exchange_register(
    *,
    name: str,
    api_key: str,
    api_secret: str,
    password: str | None = None,
    testnet: bool = False,
) -> Exchange:
    """Register an exchange with its credentials encrypted. The name is ccxt's id, lower case."""
    name = _require(name, "name").lower()
    if len(name) > 50:
        raise ValidationError({"name": "The name must be at most 50 characters."})
    exchange = Exchange(
        name=name,
        api_key_encrypted=crypto.encrypt(_require(api_key, "api_key")),
        api_secret_encrypted=crypto.encrypt(_require(api_secret, "api_secret")),
        password_encrypted=crypto.encrypt(password) if password else None,
        testnet=testnet,
        is_active=True,
    )
    try:
        with transaction.atomic():
            exchange.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationError({"name": f"An exchange named {name!r} is already registered."}) from exc
    return exchange


@transaction.atomic
def exchange_set_credentials(
    *,
    exchange: Exchange,
    api_key: str | None = None,
    api_secret: str | None = None,
    password: str | None = None,
) -> Exchange:
    """Replace whichever credentials are given (non-empty); the others stay as they are."""
    exchange = Exchange.objects.select_for_update().get(pk=exchange.pk)
    changed = []
    if api_key:
        exchange.api_key_encrypted = crypto.encrypt(api_key.strip())
        changed.append("api_key_encrypted")
    if api_secret:
        exchange.api_secret_encrypted = crypto.encrypt(api_secret.strip())
        changed.append("api_secret_encrypted")
    if password:
        exchange.password_encrypted = crypto.encrypt(password)
        changed.append("password_encrypted")
    if changed:
        exchange.save(update_fields=changed)
    return exchange


def exchange_credentials(*, exchange: Exchange) -> Credentials:
    """Decrypt an exchange's credentials (CredentialDecryptionError if no key fits)."""
    return Credentials(
        api_key=crypto.decrypt(exchange.api_key_encrypted),
        api_secret=crypto.decrypt(exchange.api_secret_encrypted),
        password=crypto.decrypt(exchange.password_encrypted) if exchange.password_encrypted else None,
    )


@transaction.atomic
def exchange_rotate_encryption(*, dry_run: bool = False) -> int:
    """Re-encrypt every credential with the first configured key, in one transaction.

    Returns how many exchanges had at least one credential re-encrypted. Every credential is
    decrypted first, so a credential no key can read aborts the whole rotation untouched.
    """
    changed = 0
    for exchange in Exchange.objects.select_for_update().order_by("pk"):
        updates = {}
        for column in CREDENTIAL_COLUMNS:
            token = getattr(exchange, column)
            if token:
                updates[column] = crypto.rotate(token)
        if updates:
            changed += 1
            if not dry_run:
                Exchange.objects.filter(pk=exchange.pk).update(**updates)
    return changed
