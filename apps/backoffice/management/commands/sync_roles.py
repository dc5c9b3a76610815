"""manage.py sync_roles: refresh the operators and auditors groups' permissions (after new models)."""

from apps.backoffice.roles import roles_sync
from apps.common.commands import MaintenanceCommand


class Command(MaintenanceCommand):
    help = "Create or refresh the operators and auditors groups with the permissions of every current model."
    supports_dry_run = True

    def run(self, **options) -> str:
        counts = roles_sync()
        return (
            f"Roles in place: operators with {counts['operators']} permissions, "
            f"auditors with {counts['auditors']}."
        )
