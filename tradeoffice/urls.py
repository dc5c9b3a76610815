"""URL configuration: the admin under DJANGO_ADMIN_URL."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

admin.site.site_header = "TradeOffice"
admin.site.site_title = "TradeOffice"
admin.site.index_title = "Back-office"

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
]
