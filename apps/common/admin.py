"""Admin building blocks shared by every app: read-only records, pretty JSON, fast pagination, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min, Q, QuerySet
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
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


def change_url(model: str, pk) -> str:
    """The admin page of one record; `model` is "<app_label>_<model_name>". The id is escaped as the admin
    reads it back ("_" and two hex digits for its special characters), so a free-text id opens its record."""
    return reverse(f"admin:{model}_change", args=[quote(pk)])


def change_link(model: str, pk, text=None) -> str:
    """A link to the record's admin page, showing `text` (its id by default); a dash when there is no id."""
    if pk in (None, ""):
        return "—"
    return format_html('<a href="{}">{}</a>', change_url(model, pk), text or pk)


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


def _periods(first: dt.date, last: dt.date, kind: str) -> list[dt.date]:
    """Every year, month or day from `first` to `last`, each as the date it starts on."""
    if kind == "year":
        return [dt.date(year, 1, 1) for year in range(first.year, last.year + 1)]
    if kind == "month":
        months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
        return [dt.date(m // 12, m % 12 + 1, 1) for m in months]
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


class PeriodsFromRangeQuerySet(QuerySet):
    """dates()/datetimes() answered from MIN and MAX, two index probes, instead of a DISTINCT over
    every matching row (a full scan of a million-row table on each changelist view).

    The admin's date hierarchy is their only caller: it lists every period between the first and
    the last row, so a period without rows can appear (its link shows an empty page).
    """

    def _range(self, field_name: str):
        bounds = self.order_by().aggregate(first=Min(field_name), last=Max(field_name))
        return bounds["first"], bounds["last"]

    def dates(self, field_name, kind, order="ASC"):
        first, last = self._range(field_name)
        if first is None:
            return []
        periods = _periods(first, last, kind)
        return periods[::-1] if order == "DESC" else periods

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        first, last = self._range(field_name)
        if first is None:
            return []
        zone = tzinfo or timezone.get_current_timezone()
        first, last = timezone.localtime(first, zone).date(), timezone.localtime(last, zone).date()
        periods = [dt.datetime.combine(day, dt.time.min, tzinfo=zone) for day in _periods(first, last, kind)]
        return periods[::-1] if order == "DESC" else periods


class LargeTableChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        if type(queryset) is QuerySet:
            queryset.__class__ = PeriodsFromRangeQuerySet
        return queryset


class LargeTableAdmin(admin.ModelAdmin):
    """Changelist settings for tables that reach millions of rows.

    The row count is estimated (EstimatedCountPaginator) and the date hierarchy is read from the
    first and last rows (PeriodsFromRangeQuerySet): neither scans the table. Search is by exact
    value on indexed columns (`exact_search_fields`), so it uses the btree indexes: Django's default
    icontains search would scan the whole table. A term that looks like a symbol ("btc/usdt") is
    upper-cased for the `symbol` column.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts ("Show counts") are a COUNT per filter choice over every row.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    exact_search_fields: tuple[str, ...] = ()

    def get_changelist(self, request, **kwargs):
        # The date hierarchy without a DISTINCT over the whole table (see PeriodsFromRangeQuerySet).
        return LargeTableChangeList

    def exact_search_values(self, term: str) -> dict[str, str]:
        """Each exact search field and the value the term is looked up as in it."""
        term = term.strip()
        return {
            field: term.upper() if field.endswith("symbol") else term for field in self.exact_search_fields
        }

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip() or not self.exact_search_fields:
            return super().get_search_results(request, queryset, search_term)
        condition = Q()
        for field, value in self.exact_search_values(search_term).items():
            condition |= Q(**{field: value})
        return queryset.filter(condition), False


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


# Cells starting with these are formulas to a spreadsheet: text from agents must not run as one.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# A list of words or sentences (tags, lessons, tools) reads as plain text in a spreadsheet cell.
LIST_SEPARATOR = "; "


def _cell(value):
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = LIST_SEPARATOR.join(value)
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
