"""Agent principals: creating and revoking them, checking tokens, idempotency keys, attributing writes."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import Agent, AgentWrite, IdempotencyKey, WriteAction

TOKEN_PREFIX = "to_"  # noqa: S105 - a label that makes leaked tokens easy to spot, not a secret
# 32 random bytes: far beyond guessing, so one unsalted SHA-256 is enough to store it safely.
TOKEN_BYTES = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "The agent's name must not be empty."})
    if len(name) > 100:
        raise ValidationError({"name": "The agent's name must be at most 100 characters."})
    return name


@dataclass(frozen=True)
class IssuedToken:
    """An agent and its plaintext token, which exists only here and is never stored."""

    agent: Agent
    token: str

    def __repr__(self) -> str:
        return f"IssuedToken(agent={self.agent.name!r}, token='••••')"

    __str__ = __repr__


@transaction.atomic
def agent_create(*, name: str) -> IssuedToken:
    """Create an agent and return its token (shown once; only its digest is kept)."""
    name = _clean_name(name)
    token = _new_token()
    agent = Agent(name=name, token_digest=token_digest(token))
    try:
        with transaction.atomic():
            agent.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationError(
            {"name": f"An agent named {name!r} already exists; use --rotate to issue it a new token."}
        ) from exc
    agent.refresh_from_db(fields=["created_at"])
    return IssuedToken(agent=agent, token=token)


@transaction.atomic
def agent_rotate_token(*, name: str) -> IssuedToken:
    """Give an existing agent a new token; the old one stops working at once. Un-revokes it."""
    name = _clean_name(name)
    agent = Agent.objects.select_for_update().filter(name=name).first()
    if agent is None:
        raise ValidationError({"name": f"No agent named {name!r}."})
    token = _new_token()
    agent.token_digest = token_digest(token)
    agent.revoked_at = None
    agent.save(update_fields=["token_digest", "revoked_at"])
    return IssuedToken(agent=agent, token=token)


@transaction.atomic
def agent_revoke(*, name: str) -> Agent:
    """Revoke an agent's token: every request with it is refused from now on. Idempotent."""
    name = _clean_name(name)
    agent = Agent.objects.select_for_update().filter(name=name).first()
    if agent is None:
        raise ValidationError({"name": f"No agent named {name!r}."})
    if agent.revoked_at is None:
        agent.revoked_at = timezone.now()
        agent.save(update_fields=["revoked_at"])
    return agent


def agent_authenticate(*, token: str) -> Agent | None:
    """The active agent holding `token`, or None. Marks it used (at most once a minute)."""
    if not token or len(token) > 200:
        return None
    digest = token_digest(token)
    agent = Agent.objects.filter(token_digest=digest, revoked_at__isnull=True).first()
    # The lookup is by digest, so timing reveals nothing about the token; the constant-time
    # comparison keeps it that way should the lookup ever become a prefix or a scan.
    if agent is None or not hmac.compare_digest(agent.token_digest, digest):
        return None
    now = timezone.now()
    if agent.last_used_at is None or now - agent.last_used_at >= LAST_USED_RESOLUTION:
        Agent.objects.filter(pk=agent.pk).update(last_used_at=now)
        agent.last_used_at = now
    return agent


def agent_writes_record(
    *,
    agent: Agent | None,
    resource: str,
    action: WriteAction | str,
    object_ids: Iterable[Any],
) -> int:
    """Attribute rows to the agent that wrote them (one insert for the whole batch)."""
    if agent is None:
        return 0
    # The database's clock, read once, as the column's default would read it: with no DEFAULT left in
    # the rows Django sends a batch as arrays (UNNEST), not one placeholder per value.
    with connection.cursor() as cursor:
        cursor.execute("SELECT STATEMENT_TIMESTAMP()")
        (now,) = cursor.fetchone()
    rows = [
        AgentWrite(
            agent=agent,
            resource=resource,
            object_id=str(object_id),
            action=WriteAction(action),
            created_at=now,
        )
        for object_id in object_ids
    ]
    AgentWrite.objects.bulk_create(rows)
    return len(rows)


# --- idempotency keys ---------------------------------------------------------------------------


class IdempotencyKeyReused(Exception):
    """The key was first used with another request (a different body, path or method)."""


def idempotency_request_hash(*, method: str, path: str, body: Any) -> str:
    canonical = json.dumps(
        [method.upper(), path, body],
        sort_keys=True,
        separators=(",", ":"),
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_lookup(*, agent: Agent, key: str, request_hash: str) -> IdempotencyKey | None:
    """The stored answer for `key`, locked until the transaction ends; None if the key is new.

    Must run inside a transaction. A concurrent first use of the same key makes this wait for it
    (the unique index), so a retry racing the original still gets the original's answer.
    """
    stored = IdempotencyKey.objects.select_for_update().filter(agent=agent, key=key).first()
    if stored is not None and not hmac.compare_digest(stored.request_hash, request_hash):
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was first used with a different request; "
            "use a new key for a new request."
        )
    return stored


def idempotency_key_claim(*, agent: Agent, key: str, method: str, path: str, request_hash: str) -> bool:
    """Reserve `key` in the current transaction. False if another request holds it (now committed)."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                agent=agent,
                key=key,
                request_method=method.upper(),
                request_path=path[:255],
                request_hash=request_hash,
                response_status=0,
                response_body={},
            )
    except IntegrityError:
        return False
    return True


def idempotency_key_store(*, agent: Agent, key: str, status: int, body: Any) -> None:
    """Keep the first answer for `key` (claimed earlier in the same transaction)."""
    IdempotencyKey.objects.filter(agent=agent, key=key).update(response_status=status, response_body=body)


def idempotency_keys_purge(*, older_than: timedelta) -> int:
    """Forget keys older than `older_than`; a retry after that is treated as a new request."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
