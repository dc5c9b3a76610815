"""Filters shared by the API's filter sets."""

from datetime import UTC

import django_filters
from rest_framework.exceptions import ValidationError


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 moment, compared in UTC.

    Python accepts offsets up to ±23:59 and PostgreSQL only up to ±15:59, so the value is moved
    to UTC before it reaches the database; a moment that leaves the calendar there is a 400.
    """

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except (OverflowError, ValueError):
                raise ValidationError({self.field_name: ["The moment is out of range."]}) from None
        return super().filter(qs, value)
