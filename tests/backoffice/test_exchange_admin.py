"""The exchange admin: credentials are write-only, masked at most, encrypted on every save."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.exchanges import crypto
from apps.exchanges.models import Exchange
from apps.exchanges.services import exchange_credentials, exchange_register

KEY = "AKIA-live-key-7f3c9e21b4d8"
SECRET = "live-secret-0c8e2f7a9b6d4e1f"
PASSWORD = "trading-passphrase-5521"

pytestmark = pytest.mark.django_db


@pytest.fixture
def exchange(db) -> Exchange:
    return exchange_register(name="okx", api_key=KEY, api_secret=SECRET, password=PASSWORD)


def _form(**overrides) -> dict:
    data = {"name": "okx", "testnet": "", "is_active": "on", "api_key": "", "api_secret": "", "password": ""}
    data.update(overrides)
    return data


def _assert_no_secret(html: str, exchange: Exchange) -> None:
    for plaintext in (KEY, SECRET, PASSWORD):
        assert plaintext not in html
    # Everything but the key's last four characters stays hidden, the secret's and password's entirely.
    assert KEY[:-4] not in html
    assert SECRET[-4:] not in html and PASSWORD[-4:] not in html
    for column in ("api_key_encrypted", "api_secret_encrypted", "password_encrypted"):
        assert getattr(exchange, column) not in html
    assert "gAAAAA" not in html  # no Fernet token at all


def test_no_page_shows_a_credential(root_client, exchange):
    change_url = reverse("admin:exchanges_exchange_change", args=[exchange.pk])
    # A change through the form, so the history page has an entry to show.
    root_client.post(change_url, _form(api_key="AKIA-rotated-key-000011112222"))
    exchange.refresh_from_db()
    pages = [
        reverse("admin:exchanges_exchange_changelist"),
        change_url,
        reverse("admin:exchanges_exchange_history", args=[exchange.pk]),
        reverse("admin:exchanges_exchange_add"),
        reverse("admin:index"),
    ]
    for url in pages:
        response = root_client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        _assert_no_secret(html, exchange)
        assert "AKIA-rotated-key-0000" not in html
    # What an operator does see: that credentials are set, the key masked to its last four characters.
    change = root_client.get(change_url).content.decode()
    assert "key ••••2222, secret set, password set" in change
    assert "key ••••2222" in root_client.get(pages[0]).content.decode()


def test_a_form_error_does_not_echo_the_typed_key(root_client, db):
    response = root_client.post(
        reverse("admin:exchanges_exchange_add"), _form(name="kraken", api_key=KEY, api_secret="")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Required for a new exchange." in html
    assert KEY not in html


def test_adding_an_exchange_encrypts_its_credentials(root_client, db):
    response = root_client.post(
        reverse("admin:exchanges_exchange_add"),
        _form(name="  Kraken ", api_key=KEY, api_secret=SECRET, password=PASSWORD),
    )
    assert response.status_code == 302
    exchange = Exchange.objects.get()
    assert exchange.name == "kraken"  # ccxt ids are lower case
    assert (exchange.testnet, exchange.is_active) == (False, True)
    raw = Exchange.objects.filter(pk=exchange.pk).values_list(
        "api_key_encrypted", "api_secret_encrypted", "password_encrypted"
    )[0]
    assert KEY not in raw[0] and SECRET not in raw[1] and PASSWORD not in raw[2]
    assert [crypto.decrypt(token) for token in raw] == [KEY, SECRET, PASSWORD]


def test_saving_with_empty_credential_fields_keeps_them(root_client, exchange):
    before = Exchange.objects.get(pk=exchange.pk)
    response = root_client.post(
        reverse("admin:exchanges_exchange_change", args=[exchange.pk]), _form(is_active="")
    )
    assert response.status_code == 302
    after = Exchange.objects.get(pk=exchange.pk)
    assert after.is_active is False
    assert (after.api_key_encrypted, after.api_secret_encrypted, after.password_encrypted) == (
        before.api_key_encrypted,
        before.api_secret_encrypted,
        before.password_encrypted,
    )


def test_a_new_key_replaces_the_old_one_and_the_rest_stays(root_client, exchange):
    secret_token = exchange.api_secret_encrypted
    response = root_client.post(
        reverse("admin:exchanges_exchange_change", args=[exchange.pk]), _form(api_key="AKIA-new-key-99998888")
    )
    assert response.status_code == 302
    exchange.refresh_from_db()
    credentials = exchange_credentials(exchange=exchange)
    assert credentials.api_key == "AKIA-new-key-99998888"
    assert credentials.api_secret == SECRET and credentials.password == PASSWORD
    assert exchange.api_secret_encrypted == secret_token
    assert "AKIA-new-key" not in exchange.api_key_encrypted


@pytest.mark.parametrize("missing", ["api_key", "api_secret"])
def test_a_new_exchange_without_a_key_or_secret_is_refused(root_client, db, missing):
    data = _form(name="bybit", api_key=KEY, api_secret=SECRET)
    data[missing] = "   "
    response = root_client.post(reverse("admin:exchanges_exchange_add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[missing] == ["Required for a new exchange."]
    assert not Exchange.objects.exists()


def test_a_name_already_registered_is_a_form_error(root_client, exchange):
    response = root_client.post(
        reverse("admin:exchanges_exchange_add"), _form(name="OKX", api_key=KEY, api_secret=SECRET)
    )
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors)
    assert Exchange.objects.count() == 1


def test_the_add_form_honours_testnet_and_inactive(root_client, db):
    response = root_client.post(
        reverse("admin:exchanges_exchange_add"),
        _form(name="binance", testnet="on", is_active="", api_key=KEY, api_secret=SECRET),
    )
    assert response.status_code == 302
    exchange = Exchange.objects.get()
    assert (exchange.testnet, exchange.is_active) == (True, False)
    assert exchange.password_encrypted is None
