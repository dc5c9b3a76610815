"""PostgreSQL restarted under a stream of API writes: 503s with the error body while it is down, never a 500;
every acknowledged write is there afterwards, and a list of orders is recorded whole or not at all."""

from __future__ import annotations

import threading
import time
from collections import Counter

from .conftest import AGENT_TOKEN, admin_login
from .servers import Client, wait_until

WRITERS = 6
BATCH = 5  # orders per list request: all or nothing


def _order(order_id: str) -> dict:
    return {
        "exchange": "binance",
        "id": order_id,
        "clientOrderId": f"c-{order_id}",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "status": "open",
        "amount": "0.01",
        "price": "45000.1",
        "timestamp": 1_767_225_600_000,
    }


class Writer(threading.Thread):
    """Posts single orders and lists of orders until told to stop; keeps every answer."""

    def __init__(self, port: int, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client = Client(port, token=AGENT_TOKEN, timeout=20)
        self.number = number
        self.stop = stop
        self.acked: list[str] = []
        self.acked_batches: list[list[str]] = []
        self.unacked_batches: list[list[str]] = []
        self.statuses: Counter[int] = Counter()
        self.bodies_503: list[dict] = []
        self.errors: list[str] = []

    def run(self) -> None:
        n = 0
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            n += 1
            as_batch = n % 3 == 0
            ids = [f"w{self.number}-{n}-{i}" for i in range(BATCH if as_batch else 1)]
            body = [_order(i) for i in ids] if as_batch else _order(ids[0])
            try:
                reply = self.client.request("POST", "/api/v1/orders/", body)
            except OSError as exc:  # a transport error is no acknowledgement; counted, not fatal here
                self.errors.append(repr(exc))
                if as_batch:
                    self.unacked_batches.append(ids)
                continue
            self.statuses[reply.status] += 1
            if 200 <= reply.status < 300:
                (self.acked_batches.append(ids) if as_batch else self.acked.extend(ids))
            else:
                if as_batch:
                    self.unacked_batches.append(ids)
                if reply.status == 503:
                    self.bodies_503.append(reply.json() | {"retry_after": reply.headers.get("retry-after")})
                    time.sleep(0.05)


def _acks(writers: list[Writer]) -> int:
    return sum(len(w.acked) + len(w.acked_batches) for w in writers)


def test_postgres_restart_mid_stream_is_503s_and_loses_no_acknowledged_write(
    postgres, database, app_env, start_app, measured
):
    app = start_app(app_env)
    operator = Client(app.port)
    assert admin_login(operator).status == 302
    stop = threading.Event()
    writers = [Writer(app.port, n, stop) for n in range(WRITERS)]
    for writer in writers:
        writer.start()
    try:
        wait_until(lambda: _acks(writers) >= 30, timeout=20, what="30 acknowledged writes before the restart")
        postgres.stop("fast")
        stopped_at = time.monotonic()
        down_since = _acks(writers)
        time.sleep(1.0)  # the writers keep posting into the outage
        # What people see meanwhile: the admin a plain 503 page, a sign-in too, the API's reads a JSON 503.
        admin_page = operator.request("GET", "/admin/execution/order/")
        sign_in = admin_login(Client(app.port))
        read = Client(app.port, token=AGENT_TOKEN).request("GET", "/api/v1/orders/")
        postgres.start()
        measured["outage_seconds"] = round(time.monotonic() - stopped_at, 2)
        wait_until(
            lambda: _acks(writers) >= down_since + 30, timeout=20, what="30 acknowledged writes after restart"
        )
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=30)

    statuses = sum((w.statuses for w in writers), Counter())
    measured["answers"] = {str(k): v for k, v in sorted(statuses.items())}
    assert statuses[500] == 0, app.log_text()[-3000:]
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[503] > 0, "the outage was never seen: the test proved nothing"
    for body in (b for w in writers for b in w.bodies_503):
        assert body["code"] == "database_unavailable"
        assert "PostgreSQL" in body["message"] and body["retry_after"] == "2"
    assert not [e for w in writers for e in w.errors], "a request failed without an HTTP answer"

    for page in (admin_page, sign_in):
        assert page.status == 503 and b"The database is unavailable" in page.body, page.body[:300]
        assert b"Traceback" not in page.body and page.headers["retry-after"] == "2"
    assert read.status == 503 and read.json()["code"] == "database_unavailable"
    # Once it is back, so is the operator's session.
    assert operator.request("GET", "/admin/execution/order/").status == 200

    recorded = {row[0] for row in postgres.execute("SELECT id FROM orders", database=database)}
    acked = {i for w in writers for i in w.acked} | {i for w in writers for b in w.acked_batches for i in b}
    measured["acknowledged_orders"] = len(acked)
    measured["acknowledged_orders_missing"] = len(acked - recorded)
    measured["unacknowledged_lists_half_written"] = sum(
        1 for b in (b for w in writers for b in w.unacked_batches) if 0 < len(set(b) & recorded) < len(b)
    )
    assert acked <= recorded, f"{len(acked - recorded)} acknowledged orders are missing"
    for batch in (b for w in writers for b in w.unacked_batches):
        present = [i for i in batch if i in recorded]
        assert present in ([], batch), f"a list of orders was half-written: {present} of {batch}"
    # Each order is one row and one status event, whatever happened around it.
    events = postgres.execute(
        "SELECT related_order_id, count(*) FROM system_events WHERE event_type = 'order_status_changed' "
        "GROUP BY related_order_id HAVING count(*) > 1",
        database=database,
    )
    assert events == []
