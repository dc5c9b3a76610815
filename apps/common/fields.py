"""Column shapes the seed repeats across tables, and its CHECK-list constraint."""

from functools import partial

from django.db import models

# NUMERIC(20, 8): amounts, prices, costs, fees and PnL.
Money = partial(models.DecimalField, max_digits=20, decimal_places=8)
# NUMERIC(10, 4): percentages and ratios.
Ratio = partial(models.DecimalField, max_digits=10, decimal_places=4)


def choices_check(field: str, choices: type[models.TextChoices], *, table: str) -> models.CheckConstraint:
    """The seed's `CHECK (field IN (...))`, named as PostgreSQL names an unnamed one."""
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__in": choices.values}),
        name=f"{table}_{field}_check",
        violation_error_message=f"{field} must be one of: {', '.join(choices.values)}.",
    )


class CurrentTimestamp(models.Func):
    """SQL's CURRENT_TIMESTAMP, the seed's column default.

    Not Django's Now() (STATEMENT_TIMESTAMP()): the updated_at trigger stamps CURRENT_TIMESTAMP,
    the transaction's start, and both columns must read the same clock, or a row inserted and
    updated in one transaction would look updated before it was created.
    """

    template = "CURRENT_TIMESTAMP"
    output_field = models.DateTimeField()
