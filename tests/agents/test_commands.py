"""create_agent prints the token once as its last line; revoke_agent turns it off."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from apps.agents.models import Agent

pytestmark = pytest.mark.django_db


def _run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_create_agent_prints_a_working_token_as_the_last_line():
    lines = _run("create_agent", "btc-swing")

    token = lines[-1]
    assert "shown only this once" in lines[-2]
    assert _client(token).get("/api/v1/exchanges/").status_code == 200
    assert token not in Agent.objects.get(name="btc-swing").token_digest


def test_the_token_is_printed_even_when_quiet():
    lines = _run("create_agent", "btc-swing", "--verbosity", "0")

    assert len(lines) == 1 and lines[0].startswith("to_")


def test_revoke_agent_makes_the_token_fail():
    token = _run("create_agent", "btc-swing")[-1]

    lines = _run("revoke_agent", "btc-swing")

    assert "revoked" in lines[-1]
    response = _client(token).get("/api/v1/exchanges/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_rotate_issues_a_new_token_and_the_old_one_stops_working():
    old = _run("create_agent", "btc-swing")[-1]

    new = _run("create_agent", "btc-swing", "--rotate")[-1]

    assert new != old
    assert _client(old).get("/api/v1/exchanges/").status_code == 401
    assert _client(new).get("/api/v1/exchanges/").status_code == 200


def test_duplicate_and_unknown_names_fail_with_what_to_do():
    _run("create_agent", "btc-swing")

    with pytest.raises(CommandError, match="--rotate"):
        call_command("create_agent", "btc-swing", stdout=StringIO())
    with pytest.raises(CommandError, match="No agent named"):
        call_command("revoke_agent", "nobody", stdout=StringIO())
    assert Agent.objects.count() == 1
