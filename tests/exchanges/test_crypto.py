"""Credential encryption (apps/exchanges/crypto.py): round trip, key rotation, and clear errors
for missing, malformed or unknown keys that never echo a key."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.exchanges import crypto
from apps.exchanges.checks import check_field_encryption_keys

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
PLAINTEXT = "api-secret-7f3a9c1e"


@override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY])
def test_round_trip():
    token = crypto.encrypt(PLAINTEXT)
    assert PLAINTEXT not in token
    assert crypto.decrypt(token) == PLAINTEXT


@override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY])
def test_round_trip_of_non_ascii_text():
    assert crypto.decrypt(crypto.encrypt("密码-パスワード-ü")) == "密码-パスワード-ü"


@override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY])
def test_the_same_plaintext_never_gives_the_same_token():
    """Equal ciphertexts would tell a reader of the table which exchanges share a secret."""
    assert crypto.encrypt(PLAINTEXT) != crypto.encrypt(PLAINTEXT)


def test_a_token_of_the_old_key_decrypts_while_both_keys_are_configured():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        old_token = crypto.encrypt(PLAINTEXT)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert crypto.decrypt(old_token) == PLAINTEXT
        new_token = crypto.encrypt(PLAINTEXT)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        # The first key encrypts.
        assert crypto.decrypt(new_token) == PLAINTEXT


def test_rotate_re_encrypts_with_the_first_key():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        old_token = crypto.encrypt(PLAINTEXT)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        rotated = crypto.rotate(old_token)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert crypto.decrypt(rotated) == PLAINTEXT
        with pytest.raises(crypto.CredentialDecryptionError):
            crypto.decrypt(old_token)


def test_keys_may_be_given_as_one_comma_separated_string():
    with override_settings(FIELD_ENCRYPTION_KEYS=f"{NEW_KEY}, {OLD_KEY}"):
        token = crypto.encrypt(PLAINTEXT)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert crypto.decrypt(token) == PLAINTEXT


@override_settings(FIELD_ENCRYPTION_KEYS=[])
def test_a_missing_key_says_how_to_generate_one():
    with pytest.raises(ImproperlyConfigured) as caught:
        crypto.encrypt(PLAINTEXT)
    message = str(caught.value)
    assert "FIELD_ENCRYPTION_KEYS is empty" in message
    assert "Fernet.generate_key()" in message


@pytest.mark.parametrize(
    "bad_key",
    [
        "not-a-fernet-key",
        OLD_KEY[:-2],  # one byte short
        "a" * 44,  # the right length, not valid base64 of 32 bytes
    ],
)
def test_a_malformed_key_says_which_and_how_to_generate_one_without_echoing_it(bad_key):
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, bad_key]),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        crypto.encrypt(PLAINTEXT)
    message = str(caught.value)
    assert "key #2 is not a valid Fernet key" in message
    assert "Fernet.generate_key()" in message
    assert bad_key not in message
    assert NEW_KEY not in message
    # Nor in the chained exception a traceback would print.
    assert bad_key not in str(caught.value.__cause__)


def test_a_token_from_an_unknown_key_is_a_credential_decryption_error():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        token = crypto.encrypt(PLAINTEXT)
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]),
        pytest.raises(crypto.CredentialDecryptionError) as caught,
    ):
        crypto.decrypt(token)
    assert "FIELD_ENCRYPTION_KEYS" in str(caught.value)
    assert token not in str(caught.value)


@override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY])
def test_a_damaged_token_is_a_credential_decryption_error():
    token = crypto.encrypt(PLAINTEXT)
    with pytest.raises(crypto.CredentialDecryptionError):
        crypto.decrypt(token[:-4] + "AAAA")
    with pytest.raises(crypto.CredentialDecryptionError):
        crypto.rotate("plaintext-that-was-never-encrypted")


def test_the_startup_check_reports_a_missing_or_malformed_key():
    with override_settings(FIELD_ENCRYPTION_KEYS=[]):
        [error] = check_field_encryption_keys(None)
    assert error.id == "exchanges.E001"
    assert "Fernet.generate_key()" in error.msg
    with override_settings(FIELD_ENCRYPTION_KEYS=["ZZZ-bad-key-ZZZ"]):
        [error] = check_field_encryption_keys(None)
    assert "ZZZ-bad-key-ZZZ" not in error.msg
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert check_field_encryption_keys(None) == []
