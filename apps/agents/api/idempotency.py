"""`Idempotency-Key` on creates: the first answer is stored with a hash of the request and replayed."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from apps.agents.services import (
    IdempotencyKeyReused,
    idempotency_key_claim,
    idempotency_key_lookup,
    idempotency_key_store,
    idempotency_request_hash,
)
from apps.common.api.exceptions import Conflict

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

# The header as the OpenAPI schema documents it, on every create that honours it.
IDEMPOTENCY_PARAM = OpenApiParameter(
    HEADER,
    str,
    location=OpenApiParameter.HEADER,
    description="A retry with the same key gets the first answer; the same key with another body is a 409.",
)


def idempotent(request, create) -> Response:
    """Run `create()` once per (agent, key); a retry gets the stored answer, another body a 409.

    The key is claimed in the same transaction as the create, so a crash or a refusal leaves no
    key behind (the retry runs afresh), and two concurrent first uses serialise on the key's
    unique index: the second waits, then replays the first's answer.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return create()
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise serializers.ValidationError(
            {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable characters, e.g. a UUID."]}
        )
    agent = request.user
    request_hash = idempotency_request_hash(method=request.method, path=request.path, body=request.data)
    with transaction.atomic():
        try:
            stored = idempotency_key_lookup(agent=agent, key=key, request_hash=request_hash)
            if stored is None and not idempotency_key_claim(
                agent=agent, key=key, method=request.method, path=request.path, request_hash=request_hash
            ):
                stored = idempotency_key_lookup(agent=agent, key=key, request_hash=request_hash)
        except IdempotencyKeyReused as exc:
            raise Conflict(str(exc), code="idempotency_key_reused") from exc
        if stored is not None:
            return Response(
                stored.response_body, status=stored.response_status, headers={REPLAY_HEADER: "true"}
            )
        response = create()
        idempotency_key_store(agent=agent, key=key, status=response.status_code, body=response.data)
    return response
