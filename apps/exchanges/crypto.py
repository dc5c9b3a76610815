"""Encryption of exchange credentials at rest: Fernet, with MultiFernet for key rotation.

Keys come from FIELD_ENCRYPTION_KEYS (comma-separated). The first key encrypts; every key
decrypts, so a new key is put first, `rotate_encryption_keys` re-encrypts, then the old key
is removed.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

GENERATE_HINT = (
    "Generate a key with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class CredentialDecryptionError(Exception):
    """A stored credential cannot be decrypted with any configured key."""


def _keys() -> tuple[str, ...]:
    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or []
    if isinstance(keys, str):
        keys = [k for k in keys.split(",") if k.strip()]
    return tuple(k.strip() for k in keys)


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS is empty: exchange credentials cannot be encrypted. {GENERATE_HINT}"
        )
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as exc:
            # The key itself is never echoed: only its position in the list.
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS key #{position} is not a valid Fernet key "
                f"(32 url-safe base64-encoded bytes). {GENERATE_HINT}"
            ) from exc
    return MultiFernet(fernets)


def fernet() -> MultiFernet:
    """The MultiFernet for the configured keys (validated; a clear error if missing or malformed)."""
    return _fernet_for(_keys())


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialDecryptionError(
            "A stored exchange credential cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS; "
            "the key that encrypted it has been removed or changed."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a token with the first key (it must decrypt under one of the keys)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialDecryptionError(
            "A stored exchange credential cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS."
        ) from exc
