"""The soak in small (tests/soak/run_soak.py; `make soak` runs it for ten minutes with 32 clients): mixed
agent traffic through gunicorn while PostgreSQL and Redis are each restarted once."""

from tests.soak.run_soak import run


def test_a_short_soak_with_both_restarts_loses_no_acknowledged_write():
    report = run(duration=6, clients=8, outage=1.0, threads=16, log=lambda message: None)

    assert report["acknowledged_writes_missing"] == 0, report["acknowledged_writes"]
    assert min(w["acknowledged"] for w in report["acknowledged_writes"].values()) > 0
    assert report["500_anywhere"] == 0 and report["500_in_gunicorn_log"] == 0
    assert report["transport_errors"] == 0
    assert report["5xx_outside_windows"] == 0, report["5xx_outside_windows_detail"]
    assert report["in_windows"].get("503 database_unavailable", 0) > 0  # the outage was met, not missed
    assert report["redis_unavailable_events"] == 1
    assert report["sync_memory"]["exit"] == 0
    assert report["check_memory"]["exit"] == 0, report["check_memory"]["output"]
    assert report["passed"]
