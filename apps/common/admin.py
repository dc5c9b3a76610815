"""Admin building blocks shared by every app: read-only records, pretty JSON, fast pagination, CSV export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.utils.functional import cached_property
from django.utils.html import format_html

# A filtered changelist counts at most this many rows exactly; past it the count is an estimate.
EXACT_COUNT_LIMIT = 10_000


def pretty_json(value) -> str:
    """JSON as an indented, escaped <pre> block (the template engine never sees raw markup)."""
    if value in (None, "", [], {}):
        return "—"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre class="json">{}</pre>', text)


class EstimatedCountPaginator(Paginator):
    """A paginator that never COUNT(*)s a whole large table.

    Unfiltered: PostgreSQL's planner estimate (pg_class.reltuples, kept by ANALYZE/autovacuum).
    Filtered: an exact count capped at EXACT_COUNT_LIMIT + 1 rows, so a broad filter stays cheap.
    """

    @cached_property
    def count(self) -> int:
        query = self.object_list.query
        if not query.where:
            estimate = self._estimate(self.object_list.model._meta.db_table, self.object_list.db)
            if estimate is not None and estimate > EXACT_COUNT_LIMIT:
                return estimate
        return self.object_list.order_by()[: EXACT_COUNT_LIMIT + 1].count()

    @staticmethod
    def _estimate(table: str, using: str) -> int | None:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table])
            row = cursor.fetchone()
        if row is None or row[0] is None or row[0] < 0:  # -1: never analyzed
            return None
        return int(row[0])


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that come from exchanges or agents: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class LargeTableAdmin(admin.ModelAdmin):
    """Changelist settings for tables that reach millions of rows.

    Search is by exact value on indexed columns (`exact_search_fields`), so it uses the btree
    indexes: Django's default icontains search would scan the whole table. A term that looks like
    a symbol ("btc/usdt") is upper-cased for the `symbol` column.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    exact_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or not self.exact_search_fields:
            return super().get_search_results(request, queryset, search_term)
        condition = Q()
        for field in self.exact_search_fields:
            condition |= Q(**{field: term.upper() if field.endswith("symbol") else term})
        return queryset.filter(condition), False


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


# Cells starting with these are formulas to a spreadsheet: text from agents must not run as one.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def stream_csv(rows: Iterable[Iterable], *, header: list[str]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def export_as_csv_action(fields: list[str], *, filename: str):
    """An admin action that streams the selected rows as CSV (server-side cursor, constant memory)."""

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_as_csv(modeladmin, request, queryset):
        rows = queryset.order_by().values_list(*fields).iterator(chunk_size=2000)
        response = StreamingHttpResponse(stream_csv(rows, header=fields), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response

    return export_as_csv
