"""A purge's batch is never larger than its batch size, whatever plan PostgreSQL picks for it.

A batch is the rows one short transaction locks. With the batch chosen by `IN (SELECT ... LIMIT n FOR UPDATE
SKIP LOCKED)`, a nested-loop plan ran the subquery again for each row and one "batch of 5" deleted all 13
rows that matched, in one transaction: what the batches are there to prevent.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.common.purge import rows_delete_in_batches
from tests.factories import SystemEventFactory

pytestmark = pytest.mark.django_db

# Planner settings under which the IN form deleted every matching row in one batch.
PLANS = {
    "default": [],
    "nested loop, subquery inside": ["enable_hashjoin", "enable_material", "enable_hashagg", "enable_sort"],
    "nested loop, no seq scan": [
        "enable_hashjoin", "enable_mergejoin", "enable_material", "enable_hashagg", "enable_seqscan",
        "enable_sort",
    ],
}  # fmt: skip


@pytest.mark.parametrize("off", PLANS.values(), ids=PLANS.keys())
def test_each_batch_holds_at_most_the_batch_size(off):
    cutoff = timezone.now()
    for days in [50] * 13 + [1]:
        SystemEventFactory(datetime=cutoff - timedelta(days=days))
    with connection.cursor() as cursor:
        for setting in off:
            cursor.execute(f"SET LOCAL {setting} = off")  # the test's transaction only
    sizes: list[int] = []

    total = rows_delete_in_batches(
        table="system_events",
        key="id",
        where="datetime < %s",
        params=[cutoff - timedelta(days=30)],
        batch_size=5,
        on_batch=sizes.append,
    )

    assert sizes == [5, 5, 3] and total == 13
