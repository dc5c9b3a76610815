"""Fixtures for the tests that drive real ccxt against the exchange emulator on loopback."""

import pytest

from tests.reconciliation.emulator import EmulatorServer


@pytest.fixture
def exchange_emulator():
    """A started EmulatorServer with no accounts yet (add them with add_account), closed afterwards."""
    with EmulatorServer() as server:
        yield server
