"""The back-office's fixtures (the world, staff users in each role) for the journal's tests."""

from tests.backoffice.conftest import auditor, operator, root_client, superuser, world  # noqa: F401
