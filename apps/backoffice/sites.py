"""The admin site: Django's, plus the dashboard page and a limit on sign-in attempts."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import path
from django.utils.html import escape

from apps.common.attempts import attempt_hit, client_address

TOO_MANY_ATTEMPTS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TradeOffice: too many sign-in attempts</title></head>
<body><h1>Too many sign-in attempts</h1>
<p>Too many attempts to sign in as this user or from this address. Try again in {minutes} minute(s).</p>
<p><a href="{login_url}">Back to the sign-in page</a></p></body></html>
"""


class BackofficeSite(admin.AdminSite):
    site_header = "TradeOffice"
    site_title = "TradeOffice"
    index_title = "Back-office"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin's form saves and deletions are also system events naming the user (audit.py)."""
        from django.contrib.admin import ModelAdmin

        from .audit import audited

        return super().register(model_or_iterable, audited(admin_class or ModelAdmin), **options)

    def get_urls(self):
        from .journal_views import calendar_view, stats_view
        from .tearsheets import tearsheet_view
        from .views import dashboard

        return [
            path("dashboard/", self.admin_view(dashboard), name="dashboard"),
            path("journal/stats/", self.admin_view(stats_view), name="journal_stats"),
            path("journal/calendar/", self.admin_view(calendar_view), name="journal_calendar"),
            path("tearsheet/<int:strategy_id>/", self.admin_view(tearsheet_view), name="tearsheet"),
            *super().get_urls(),
        ]

    def login(self, request, extra_context=None):
        """Django's sign-in, behind a limit per username and per client address (brute force)."""
        if request.method == "POST":
            refused = self._sign_in_refused(request)
            if refused is not None:
                return refused
        return super().login(request, extra_context)

    @staticmethod
    def _sign_in_refused(request) -> HttpResponse | None:
        window = settings.ADMIN_LOGIN_WINDOW_SECONDS
        username = (request.POST.get("username") or "").strip().lower()
        checks = [
            ("admin-login-address", client_address(request), settings.ADMIN_LOGIN_ATTEMPTS_PER_ADDRESS),
            ("admin-login-user", username, settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME),
        ]
        # Both windows count every attempt, so a refusal on one still spends the other.
        decisions = [
            attempt_hit(scope=scope, subject=subject, limit=limit, window=window)
            for scope, subject, limit in checks
        ]
        refused = [d for d in decisions if not d.allowed]
        if not refused:
            return None
        wait = max(d.retry_after for d in refused)
        response = HttpResponse(
            TOO_MANY_ATTEMPTS_PAGE.format(minutes=-(-wait // 60), login_url=escape(request.get_full_path())),
            status=429,
            content_type="text/html; charset=utf-8",
        )
        response["Retry-After"] = str(wait)
        return response
