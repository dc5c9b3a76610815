"""OpenAPI generation: every operation documents the error body; batch endpoints take one item or a list."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

# Documented on every operation: the error body is the same for all of them.
ERROR_STATUSES = {
    "400": "Invalid input: `details` names each field at fault.",
    "401": "No token, or a wrong or revoked one.",
    "403": "The principal may not do this.",
    "404": "No such object (or an unknown cursor/page).",
    "409": "Conflicts with what is recorded (state machine, duplicate id, reused Idempotency-Key).",
    "413": "Body over the size limit, or a list over the item limit.",
    "415": "Body is not application/json.",
    "429": "Rate limit reached: retry after `Retry-After` seconds.",
}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid, not_found, conflict, throttled.")
    message = serializers.CharField(help_text="What went wrong and what to do, for a person or an LLM.")
    details = serializers.DictField(
        help_text="Per-field messages; for a list body, keyed by the failing item's index.",
    )


class ApiSchema(AutoSchema):
    """Adds the error responses, and the one-or-many request body of batch ingestion."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        statuses = dict(ERROR_STATUSES)
        statuses.update(getattr(self.view, "extra_error_statuses", {}))
        if self.method == "GET":
            statuses.pop("413")
            statuses.pop("415")
        for code, description in statuses.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        batch_actions = getattr(self.view, "batch_actions", ())
        if schema and self.method == "POST" and getattr(self.view, "action", None) in batch_actions:
            schema = {
                "oneOf": [
                    schema,
                    {
                        "type": "array",
                        "items": schema,
                        "minItems": 1,
                        "maxItems": settings.API_MAX_BATCH_ITEMS,
                    },
                ]
            }
        return schema, required
