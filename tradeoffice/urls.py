"""URL configuration: the admin under DJANGO_ADMIN_URL."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from apps.backoffice.home import home

# PostgreSQL lost outside a view (e.g. while saving a session) is a 503 too, not a 500.
handler500 = "apps.common.middleware.server_error"

urlpatterns = [
    path("", home, name="home"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("api/v1/", include("tradeoffice.api")),
]
