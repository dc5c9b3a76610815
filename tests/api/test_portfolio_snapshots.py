"""POST/GET /api/v1/portfolio-snapshots/: one per exchange and day, upserted."""

from datetime import date
from decimal import Decimal

import pytest

from apps.portfolio.models import PortfolioSnapshot
from tests.factories import PortfolioSnapshotFactory

pytestmark = pytest.mark.django_db


def snapshot(**overrides):
    body = {
        "exchange": "binance",
        "snapshot_date": "2026-01-05",
        "total_value": "10500.25",
        "cash": "6000",
        "positions_value": "4500.25",
        "daily_pnl": "-12.5",
        "total_return": "5.0025",
        "positions": [{"symbol": "BTC/USDT", "value": "4500.25"}],
        "datetime": "2026-01-05T23:00:00Z",
    }
    body.update(overrides)
    return body


def test_the_second_snapshot_of_a_day_replaces_the_first(api, binance):
    first = api.post("/api/v1/portfolio-snapshots/", snapshot(), format="json")
    second = api.post(
        "/api/v1/portfolio-snapshots/", snapshot(total_value="10600", cash="6100"), format="json"
    )
    other_day = api.post("/api/v1/portfolio-snapshots/", snapshot(snapshot_date="2026-01-06"), format="json")

    assert (first.status_code, second.status_code, other_day.status_code) == (201, 200, 201)
    assert PortfolioSnapshot.objects.count() == 2
    day = PortfolioSnapshot.objects.get(snapshot_date="2026-01-05")
    assert (day.total_value, day.cash, day.daily_pnl) == (Decimal("10600"), Decimal("6100"), Decimal("-12.5"))


def test_the_day_defaults_to_the_moments_utc_date(api, binance):
    body = snapshot(datetime="2026-02-03T22:30:00-05:00")
    del body["snapshot_date"]

    response = api.post("/api/v1/portfolio-snapshots/", body, format="json")

    assert response.json()["snapshot_date"] == "2026-02-04"


def test_refusals(api, binance):
    assert api.post("/api/v1/portfolio-snapshots/", snapshot(cash="-1"), format="json").status_code == 400
    assert (
        api.post("/api/v1/portfolio-snapshots/", snapshot(exchange="ftx"), format="json").status_code == 400
    )
    assert not PortfolioSnapshot.objects.exists()


def test_list_and_filter(api, binance, okx):
    PortfolioSnapshotFactory.create_batch(3, exchange=binance)
    PortfolioSnapshotFactory(exchange=okx)

    response = api.get("/api/v1/portfolio-snapshots/?exchange=okx")

    assert response.json()["count"] == 1 and response.json()["results"][0]["exchange"] == "okx"


def test_since_and_until_are_dates_and_both_inclusive(api, binance):
    """docs/api.md: snapshots are per day, so `until=2026-03-31` includes the 31st (a moment's would not)."""
    for day in ("2026-02-28", "2026-03-01", "2026-03-31", "2026-04-01"):
        PortfolioSnapshotFactory(exchange=binance, snapshot_date=date.fromisoformat(day))

    response = api.get("/api/v1/portfolio-snapshots/?since=2026-03-01&until=2026-03-31")

    assert sorted(r["snapshot_date"] for r in response.json()["results"]) == ["2026-03-01", "2026-03-31"]
