"""rotate_encryption_keys: every credential re-encrypted under the first key, or none."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.exchanges import crypto
from apps.exchanges.models import Exchange
from apps.exchanges.services import exchange_credentials
from tests.factories import ExchangeFactory
from tests.operations.locks import other_session_holding_lock

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def exchanges():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        ExchangeFactory(name="binance", password_encrypted=crypto.encrypt("pass-phrase-0001"))
        ExchangeFactory(name="okx")


def _readable_with(key: str) -> bool:
    with override_settings(FIELD_ENCRYPTION_KEYS=[key]):
        try:
            for exchange in Exchange.objects.all():
                exchange_credentials(exchange=exchange)
        except crypto.CredentialDecryptionError:
            return False
    return True


def test_rotation_moves_every_credential_to_the_first_key(exchanges):
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        output = rotate()
    assert "Re-encrypted the credentials of 2 exchanges" in output
    assert _readable_with(NEW) and not _readable_with(OLD)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        binance = exchange_credentials(exchange=Exchange.objects.get(name="binance"))
    assert binance.api_key == "test-api-key-0000" and binance.password == "pass-phrase-0001"


def test_dry_run_changes_nothing(exchanges):
    before = list(Exchange.objects.values_list("api_key_encrypted", flat=True))
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        output = rotate("--dry-run")
    assert "dry run" in output and "2 exchanges" in output
    assert list(Exchange.objects.values_list("api_key_encrypted", flat=True)) == before
    assert _readable_with(OLD)


def test_a_credential_no_key_reads_aborts_everything(exchanges):
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        ExchangeFactory(name="kraken")
    before = dict(Exchange.objects.values_list("name", "api_key_encrypted"))
    stranger = Fernet.generate_key().decode()
    Exchange.objects.filter(name="kraken").update(
        api_secret_encrypted=Fernet(stranger).encrypt(b"x").decode()
    )
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]),
        pytest.raises(CommandError, match="Nothing was"),
    ):
        rotate()
    assert dict(Exchange.objects.values_list("name", "api_key_encrypted")) == before


def test_no_key_configured_is_a_clear_error(exchanges):
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[]),
        pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEYS"),
    ):
        rotate()


def test_a_second_run_refuses_while_one_holds_the_lock(exchanges):
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]),
        other_session_holding_lock("rotate_encryption_keys"),
        pytest.raises(CommandError, match="Another"),
    ):
        rotate()
    assert _readable_with(OLD)
