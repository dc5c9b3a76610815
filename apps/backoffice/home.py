"""The site's home page (the admin's "View site"): where the back-office, the API and its docs are."""

from django.conf import settings
from django.template.response import TemplateResponse


def home(request):
    return TemplateResponse(request, "home.html", {"admin_url": "/" + settings.ADMIN_URL.lstrip("/")})
