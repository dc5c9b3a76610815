"""The base of the API's collections of records keyed by text ids (exchange and agent ids)."""

from rest_framework import viewsets

from .pagination import DatetimeCursorPagination


class RecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Read endpoints of a large, time-ordered table whose primary key is the exchange's or agent's id.

    Cursor pagination on `datetime` (stable under inserts, no COUNT), and ids matched up to the next
    slash, since exchange ids may hold dots and dashes.
    """

    pagination_class = DatetimeCursorPagination
    lookup_value_regex = "[^/]+"
