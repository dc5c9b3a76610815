"""The admin site: Django's, plus the dashboard page."""

from django.contrib import admin
from django.urls import path


class BackofficeSite(admin.AdminSite):
    site_header = "TradeOffice"
    site_title = "TradeOffice"
    index_title = "Back-office"

    def get_urls(self):
        from .views import dashboard

        return [
            path("dashboard/", self.admin_view(dashboard), name="dashboard"),
            *super().get_urls(),
        ]
