"""The journal's pages: stats by setup (tag, symbol, strategy version, model, layer, weekday, hour,
holding time), daily/weekly/monthly tables and the calendar of daily PnL (apps/journal/selectors/stats.py)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Max, Min
from django.template.response import TemplateResponse
from django.urls import reverse

from apps.journal.admin_filters import LINK_PARAMETERS
from apps.journal.selectors import stats
from apps.memory.models import Experience

SORT_LABELS = {
    "key": "group", "count": "count", "win_rate": "win rate", "total_pnl": "total PnL",
    "average_pnl": "average PnL", "average_r": "average R", "profit_factor": "profit factor",
}  # fmt: skip
FILL = "manage.py seed_demo"


class BadParameter(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _date(request, field: str) -> date | None:
    raw = (request.GET.get(field) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(field, f"{field} must be a date as YYYY-MM-DD, not “{raw}”.") from None


def _choice(request, field: str, choices, default: str) -> str:
    value = request.GET.get(field) or default
    if value not in choices:
        raise BadParameter(field, f"{field} must be one of: {', '.join(choices)}; not “{value}”.")
    return value


def _check(request) -> None:
    if not request.user.has_perm("memory.view_experience"):
        raise PermissionDenied


def _covered() -> dict:
    """The first and last result on record, for the empty states and the default ranges."""
    return Experience.objects.aggregate(first=Min("datetime"), last=Max("datetime"))


def _page(request, template: str, context: dict, status: int = 200):
    covered = _covered()
    base = {
        **admin.site.each_context(request),
        "covered": covered,
        "fill_command": FILL,
        "experiences_url": reverse("admin:memory_experience_changelist"),
    }
    return TemplateResponse(request, template, {**base, **context}, status=status)


def stats_view(request):
    _check(request)
    try:
        dimension = _choice(request, "by", stats.DIMENSIONS, "tag")
        sort = _choice(request, "sort", stats.SORTS, "total_pnl")
        direction = _choice(request, "dir", ("asc", "desc"), "desc")
        since, until = _date(request, "since"), _date(request, "until")
    except BadParameter as error:
        return _page(
            request,
            "admin/backoffice/journal_stats.html",
            {"title": "Stats by setup", "error": error, "dimensions": stats.DIMENSIONS},
            status=400,
        )
    rows = stats.stats_by(
        dimension=dimension, since=since, until=until, sort=sort, descending=direction == "desc"
    )
    base = {"by": dimension, "since": since or "", "until": until or ""}
    dated = {}
    if since:
        dated["datetime__gte"] = since.isoformat()
    if until:
        dated["datetime__lt"] = (until + timedelta(days=1)).isoformat()
    changelist = reverse("admin:memory_experience_changelist")
    links = [_link(changelist, dimension, row, dated) for row in rows]
    columns = []
    for key, label in SORT_LABELS.items():
        flip = "asc" if sort == key and direction == "desc" else "desc"
        columns.append(
            {
                "key": key,
                "label": label,
                "url": "?" + urlencode({**{k: v for k, v in base.items() if v}, "sort": key, "dir": flip}),
                "sorted": direction if sort == key else "",
                "numeric": key != "key",
            }
        )
    tabs = [
        (key, label, "?" + urlencode({**{k: v for k, v in base.items() if v}, "by": key}))
        for key, (label, _, _) in stats.DIMENSIONS.items()
    ]
    return _page(
        request,
        "admin/backoffice/journal_stats.html",
        {
            "title": "Stats by setup",
            "dimension": dimension,
            "dimension_label": stats.DIMENSIONS[dimension][0],
            "tabs": tabs,
            "columns": columns,
            "rows": list(zip(rows, links, strict=True)),
            "since": since,
            "until": until,
            "sort": sort,
            "direction": direction,
        },
    )


def _link(changelist: str, dimension: str, row, dated: dict) -> str | None:
    if row.key is None:
        return None
    return f"{changelist}?{urlencode({LINK_PARAMETERS[dimension]: row.key, **dated})}"


def calendar_view(request):
    _check(request)
    covered = _covered()
    try:
        period = _choice(request, "period", stats.PERIODS, "day")
        since, until = _date(request, "since"), _date(request, "until")
    except BadParameter as error:
        return _page(
            request, "admin/backoffice/journal_calendar.html", {"title": "Calendar", "error": error}, 400
        )
    last = until or (covered["last"].date() if covered["last"] else date.today())
    first = since or max(
        covered["first"].date() if covered["first"] else last,
        date(last.year - 1, last.month, 1) + timedelta(days=31),
    )
    first = date(first.year, first.month, 1)
    months, scale = stats.calendar(since=first, until=last)
    return _page(
        request,
        "admin/backoffice/journal_calendar.html",
        {
            "title": "Calendar and periods",
            "period": period,
            "periods": stats.PERIODS,
            "rows": stats.stats_by_period(period=period, since=first, until=last),
            "months": months,
            "scale": scale,
            "since": first,
            "until": last,
        },
    )
