"""Deployment hardening: `check --deploy` clean under production settings, security headers on every
answer, the image running as a non-root user, and no secret in the logs of a whole run."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import subprocess

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connections

from .servers import FIELD_ENCRYPTION_KEY, PYTHON, REPO, free_port


def _production_env(**extra: str) -> dict[str, str]:
    """Production settings with every required variable set; the servers named are closed loopback
    ports: neither the checks nor the requests below may need them."""
    closed = free_port()
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "tradeoffice.settings.prod",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": FIELD_ENCRYPTION_KEY,
        "DATABASE_URL": f"postgres://tradeoffice@127.0.0.1:{closed}/tradeoffice",
        "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
        "QDRANT_URL": f"http://127.0.0.1:{closed}",
        "DJANGO_ALLOWED_HOSTS": "backoffice.example",
        **extra,
    }


def test_check_deploy_is_clean_under_production_settings():
    result = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="backoffice.example")
answers = {
    "api": client.get("/api/v1/orders/", secure=True),
    "admin": client.get("/admin/", secure=True),
    "plain_http": client.get("/admin/"),
}
summary = {name: {"status": r.status_code, "headers": dict(r.headers)} for name, r in answers.items()}
print(json.dumps(summary))
"""


def test_production_answers_carry_the_security_headers():
    result = subprocess.run(
        [PYTHON, "-c", PROBE], cwd=REPO, env=_production_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])

    assert answers["api"]["status"] == 401 and answers["admin"]["status"] == 302
    assert answers["plain_http"]["status"] == 301  # to https
    assert answers["plain_http"]["headers"]["Location"].startswith("https://")
    for name in ("api", "admin"):
        headers = answers[name]["headers"]
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]


@pytest.mark.django_db
def test_admin_and_api_docs_run_no_inline_script(admin_client, api):
    pages = {
        "login": admin_client.get("/admin/login/"),
        "index": admin_client.get("/admin/"),
        "experiences": admin_client.get("/admin/memory/experience/"),
        "docs": api.get("/api/v1/docs/"),
    }
    script = api.get("/api/v1/docs/?script=")

    for name, response in pages.items():
        assert response.status_code in (200, 302), name
        assert "script-src 'self'" in response["Content-Security-Policy"], name
        html = response.content.decode()
        inline = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]
        assert inline == [], f"{name} has inline scripts the policy would block: {inline}"
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_the_image_runs_as_a_non_root_user():
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    instructions = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    users = [(n, rest[0].split()[0]) for n, (op, *rest) in enumerate(instructions) if op == "USER"]
    copies = [n for n, (op, *_) in enumerate(instructions) if op == "COPY"]

    assert users, "no USER instruction: the image would run as root"
    position, user = users[-1]
    assert user.split(":")[0] not in ("root", "0")
    assert position > max(copies), "USER must come after the last COPY"
    assert instructions[-1][0] == "CMD" and "gunicorn" in instructions[-1][1]


# --- secrets in logs ---------------------------------------------------------------------------------

DEMO_KEY = "demo-key-LOGSCAN-4b1f9e27"
DEMO_SECRET = "demo-secret-LOGSCAN-a93c55d0"
DEMO_PASSWORD = "demo-passphrase-LOGSCAN-77e2"
ADMIN_KEY = "admin-typed-key-LOGSCAN-1c0d"
ADMIN_SECRET = "admin-typed-secret-LOGSCAN-5e6f"


@pytest.mark.django_db
def test_a_whole_run_logs_no_secret(admin_client, memory_stores, monkeypatch, caplog, settings):
    """add_exchange, create_agent, the agent's loop through the API, the admin's pages and a key rotation,
    with every logger at DEBUG (SQL with its parameters included): no key, secret, password or token
    in any log line or any answer."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connections["default"].force_debug_cursor = True  # log every query with its parameters
    try:
        _whole_run(admin_client, monkeypatch, caplog, settings)
    finally:
        connections["default"].force_debug_cursor = False


def _whole_run(admin_client, monkeypatch, caplog, settings) -> None:
    monkeypatch.setenv("EXCHANGE_API_KEY", DEMO_KEY)
    monkeypatch.setenv("EXCHANGE_API_SECRET", DEMO_SECRET)
    monkeypatch.setenv("EXCHANGE_PASSWORD", DEMO_PASSWORD)
    output = io.StringIO()
    call_command("add_exchange", "kraken", stdout=output, stderr=output)
    issued = io.StringIO()
    call_command("create_agent", "log-scan", stdout=issued, stderr=output)
    token = issued.getvalue().strip().splitlines()[-1]
    assert token.startswith("to_")

    from rest_framework.test import APIClient

    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    order = {
        "exchange": "kraken", "id": "log-1", "symbol": "BTC/USD", "side": "buy", "type": "limit",
        "status": "open", "amount": "0.01", "price": "45000", "timestamp": 1_767_225_600_000,
    }  # fmt: skip
    answers = [
        agent.get("/api/v1/health/"),
        agent.get("/api/v1/exchanges/"),
        agent.get("/api/v1/exchanges/kraken/"),
        agent.post("/api/v1/orders/", order, format="json"),
        agent.post(
            "/api/v1/decisions/",
            {
                "id": "d-log",
                "decision_layer": "tactical",
                "input_context": {},
                "thought_process": "t",
                "decision": "d",
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="log-key",
        ),
        agent.post(
            "/api/v1/experiences/",
            {
                "id": "e-log",
                "situation": "s",
                "decision": "d",
                "decision_reasoning": "r",
                "outcome": "success",
            },
            format="json",
        ),
        agent.post("/api/v1/memory/recall/", {"text": "s"}, format="json"),
        agent.put("/api/v1/memory/market-context/", {"symbol": "BTC/USD", "context": {}}, format="json"),
        agent.get("/api/v1/schema/"),
        APIClient().get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Bearer {token}x"),  # a wrong token
    ]
    assert [a.status_code for a in answers[:4]] == [200, 200, 200, 201]
    exchange_id = json.loads(answers[2].content)["id"]
    pages = [
        admin_client.get("/admin/exchanges/exchange/"),
        admin_client.get(f"/admin/exchanges/exchange/{exchange_id}/change/"),
        admin_client.get("/admin/agents/agent/"),
        admin_client.post(
            "/admin/exchanges/exchange/add/",
            {"name": "okx", "api_key": ADMIN_KEY, "api_secret": ADMIN_SECRET, "is_active": "on"},
        ),
        admin_client.post(  # refused (a duplicate name): the form must not echo the typed secret
            "/admin/exchanges/exchange/add/",
            {"name": "okx", "api_key": ADMIN_KEY, "api_secret": ADMIN_SECRET},
        ),
    ]
    assert pages[3].status_code == 302 and pages[4].status_code == 200
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, FIELD_ENCRYPTION_KEY]
    call_command("rotate_encryption_keys", stdout=output, stderr=output)

    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    shown = output.getvalue() + "".join(r.content.decode(errors="replace") for r in answers + pages)
    assert "SELECT" in logged and "INSERT" in logged  # the SQL was logged: the scan saw real traffic
    for secret in (DEMO_KEY, DEMO_SECRET, DEMO_PASSWORD, ADMIN_KEY, ADMIN_SECRET, token, new_key,
                   FIELD_ENCRYPTION_KEY, settings.SECRET_KEY):  # fmt: skip
        assert secret not in logged, "a secret reached the logs"
        assert secret not in shown, "a secret reached an answer or a command's output"
