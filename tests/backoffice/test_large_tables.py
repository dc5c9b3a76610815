"""Orders, trades, decisions and system events stay fast at millions of rows: fixed queries, no full COUNT."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.common.admin import EXACT_COUNT_LIMIT, EstimatedCountPaginator, LargeTableAdmin
from apps.decisions.models import Decision
from apps.execution.models import Order, Trade
from apps.system_events.models import SystemEvent
from tests.factories import (
    DecisionFactory,
    ExchangeFactory,
    OrderFactory,
    SystemEventFactory,
    TradeFactory,
)

pytestmark = pytest.mark.django_db

LARGE = {
    "execution_order": Order,
    "execution_trade": Trade,
    "decisions_decision": Decision,
    "system_events_systemevent": SystemEvent,
}
# Session, user, the exchange filter's choices, the count (estimate or capped), the page, and the date
# hierarchy's range and steps, the figures of the filtered rows (from the roll-up, and for a search by
# id the exact figures of the rows the id selects): the same whatever the page size or the table size.
MAX_QUERIES = 10


def fill(rows: int) -> None:
    exchange = ExchangeFactory(name="binance")
    for _ in range(rows):
        order = OrderFactory(exchange=exchange)
        TradeFactory(order=order)
        DecisionFactory()
        SystemEventFactory()


def test_the_big_tables_use_the_large_table_admin():
    for model in LARGE.values():
        model_admin = admin.site._registry[model]
        assert isinstance(model_admin, LargeTableAdmin)
        assert model_admin.show_full_result_count is False
        assert model_admin.paginator is EstimatedCountPaginator
        assert model_admin.show_facets is admin.ShowFacets.NEVER


# The figures above a changelist (apps/journal/selectors/figures.py) aggregate every row the filters
# select, the whole table when nothing is filtered: the one deliberate scan, timed by
# bench/changelist_figures.py. Its aliases say which query it is.
FIGURES_QUERY = re.compile(r'AS "figures_count"')


def full_table_counts(queries) -> list[str]:
    """COUNT(*)s with neither a WHERE nor a LIMIT anywhere: a scan of the whole table."""
    found = []
    for query in queries:
        if FIGURES_QUERY.search(query["sql"]):
            continue
        # A FILTER (WHERE ...) inside COUNT() limits what is counted, not what is scanned.
        sql = re.sub(r"FILTER \(WHERE [^)]*\)", "", query["sql"])
        if re.search(r"COUNT\(", sql, re.IGNORECASE) and not re.search(r"\b(WHERE|LIMIT)\b", sql):
            found.append(query["sql"])
    return found


def test_the_full_count_detector_catches_a_plain_count():
    # The detector itself: an unbounded count is caught, a capped or filtered one is not.
    with CaptureQueriesContext(connection) as captured:
        Order.objects.count()
        Order.objects.aggregate(buys=Count("id", filter=Q(side="buy")))
        Order.objects.all()[:10001].count()
        Order.objects.filter(symbol="BTC/USDT").count()
    assert len(full_table_counts(captured.captured_queries)) == 2


@pytest.mark.parametrize("rows", [5, 120])
@pytest.mark.parametrize("info", sorted(LARGE))
def test_changelist_queries_are_fixed_and_never_count_the_table(
    root_client, django_assert_max_num_queries, rows, info
):
    fill(rows)
    url = reverse(f"admin:{info}_changelist")
    for query in ("", "?p=2", "?q=BTC/USDT", "?o=-1", "?_facets=True"):
        with django_assert_max_num_queries(MAX_QUERIES) as captured:
            response = root_client.get(url + query)
        assert response.status_code == 200
        assert full_table_counts(captured.captured_queries) == []
    with CaptureQueriesContext(connection) as captured:
        response = root_client.get(url)
    # Every row is reachable: the first page is full and the paginator knows the rest.
    assert len(response.context["cl"].result_list) == min(rows, 50)
    assert response.context["cl"].result_count == rows


@pytest.fixture
def search_world(db):
    binance, kraken = ExchangeFactory(name="binance"), ExchangeFactory(name="kraken")
    btc = [OrderFactory(exchange=binance, symbol="BTC/USDT") for _ in range(3)]
    eth = [OrderFactory(exchange=kraken, symbol="ETH/USDT", client_order_id="my-eth-1")]
    trades = [TradeFactory(order=order) for order in btc + eth]
    decision = DecisionFactory(id="dec_search_me")
    DecisionFactory()
    events = [
        SystemEventFactory(related_order_id=eth[0].pk, related_symbol="ETH/USDT", event_type="order_filled"),
        SystemEventFactory(event_type="risk_limit_hit", severity="warning"),
    ]
    return {"btc": btc, "eth": eth, "trades": trades, "decision": decision, "events": events}


def found(client, info: str, term: str) -> set[str]:
    response = client.get(reverse(f"admin:{info}_changelist"), {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_exact_searches_find_the_right_rows(root_client, search_world):
    btc, eth, trades = search_world["btc"], search_world["eth"], search_world["trades"]
    assert found(root_client, "execution_order", "eth/usdt") == {eth[0].pk}  # symbols are upper-cased
    assert found(root_client, "execution_order", " BTC/USDT ") == {o.pk for o in btc}
    assert found(root_client, "execution_order", btc[1].pk) == {btc[1].pk}
    assert found(root_client, "execution_order", "my-eth-1") == {eth[0].pk}
    assert found(root_client, "execution_order", "BTC") == set()  # exact, not a substring scan
    assert found(root_client, "execution_trade", eth[0].pk) == {trades[3].pk}  # by order id
    assert found(root_client, "execution_trade", trades[0].pk) == {trades[0].pk}
    assert found(root_client, "execution_trade", "btc/usdt") == {t.pk for t in trades[:3]}
    assert found(root_client, "decisions_decision", "dec_search_me") == {"dec_search_me"}
    events = search_world["events"]
    assert found(root_client, "system_events_systemevent", eth[0].pk) == {events[0].pk}
    assert found(root_client, "system_events_systemevent", "risk_limit_hit") == {events[1].pk}
    assert found(root_client, "system_events_systemevent", "eth/usdt") == {events[0].pk}


def test_a_found_row_opens(root_client, search_world):
    order = search_world["eth"][0]
    response = root_client.get(reverse("admin:execution_order_change", args=[quote(order.pk)]))
    assert response.status_code == 200
    assert response.context["original"] == order


# --- the paginator at scale ----------------------------------------------------------------------

BULK_ORDERS = """
INSERT INTO orders (id, client_order_id, exchange_id, symbol, side, type, status, price, amount, filled,
                    remaining, cost, timestamp, datetime, raw_data)
SELECT 'bulk_' || n, 'bulk_cli_' || n, %(exchange)s,
       CASE WHEN n %% 100 = 0 THEN 'ETH/USDT' ELSE 'BTC/USDT' END,
       CASE WHEN n %% 2 = 0 THEN 'buy' ELSE 'sell' END, 'limit', 'open',
       45000, 0.01, 0, 0.01, 0,
       1767225600000 + n * 1000, to_timestamp(1767225600 + n), '{}'::jsonb
FROM generate_series(1, %(rows)s) AS n
"""


@pytest.fixture
def many_orders(db):
    """12,000 orders, ANALYZEd; the statistics are put back afterwards (ANALYZE outlives a rollback)."""
    exchange = ExchangeFactory(name="binance")
    with connection.cursor() as cursor:
        cursor.execute(BULK_ORDERS, {"exchange": exchange.pk, "rows": 12_000})
        cursor.execute("ANALYZE orders")
    yield 12_000
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM orders WHERE id LIKE 'bulk%%'")
        cursor.execute("ANALYZE orders")


def paginator(queryset) -> EstimatedCountPaginator:
    return EstimatedCountPaginator(queryset.order_by("-datetime"), 50)


def test_an_unfiltered_big_table_is_counted_from_the_planner_estimate(many_orders):
    # Rows added since the ANALYZE are not seen: the figure is pg_class's, not a COUNT(*).
    OrderFactory.create_batch(3)
    with CaptureQueriesContext(connection) as captured:
        count = paginator(Order.objects.all()).count
    assert count == many_orders
    assert Order.objects.count() == many_orders + 3
    assert [q["sql"] for q in captured.captured_queries if "pg_class" in q["sql"]]
    assert full_table_counts(captured.captured_queries) == []


def test_a_filtered_big_table_is_counted_exactly_up_to_the_cap(many_orders):
    assert paginator(Order.objects.filter(symbol="BTC/USDT")).count == EXACT_COUNT_LIMIT + 1
    assert paginator(Order.objects.filter(symbol="ETH/USDT")).count == many_orders // 100
    assert paginator(Order.objects.filter(symbol="SOL/USDT")).count == 0


def test_a_small_or_never_analyzed_table_is_counted_exactly(db):
    OrderFactory.create_batch(7)
    assert paginator(Order.objects.all()).count == 7


def test_the_changelist_of_a_big_table_pages_on_the_estimate(root_client, many_orders):
    with CaptureQueriesContext(connection) as captured:
        response = root_client.get(reverse("admin:execution_order_changelist"), {"p": "3"})
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.result_count == many_orders and cl.full_result_count is None
    assert len(cl.result_list) == 50
    assert full_table_counts(captured.captured_queries) == []
    assert "12000 orders" in response.content.decode()


# --- the date hierarchy --------------------------------------------------------------------------


@pytest.fixture
def winter_orders(db):
    exchange = ExchangeFactory(name="binance")
    moments = ["2025-12-30T10:00:00", "2026-01-02T09:00:00", "2026-01-04T23:30:00", "2026-02-10T12:00:00"]
    return [
        OrderFactory(exchange=exchange, datetime=datetime.fromisoformat(moment).replace(tzinfo=UTC))
        for moment in moments
    ]


def hierarchy(client, query: str = "") -> tuple[list[str], list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:execution_order_changelist") + query)
    assert response.status_code == 200
    assert not [q["sql"] for q in captured.captured_queries if "DISTINCT" in q["sql"].upper()]
    html = response.content.decode()
    nav = html[
        html.index('<nav class="toplinks">') : html.index("</nav>", html.index('<nav class="toplinks">'))
    ]
    links = re.findall(r'<a href="\?([^"]*)"[^>]*>([^<]+)</a>', nav)
    return [text.replace("&lsaquo; ", "").strip() for _, text in links], [q for q, _ in links]


def test_the_date_hierarchy_drills_down_without_a_distinct_scan(root_client, winter_orders):
    titles, _ = hierarchy(root_client)
    assert titles == ["2025", "2026"]
    titles, _ = hierarchy(root_client, "?datetime__year=2026")
    assert titles == ["All dates", "January 2026", "February 2026"]
    titles, links = hierarchy(root_client, "?datetime__year=2026&datetime__month=1")
    assert titles == ["2026", "January 2", "January 3", "January 4"]  # every day from the first to the last
    day = root_client.get(reverse("admin:execution_order_changelist") + "?" + links[-1].replace("&amp;", "&"))
    assert [o.pk for o in day.context["cl"].result_list] == [winter_orders[2].pk]


def test_the_date_hierarchy_of_an_empty_search_is_empty(root_client, winter_orders):
    response = root_client.get(reverse("admin:execution_order_changelist"), {"q": "SOL/USDT"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("term", ["ETH/USDT", "bulk_777", "bulk_cli_4242"])
def test_the_order_search_uses_indexes_not_a_table_scan(rf, superuser, many_orders, term):
    model_admin = admin.site._registry[Order]
    request = rf.get("/", {"q": term})
    request.user = superuser
    queryset, _ = model_admin.get_search_results(request, Order.objects.all(), term)
    plan = queryset.explain()
    assert "Seq Scan" not in plan, plan
    assert "Index" in plan
    assert queryset.count() == (120 if term == "ETH/USDT" else 1)
