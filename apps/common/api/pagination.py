"""Pagination: cursors on the large, time-ordered tables; numbered pages on the small ones."""

from django.conf import settings
from rest_framework.pagination import CursorPagination, PageNumberPagination


class DatetimeCursorPagination(CursorPagination):
    """Newest first by `datetime`; a cursor stays valid while rows are added (no COUNT, no OFFSET scan)."""

    ordering = ("-datetime", "-pk")
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE


class NumberedPagination(PageNumberPagination):
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
