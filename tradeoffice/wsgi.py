"""WSGI entry point (gunicorn tradeoffice.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeoffice.settings.prod")

application = get_wsgi_application()
