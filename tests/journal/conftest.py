"""The back-office's fixtures (the world, staff users in each role) and the exchange emulator's, for the
journal's tests."""

from tests.backoffice.conftest import auditor, operator, root_client, superuser, world  # noqa: F401
from tests.reconciliation.conftest import clean_redis, emulated, exchange_emulator  # noqa: F401
