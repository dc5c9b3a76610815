"""The read replica router: which reads go to the replica (the admin's changelists and the API's list
endpoints, on GET) and which never do (writes, other apps, reads inside a transaction)."""

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import RequestFactory

from apps.execution.models import Order, Trade
from tradeoffice.db_routers import REPLICA, ReplicaReadsMiddleware, ReplicaRouter, replica_reads

# Only the router reads the overridden DATABASES here; no connection is opened to the extra alias.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")


@pytest.fixture
def with_replica(settings):
    """A replica alias in the settings and the router installed (no query is sent: only routing)."""
    settings.DATABASES = {**settings.DATABASES, REPLICA: {**settings.DATABASES["default"]}}
    settings.DATABASE_ROUTERS = ["tradeoffice.db_routers.ReplicaRouter"]


def test_reads_of_the_record_go_to_the_replica_only_inside_replica_reads(with_replica):
    router = ReplicaRouter()
    assert router.db_for_read(Order) == "default"
    with replica_reads():
        assert router.db_for_read(Order) == REPLICA
        assert Trade.objects.filter(symbol="BTC/USDT").db == REPLICA
        assert router.db_for_write(Order) == "default"
        assert router.db_for_read(User) == "default"  # users, sessions, tokens: always the primary
    assert Trade.objects.all().db == "default"


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_stay_on_the_primary(with_replica):
    with replica_reads(), transaction.atomic():
        assert ReplicaRouter().db_for_read(Order) == "default"


def test_without_a_replica_nothing_is_routed_there(settings):
    settings.DATABASES = {"default": settings.DATABASES["default"]}
    with replica_reads():
        assert ReplicaRouter().db_for_read(Order) == "default"


def test_only_the_primary_is_migrated():
    router = ReplicaRouter()
    assert router.allow_migrate("default", "execution") is True
    assert router.allow_migrate(REPLICA, "execution") is False


@pytest.mark.parametrize(
    ("method", "path", "replica"),
    [
        ("GET", "/admin/execution/order/", True),
        ("GET", "/admin/execution/trade/", True),
        ("HEAD", "/api/v1/orders/", True),
        ("GET", "/api/v1/trades", True),
        ("GET", "/admin/execution/order/abc/change/", False),  # an operator about to edit: fresh data
        ("POST", "/admin/execution/order/", False),  # bulk actions write
        ("POST", "/api/v1/orders/", False),
        ("GET", "/api/v1/orders/abc/", False),
        ("GET", "/api/v1/health/", False),
        ("GET", "/api/v1/memory/recall/", False),
    ],
)
def test_the_middleware_marks_changelists_and_list_endpoints(with_replica, method, path, replica):
    seen = []

    def view(request):
        seen.append(ReplicaRouter().db_for_read(Order))
        return "response"

    request = RequestFactory().generic(method, path)
    assert ReplicaReadsMiddleware(view)(request) == "response"
    assert seen == [REPLICA if replica else "default"]
    assert ReplicaRouter().db_for_read(Order) == "default"  # and nothing leaks past the request
