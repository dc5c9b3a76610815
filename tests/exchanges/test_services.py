"""Exchange services (apps/exchanges/services.py): registering with encrypted credentials, reading
them back, replacing and rotating them, and keeping the plaintext out of the table, repr and logs."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from apps.exchanges import crypto
from apps.exchanges.models import Exchange
from apps.exchanges.services import (
    Credentials,
    exchange_credentials,
    exchange_register,
    exchange_rotate_encryption,
    exchange_set_credentials,
)

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()

API_KEY = "k3y-AKIA5EXAMPLE9Q2W"
API_SECRET = "s3cret-wJalrXUtnFEMI-K7MDENG"
PASSWORD = "passphrase-Tr0ub4dor"
PLAINTEXTS = (API_KEY, API_SECRET, PASSWORD)


def _stored(exchange: Exchange) -> tuple[str, str, str | None]:
    """The three credential columns as they are in the table, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_encrypted, api_secret_encrypted, password_encrypted FROM exchanges WHERE id = %s",
            [exchange.pk],
        )
        return cursor.fetchone()


def _register(name: str = "binance", **overrides) -> Exchange:
    return exchange_register(
        **{"name": name, "api_key": API_KEY, "api_secret": API_SECRET, "password": PASSWORD, **overrides}
    )


# --- exchange_register -----------------------------------------------------------------------------


def test_register_stores_ciphertext_only(caplog):
    with caplog.at_level(logging.DEBUG):
        exchange = _register()
    stored = _stored(exchange)
    for column, plaintext in zip(stored, PLAINTEXTS, strict=True):
        assert plaintext not in column
        assert crypto.decrypt(column) == plaintext
    assert not any(p in caplog.text for p in PLAINTEXTS)


def test_register_then_read_the_credentials_back():
    exchange = _register(testnet=True)
    credentials = exchange_credentials(exchange=Exchange.objects.get(pk=exchange.pk))
    assert credentials == Credentials(api_key=API_KEY, api_secret=API_SECRET, password=PASSWORD)
    assert credentials.as_ccxt_config() == {"apiKey": API_KEY, "secret": API_SECRET, "password": PASSWORD}
    assert Exchange.objects.get(pk=exchange.pk).testnet is True


def test_register_without_a_password_leaves_the_column_null():
    exchange = _register(password=None)
    assert _stored(exchange)[2] is None
    credentials = exchange_credentials(exchange=exchange)
    assert credentials.password is None
    assert "password" not in credentials.as_ccxt_config()


def test_register_lower_cases_and_trims_the_name():
    exchange = _register(name="  Binance ")
    assert Exchange.objects.get(pk=exchange.pk).name == "binance"


@pytest.mark.parametrize("field", ["api_key", "api_secret", "name"])
@pytest.mark.parametrize("empty", ["", "   ", None])
def test_register_rejects_an_empty_value_naming_the_field_and_writes_nothing(field, empty):
    with pytest.raises(ValidationError) as caught:
        _register(**{field: empty})
    assert field in caught.value.message_dict
    assert not Exchange.objects.exists()


def test_register_rejects_a_name_longer_than_the_column():
    with pytest.raises(ValidationError) as caught:
        _register(name="x" * 51)
    assert "name" in caught.value.message_dict
    assert not Exchange.objects.exists()


def test_register_rejects_a_duplicate_name_in_any_case_and_writes_nothing():
    first = _register(name="okx")
    with pytest.raises(ValidationError) as caught:
        _register(name="OKX", api_key="another-key-000000")
    assert caught.value.message_dict["name"] == ["An exchange named 'okx' is already registered."]
    assert list(Exchange.objects.all()) == [first]
    assert crypto.decrypt(_stored(first)[0]) == API_KEY
    # The failed insert did not spoil the surrounding transaction.
    assert Exchange.objects.count() == 1


# --- repr and str ---------------------------------------------------------------------------------


def test_repr_and_str_never_show_the_plaintext():
    exchange = _register()
    credentials = exchange_credentials(exchange=exchange)
    shown = " ".join([repr(exchange), str(exchange), repr(credentials), str(credentials), f"{credentials}"])
    for plaintext in PLAINTEXTS:
        assert plaintext not in shown
    # Nor the ciphertext, which has no business in logs either.
    assert not any(column in shown for column in _stored(exchange))
    assert "binance" in repr(exchange)


def test_short_secrets_are_masked_entirely():
    credentials = Credentials(api_key="abc12345", api_secret="x")
    assert "abc12345" not in repr(credentials)
    assert "2345" not in repr(credentials)


# --- exchange_set_credentials ---------------------------------------------------------------------


def test_set_credentials_replaces_only_what_is_given():
    exchange = _register()
    key_before, secret_before, password_before = _stored(exchange)
    exchange_set_credentials(exchange=exchange, api_secret="new-secret-123456789", api_key="")
    key_after, secret_after, password_after = _stored(exchange)
    assert (key_after, password_after) == (key_before, password_before)
    assert secret_after != secret_before
    assert "new-secret-123456789" not in secret_after
    assert exchange_credentials(exchange=Exchange.objects.get(pk=exchange.pk)).api_secret == (
        "new-secret-123456789"
    )


# --- exchange_rotate_encryption -------------------------------------------------------------------


def _two_exchanges_under_the_old_key() -> list[Exchange]:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        return [_register(name="binance"), _register(name="kraken", password=None)]


def test_rotation_re_encrypts_so_the_new_key_alone_decrypts():
    exchanges = _two_exchanges_under_the_old_key()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        # Before rotating, the old ciphertext still decrypts with both keys configured.
        assert exchange_credentials(exchange=exchanges[0]).api_key == API_KEY
        assert exchange_rotate_encryption() == 2
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        for exchange in exchanges:
            credentials = exchange_credentials(exchange=Exchange.objects.get(pk=exchange.pk))
            assert (credentials.api_key, credentials.api_secret) == (API_KEY, API_SECRET)
        assert exchange_credentials(exchange=Exchange.objects.get(name="binance")).password == PASSWORD
        assert _stored(Exchange.objects.get(name="kraken"))[2] is None
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]),
        pytest.raises(crypto.CredentialDecryptionError),
    ):
        exchange_credentials(exchange=Exchange.objects.get(name="binance"))


def test_rotation_dry_run_counts_and_changes_nothing():
    exchanges = _two_exchanges_under_the_old_key()
    before = [_stored(e) for e in exchanges]
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert exchange_rotate_encryption(dry_run=True) == 2
    assert [_stored(e) for e in exchanges] == before
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]),
        pytest.raises(crypto.CredentialDecryptionError),
    ):
        exchange_credentials(exchange=exchanges[0])


def test_rotation_with_nothing_registered_counts_zero():
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert exchange_rotate_encryption() == 0


def test_rotation_stops_untouched_when_a_credential_fits_no_key():
    """All or nothing: a half-rotated table would need both keys forever."""
    _two_exchanges_under_the_old_key()
    with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        _register(name="lost")  # its key is not configured below
    before = {e.pk: _stored(e) for e in Exchange.objects.all()}
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]),
        pytest.raises(crypto.CredentialDecryptionError),
    ):
        exchange_rotate_encryption()
    assert {e.pk: _stored(e) for e in Exchange.objects.all()} == before
