"""The daily roll-ups behind the changelists' figures: kept exact by the database whatever writes the rows,
and giving the page the same figures as one aggregate over the rows, for every filter they answer."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.backoffice.figures import FiguresChangeListMixin
from apps.decisions.models import Decision
from apps.execution.models import Position, Trade
from apps.journal.models import ExperienceDayRollup, PositionDayRollup, TradeDayRollup
from apps.journal.rollups import rollups_check, rollups_rebuild
from apps.memory.models import Experience
from tests.factories import (
    DecisionFactory,
    ExchangeFactory,
    ExperienceFactory,
    OrderFactory,
    PositionFactory,
    TradeFactory,
)

D = Decimal
T0 = datetime(2026, 3, 2, 22, tzinfo=UTC)  # two hours before a UTC midnight


def all_true() -> None:
    reports = rollups_check()
    assert [r.differences for r in reports] == [0] * len(reports), reports


@pytest.fixture
def record(db):
    """A bit of everything over three UTC days, with the NULLs each roll-up must group."""
    binance, kraken = ExchangeFactory(name="binance"), ExchangeFactory(name="kraken")
    for n in range(12):
        moment = T0 + timedelta(hours=n * 3)
        ExperienceFactory(
            symbol=[None, "BTC/USDT", "ETH/USDT", "ETH/BTC"][n % 4],
            outcome=["success", "failure", "success"][n % 3],
            pnl=None if n % 5 == 0 else D(n * 7 - 40) / 4,
            situation_tags=[["btc", "breakout"], ["btc", "btc"], [], None][n % 4],
            datetime=moment,
        )
        order = OrderFactory(exchange=[binance, kraken][n % 2], symbol=["BTC/USDT", "ETH/USDT"][n % 2])
        TradeFactory(
            order=order, datetime=moment, fee=None if n % 4 == 0 else D("0.1") * n,
            fee_currency=None if n % 4 == 0 else ["USDT", "BNB"][n % 3 == 0],
        )  # fmt: skip
        closed = n % 3 != 0
        PositionFactory(
            exchange=[binance, kraken][n % 2], symbol=f"C{n}/USDT", side=["buy", "sell"][n % 2],
            is_open=not closed, opened_at=moment, closed_at=moment + timedelta(hours=1) if closed else None,
            realized_pnl=D(n * 11 - 60) / 8 if closed else None, realized_fees=D("0.3") if closed else None,
        )  # fmt: skip
        DecisionFactory(
            decision_layer=["strategic", "tactical"][n % 2], model_used=[None, "gpt-4o", "claude"][n % 3],
            tokens_used=None if n % 4 == 0 else 1000 + n, input_tokens=None if n % 2 else 800,
            inference_cost=None if n % 3 == 0 else D("0.0123"), latency_ms=None if n % 5 == 0 else 500 + n,
            datetime=moment,
        )  # fmt: skip
    return {"binance": binance, "kraken": kraken}


def test_every_write_keeps_the_rollups_true(record):
    all_true()
    assert ExperienceDayRollup.objects.filter(rows__gt=0).values("day").distinct().count() == 3
    # Updates that move rows between keys, change sums, or change nothing summed.
    Position.objects.filter(is_open=False).update(realized_pnl=D("1.5"))
    Position.objects.filter(is_open=True).update(is_open=False, realized_pnl=D("-2"), realized_fees=D("0.1"))
    Experience.objects.filter(symbol="ETH/USDT").update(outcome="failure", situation_tags=["x", "btc"])
    Trade.objects.filter(fee_currency="BNB").update(fee_currency="USDT", fee=D("0.01"))
    Decision.objects.update(model_used="gpt-4o-mini")
    all_true()
    # Deletes, one by one and in bulk.
    Experience.objects.filter(symbol=None).delete()
    Trade.objects.first().delete()
    Trade.objects.filter(exchange=record["kraken"]).delete()
    Position.objects.filter(exchange=record["kraken"]).delete()
    all_true()
    assert not PositionDayRollup.objects.filter(exchange_id=record["kraken"].pk, rows__gt=0).exists()
    # Raw SQL the ORM never sees, and a TRUNCATE.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE trades SET cost = cost * 2, side = 'sell' WHERE side = 'buy'")
        cursor.execute(
            "INSERT INTO decisions (id, decision_layer, input_context, thought_process, decision, "
            "model_used, tokens_used, datetime, timestamp) "
            "VALUES ('dec_raw', 'strategic', '{}', 'why', 'hold', NULL, 7, now(), 0)"
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys' checks, before TRUNCATE
        cursor.execute("TRUNCATE experiences CASCADE")
    all_true()
    assert not ExperienceDayRollup.objects.exists()


def row_versions() -> list[tuple[int, str]]:
    """Each positions roll-up row's id and where its current version lies (ctid): any UPDATE of the row,
    even to the same values, writes a new version elsewhere."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, ctid::text FROM rollup_positions_daily ORDER BY id")
        return cursor.fetchall()


def test_an_update_that_moves_no_sum_writes_nothing_to_the_rollup(record):
    before = row_versions()
    Position.objects.update(current_price=D("123"), unrealized_pnl=D("4"))
    assert row_versions() == before  # no row rewritten, not even with the same sums
    Position.objects.filter(is_open=False).update(realized_pnl=D("9"))
    assert row_versions() != before


def test_the_rollup_counts_days_in_utc_and_tags_once_per_experience(db):
    ExperienceFactory(
        datetime=T0 + timedelta(hours=1, minutes=59), situation_tags=["btc", "btc"], symbol="X/Y"
    )
    ExperienceFactory(datetime=T0 + timedelta(hours=2), situation_tags=["btc"], symbol="X/Y")
    days = dict(ExperienceDayRollup.objects.values_list("day", "rows"))
    assert days == {T0.date(): 1, T0.date() + timedelta(days=1): 1}
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(rows) FROM rollup_experience_tags_daily WHERE tag = 'btc'")
        assert cursor.fetchone()[0] == 2


def test_rebuild_repairs_a_rollup_that_writes_bypassed(record, capsys):
    with connection.cursor() as cursor:
        # As pg_restore --disable-triggers writes: no trigger fires.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM trades WHERE symbol = 'ETH/USDT'")
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    assert {r.table: r.differences for r in rollups_check()}["rollup_trades_daily"] > 0
    with pytest.raises(CommandError, match="rebuild_rollups"):
        call_command("rebuild_rollups", "--check")
    call_command("rebuild_rollups")
    assert "rollup_trades_daily" in capsys.readouterr().out
    all_true()
    assert rollups_rebuild() == rollups_check()
    call_command("rebuild_rollups", "--check")  # true again: no error


@pytest.mark.django_db(transaction=True)
def test_a_writer_of_the_same_key_waits_for_the_first_and_both_are_counted():
    exchange = ExchangeFactory(name="binance")
    order = OrderFactory(exchange=exchange, symbol="BTC/USDT")
    first_wrote, second_started = threading.Event(), threading.Event()
    errors = []

    def write(n: int) -> None:
        from django.db import transaction

        try:
            if n == 1:
                assert first_wrote.wait(timeout=10)
                second_started.set()
            with transaction.atomic():
                for k in range(5):
                    TradeFactory(id=f"t{n}-{k}", order=order, datetime=T0, fee=D("1"), fee_currency="USDT")
                if n == 0:
                    first_wrote.set()
                    assert second_started.wait(timeout=10)
                    time.sleep(0.2)  # the second's upsert now waits on this one's roll-up row
        except Exception as exc:  # noqa: BLE001 - a thread's failure, reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    kept = TradeDayRollup.objects.get(day=T0.date(), symbol="BTC/USDT")
    assert (kept.rows, kept.fees) == (10, D("10"))
    all_true()


# --- the page: the same figures from the roll-up as from the rows -----------------------------------------


def both_ways(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, url
    FiguresChangeListMixin.figures_rollups_enabled = False
    try:
        exact = client.get(url).context["figures"]
    finally:
        FiguresChangeListMixin.figures_rollups_enabled = True
    return response.context["figures"], exact


def rollup_answered(client, url: str) -> bool:
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return any("rollup_" in q["sql"] and "figures_count" in q["sql"] for q in captured.captured_queries)


PAGES = {
    "admin:memory_experience_changelist": [
        "", "?outcome__exact=failure", "?symbol=BTC/USDT", "?tag=btc", "?tag=btc&outcome__exact=success",
        "?datetime__year=2026&datetime__month=3&datetime__day=3", "?outcome__isnull=True",
        "?datetime__year=2026&datetime__month=3&symbol=ETH/BTC",
    ],
    "admin:execution_position_changelist": [
        "", "?is_open__exact=0", "?is_open__exact=1&side__exact=sell", "?q=c1", "?q=C1/usdt",
        "?opened_at__year=2026&opened_at__month=3&opened_at__day=4",
    ],
    "admin:execution_trade_changelist": [
        "", "?side__exact=buy", "?q=btc/usdt", "?q=ETH/USDT&side__exact=sell",
    ],
    "admin:decisions_decision_changelist": [
        "", "?decision_layer__exact=strategic", "?datetime__year=2026&datetime__month=3&datetime__day=2",
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("page", "query"), [(page, query) for page, queries in PAGES.items() for query in queries]
)
def test_the_rollup_gives_the_figures_one_aggregate_gives(root_client, record, page, query):
    url = reverse(page) + query
    from_rollup, exact = both_ways(root_client, url)
    assert from_rollup == exact
    assert rollup_answered(root_client, url)


def test_the_exchange_filter_and_a_search_by_id_are_answered_too(root_client, record):
    exchange = record["binance"].pk
    for page, query in product(
        ["admin:execution_position_changelist", "admin:execution_trade_changelist"],
        [f"?exchange__id__exact={exchange}", f"?exchange__id__exact={exchange}&side__exact=buy"],
    ):
        from_rollup, exact = both_ways(root_client, reverse(page) + query)
        assert from_rollup == exact
    trade = Trade.objects.filter(symbol="ETH/USDT").first()
    url = reverse("admin:execution_trade_changelist")
    for term in (trade.pk, trade.order_id, "ETH/USDT"):
        from_rollup, exact = both_ways(root_client, f"{url}?q={term}")
        assert from_rollup == exact
        searched = Trade.objects.filter(Q(pk=term) | Q(order_id=term) | Q(symbol=term)).count()
        assert from_rollup.title.startswith(f"{searched} trades")


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("admin:memory_experience_changelist", "?importance=high"),
        ("admin:memory_experience_changelist", "?q=oversold"),
        ("admin:memory_experience_changelist", "?model=gpt-4o"),
        ("admin:decisions_decision_changelist", "?q=dec_000001"),
    ],
)
def test_a_filter_the_rollup_has_no_column_for_gets_the_exact_figures(root_client, record, page, query):
    url = reverse(page) + query
    assert not rollup_answered(root_client, url)
    from_page, exact = both_ways(root_client, url)
    assert from_page == exact


def test_the_figures_follow_a_write_at_once(root_client, record):
    url = reverse("admin:memory_experience_changelist") + "?symbol=BTC/USDT"
    before = root_client.get(url).context["figures"].title
    ExperienceFactory(symbol="BTC/USDT", outcome="success", pnl=D("5"), datetime=T0)
    after = root_client.get(url).context["figures"].title
    assert int(after.split()[0]) == int(before.split()[0]) + 1


def test_the_symbol_and_tag_choices_come_from_the_rollups(root_client, record):
    response = root_client.get(reverse("admin:memory_experience_changelist"))
    specs = response.context["cl"].filter_specs
    choices = {
        s.title: [value for value, _ in s.lookup_choices] for s in specs if hasattr(s, "lookup_choices")
    }
    assert choices["symbol"] == ["BTC/USDT", "ETH/BTC", "ETH/USDT"]
    assert choices["tag"] == ["breakout", "btc"]


def test_each_rollup_model_has_exactly_its_specs_columns():
    from django.apps import apps

    from apps.journal.rollups import SPECS

    models = {m._meta.db_table: m for m in apps.get_app_config("journal").get_models()}
    for spec in SPECS:
        columns = {f.column for f in models[spec.table]._meta.concrete_fields} - {"id"}
        assert columns == {name for name, _ in spec.dimensions + spec.measures}, spec.table


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("admin:memory_experience_changelist", "?datetime__month=abc"),
        ("admin:memory_experience_changelist", "?datetime__year=2026&datetime__month=13"),
        ("admin:execution_position_changelist", "?is_open__exact=maybe"),
        ("admin:execution_position_changelist", "?exchange__id__exact=x"),
        ("admin:execution_trade_changelist", "?side__exact=buy&opened_at__year=2026"),
        ("admin:decisions_decision_changelist", "?datetime__day=99"),
    ],
)
def test_a_bad_filter_value_is_refused_by_the_changelist_not_a_500(root_client, record, page, query):
    response = root_client.get(reverse(page) + query)
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        assert "e=1" in response["Location"]
