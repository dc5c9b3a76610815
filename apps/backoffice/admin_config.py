"""django.contrib.admin with TradeOffice's site (dashboard URL, titles) as the default site."""

from django.contrib.admin.apps import AdminConfig


class BackofficeAdminConfig(AdminConfig):
    default_site = "apps.backoffice.sites.BackofficeSite"
