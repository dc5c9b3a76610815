"""psycopg's connection pool behind DATABASE_POOL: Django lends pooled connections that really work."""

import pytest
from django.db import connection, connections

from tradeoffice.connections import pool_options, with_pool


@pytest.fixture
def pooled(django_db_setup, django_db_blocker):
    """A second alias for this run's test database, through a pool of at most two connections. Outside
    a test transaction: the pool's connections are its own, opened as a deployment would open them."""
    with django_db_blocker.unblock():
        connections.settings["pooled"] = with_pool(
            dict(connection.settings_dict), pool_options(min_size=0, max_size=2, timeout=5)
        )
        wrapper = connections["pooled"]
        try:
            yield wrapper
        finally:
            wrapper.close()
            wrapper.close_pool()
            del connections["pooled"]
            del connections.settings["pooled"]


def test_a_pooled_connection_runs_queries_and_goes_back_to_the_pool(pooled):
    with pooled.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone()[0] == connection.settings_dict["NAME"]
    pool = pooled.pool
    assert type(pool).__name__ == "ConnectionPool"
    assert pool.max_size == 2
    assert pool.get_stats()["pool_size"] >= 1

    pooled.close()  # the connection goes back to the pool, open, instead of being closed

    assert pool.get_stats()["pool_available"] >= 1
    with pooled.cursor() as cursor:  # and the next request borrows it again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert pool.get_stats().get("connections_num", 1) <= 2
