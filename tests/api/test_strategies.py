"""GET /api/v1/strategies/ (the active version by name) and /api/v1/performance-metrics/."""

from datetime import UTC, datetime

import pytest

from tests.factories import PerformanceMetricsFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def test_the_active_version_by_name(api):
    StrategyFactory(name="rsi", version="1.0.0", is_active=False)
    StrategyFactory(
        name="rsi", version="1.1.0", is_active=True, activated_at=datetime(2026, 1, 2, tzinfo=UTC)
    )
    StrategyFactory(name="macd", version="2.0.0", is_active=True)

    response = api.get("/api/v1/strategies/active/rsi/")

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["version"]) == ("rsi", "1.1.0")


def test_no_active_version_is_a_404(api):
    StrategyFactory(name="rsi", is_active=False)

    assert api.get("/api/v1/strategies/active/rsi/").status_code == 404


def test_strategies_list_and_filter(api):
    StrategyFactory.create_batch(2, is_active=False)
    StrategyFactory(is_active=True)

    assert api.get("/api/v1/strategies/?is_active=true").json()["count"] == 1


def test_strategies_are_read_only(api):
    assert api.post("/api/v1/strategies/", {"name": "x"}, format="json").status_code == 405


def test_performance_metrics_by_strategy_name_in_fixed_queries(api, django_assert_max_num_queries):
    rsi = StrategyFactory(name="rsi")
    PerformanceMetricsFactory(strategy=rsi, start_date="2026-01-01", end_date="2026-02-01")
    PerformanceMetricsFactory(strategy=rsi, start_date="2026-02-01", end_date="2026-03-01")
    PerformanceMetricsFactory(strategy=StrategyFactory(name="other"))
    api.get("/api/v1/performance-metrics/")

    with django_assert_max_num_queries(3):
        response = api.get("/api/v1/performance-metrics/?strategy_name=rsi")

    body = response.json()
    assert body["count"] == 2
    assert {m["strategy_name"] for m in body["results"]} == {"rsi"}
    assert body["results"][0]["win_rate"] == "60.00"
