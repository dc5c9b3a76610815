"""manage.py ensure_dev_login: the development superuser admin/admin, refused outside DEBUG."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand

USERNAME = "admin"
PASSWORD = "admin"  # noqa: S105 - a development login on 127.0.0.1 only, refused when DEBUG is off


class Command(MaintenanceCommand):
    help = "Create the development login admin/admin if it does not exist (DEBUG only)."

    def run(self, **options) -> str:
        if not settings.DEBUG:
            raise CommandError(
                "ensure_dev_login only runs with DEBUG on; create real users with createsuperuser."
            )
        user_model = get_user_model()
        if user_model.objects.filter(username=USERNAME).exists():
            return f"Development login {USERNAME!r} already exists."
        user_model.objects.create_superuser(username=USERNAME, email="admin@localhost", password=PASSWORD)
        return f"Development login {USERNAME!r} created."
