"""Batch ingestion: one object or a list of up to API_MAX_BATCH_ITEMS, all or nothing, per-item errors.

Each endpoint supplies an input serializer (which may rename ccxt's camelCase keys first) and a
write function that calls its service. Items are validated together, then written in one
transaction, each in a savepoint so every item's refusal is reported, not just the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.agents.services import agent_writes_record
from apps.common.api.exceptions import (
    ApiError,
    Conflict,
    PayloadTooLarge,
    first_message,
    plain_details,
    under_sent_keys,
)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Written:
    """What a write function returns: the row, and whether it was created, updated or unchanged."""

    obj: Any
    outcome: str


def ingest_result_schema(name: str, item_serializer) -> PolymorphicProxySerializer:
    """The OpenAPI answer of an ingest endpoint: one item as its serializer, or a batch's result."""
    batch = type(
        f"{name}BatchResult",
        (BatchResultSerializer,),
        {"results": item_serializer(many=True, read_only=True)},
    )
    return PolymorphicProxySerializer(
        component_name=f"{name}IngestResult",
        serializers=[item_serializer, batch],
        resource_type_field_name=None,
    )


class IngestSerializer(serializers.Serializer):
    """Base for batch input serializers. `aliases` maps a seed field to the ccxt key it may come as."""

    aliases: dict[str, str] = {}

    @classmethod
    def normalise(cls, item: dict) -> tuple[dict, dict[str, str]]:
        """ccxt's keys to the seed's; returns the item and {seed_field: key_the_client_used}."""
        item = dict(item)
        used = {}
        for field, alias in cls.aliases.items():
            if alias in item:
                value = item.pop(alias)
                if item.get(field) is None:
                    item[field] = value
                    used[field] = alias
        return item, used

    @classmethod
    def prepare_context(cls, items: list[dict], context: dict) -> None:
        """Load what validation looks up (exchanges, decisions) once for the whole batch."""


def ingest(
    *,
    request,
    input_serializer: type[IngestSerializer],
    output_serializer: type[serializers.Serializer],
    write: Callable[[dict], Written],
    resource: str,
    write_many: Callable[[list[dict]], list[Written | Exception]] | None = None,
    conflicts: tuple[type[Exception], ...] = (),
    label: str = "item",
    context: dict | None = None,
) -> Response:
    body = request.data
    many = isinstance(body, list)
    if not many and not isinstance(body, dict):
        raise ApiError(f"Expected a JSON object (one {label}) or a list of them.", code="invalid")
    items = body if many else [body]
    limit = settings.API_MAX_BATCH_ITEMS
    if many and not items:
        raise ApiError(f"The list is empty: send at least one {label}.", code="invalid")
    if len(items) > limit:
        raise PayloadTooLarge(
            f"{len(items)} {label}s in one request; the limit is {limit}. Split the list.",
            code="too_many_items",
        )

    errors: dict[int, Any] = {}
    normalised, aliases_used = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[index] = {"non_field_errors": [f"Expected a JSON object (one {label})."]}
            normalised.append({})
            aliases_used.append({})
            continue
        data, used = input_serializer.normalise(item)
        normalised.append(data)
        aliases_used.append(used)

    context = {
        **(context or {}),
        "request": request,
        "view": getattr(request, "parser_context", {}).get("view"),
    }
    input_serializer.prepare_context([n for n in normalised if n], context)
    validated: list[dict | None] = []
    # One serializer validates every item: building one per item deep-copies all its fields each time,
    # which was most of the cost of a 1,000-item list. run_validation is what is_valid() runs.
    serializer = input_serializer(context=context)
    for index, data in enumerate(normalised):
        if index in errors:
            validated.append(None)
            continue
        try:
            validated.append(serializer.run_validation(data))
        except serializers.ValidationError as exc:
            errors[index] = under_sent_keys(serializers.as_serializer_error(exc), aliases_used[index])
            validated.append(None)
    if errors:
        _raise_item_errors(errors, many=many, total=len(items), label=label, status_code=400)

    written: list[Written] = []
    conflict_errors: dict[int, Any] = {}
    invalid_errors: dict[int, Any] = {}

    def refused(index: int, exc: Exception) -> None:
        if isinstance(exc, DjangoValidationError):
            details = plain_details(serializers.as_serializer_error(exc))
            invalid_errors[index] = under_sent_keys(details, aliases_used[index])
        elif isinstance(exc, conflicts):
            field = getattr(exc, "field", None) or "non_field_errors"
            conflict_errors[index] = {aliases_used[index].get(field, field): [str(exc)]}
        else:
            raise exc

    with transaction.atomic():
        if many and write_many is not None:
            # The whole list in one call: a fixed number of queries, every refusal still reported.
            for index, outcome in enumerate(write_many(validated)):
                if isinstance(outcome, Exception):
                    refused(index, outcome)
                else:
                    written.append(outcome)
        else:
            for index, data in enumerate(validated):
                try:
                    # A savepoint per item only when there are several: one item's failure rolls back all.
                    with transaction.atomic(savepoint=many):
                        written.append(write(data))
                except (DjangoValidationError, *conflicts) as exc:
                    refused(index, exc)
        if invalid_errors:
            _raise_item_errors(invalid_errors, many=many, total=len(items), label=label, status_code=400)
        if conflict_errors:
            _raise_item_errors(conflict_errors, many=many, total=len(items), label=label, status_code=409)

        by_outcome: dict[str, list] = {}
        for item in written:
            by_outcome.setdefault(item.outcome, []).append(item.obj.pk)
        for outcome in (CREATED, UPDATED):
            if by_outcome.get(outcome):
                agent_writes_record(
                    agent=request.user, resource=resource, action=outcome, object_ids=by_outcome[outcome]
                )

    counts = Counter(item.outcome for item in written)
    code = status.HTTP_201_CREATED if counts[CREATED] else status.HTTP_200_OK
    out_context = {"request": request}
    if not many:
        return Response(output_serializer(written[0].obj, context=out_context).data, status=code)
    return Response(
        {
            CREATED: counts[CREATED],
            UPDATED: counts[UPDATED],
            UNCHANGED: counts[UNCHANGED],
            "results": output_serializer([w.obj for w in written], many=True, context=out_context).data,
        },
        status=code,
    )


def _raise_item_errors(errors: dict[int, Any], *, many: bool, total: int, label: str, status_code: int):
    error_class = Conflict if status_code == 409 else ApiError
    code = "conflict" if status_code == 409 else "invalid"
    if not many:
        details = errors[0] if isinstance(errors[0], dict) else {"non_field_errors": errors[0]}
        first = first_message(details) or "refused"
        what = "Conflict" if status_code == 409 else "Invalid input"
        raise error_class(f"{what}: {first}", code=code, details=details)
    first_index = min(errors)
    first = first_message(errors[first_index]) or "refused"
    raise error_class(
        f"{len(errors)} of {total} {label}s refused; nothing was recorded. "
        f"First, item {first_index}: {first}",
        code=code,
        details={str(index): value for index, value in sorted(errors.items())},
    )


class BatchResultSerializer(serializers.Serializer):
    """The answer to a list body (documentation only)."""

    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
