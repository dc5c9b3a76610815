"""Every link to a record's page opens that record, whatever its id holds.

The admin escapes a few characters of an id in its URLs with "_" and two hex digits ("_" itself is
"_5F"), and reads the URL back the same way. Exchange and agent ids are free text: "abc_22x" read
back unescaped is 'abc"x', a record that does not exist, and the page sends the operator away.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.common.admin import change_url
from tests.factories import DecisionFactory, ExperienceFactory, OrderFactory, TradeFactory

pytestmark = pytest.mark.django_db

# Each holds "_" and two hex digits the admin's unquoting would turn into another character.
ORDER_ID = "ord_22_2Fx"
DECISION_ID = "dec_3A_5Fy"
EXPERIENCE_ID = "exp_26_3Fz"

CHANGE_LINK = re.compile(r'href="(/admin/[\w/]+?/[^"/]+/change/)"')


def links(html: str) -> set[str]:
    return set(CHANGE_LINK.findall(html))


@pytest.fixture
def records(db):
    decision = DecisionFactory(id=DECISION_ID, datetime=timezone.now() - timedelta(days=1))
    order = OrderFactory(id=ORDER_ID, decision_id=decision.pk)
    TradeFactory(id="trd_22_5Fw", order=order)
    ExperienceFactory(
        id=EXPERIENCE_ID,
        decision_ref=decision,
        related_orders=[ORDER_ID],
        pnl=Decimal("-5"),
        datetime=timezone.now() - timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/admin/execution/trade/", {ORDER_ID}),
        ("/admin/journal/review/queue/?subject=decisions", {DECISION_ID}),
        ("/admin/journal/review/queue/?subject=experiences", {EXPERIENCE_ID}),
        (change_url("memory_experience", EXPERIENCE_ID), {ORDER_ID, DECISION_ID}),
    ],
)
def test_each_link_opens_the_record_it_names(root_client, records, page, expected):
    response = root_client.get(page)
    assert response.status_code == 200, page
    followed = {}
    for url in links(response.content.decode()):
        opened = root_client.get(url)
        assert opened.status_code == 200, f"{url} on {page} did not open (status {opened.status_code})"
        followed[url] = opened.context["original"].pk
    assert expected <= set(followed.values()), (page, followed)
