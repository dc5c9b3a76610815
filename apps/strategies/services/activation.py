"""Which version of a strategy is live: activation and deactivation, one active version per name."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.strategies.models import Strategy


@transaction.atomic
def strategy_activate(
    *, strategy: Strategy, reason: str | None = None, deactivated: list[Strategy] | None = None
) -> Strategy:
    """Make `strategy` the active version of its name; deactivate the other versions, in one transaction.

    Rows of the same name are locked first, so two operators activating different versions at
    once end with exactly one active version. The versions this call deactivated are appended to
    `deactivated` when a list is given (read under the lock: what the audit trail names).
    """
    versions = list(Strategy.objects.select_for_update().filter(name=strategy.name).order_by("pk"))
    target = next((v for v in versions if v.pk == strategy.pk), None)
    if target is None:
        raise ValidationError({"strategy": "This strategy version no longer exists."})
    now = timezone.now()
    for version in versions:
        if version.pk != target.pk and version.is_active:
            version.is_active = False
            version.deactivated_at = now
            version.save(update_fields=["is_active", "deactivated_at"])
            if deactivated is not None:
                deactivated.append(version)
    if not target.is_active:
        target.is_active = True
        target.activated_at = now
        target.deactivated_at = None
        fields = ["is_active", "activated_at", "deactivated_at"]
        if reason:
            target.reason_for_update = reason
            fields.append("reason_for_update")
        target.save(update_fields=fields)
    return target


@transaction.atomic
def strategy_deactivate(*, strategy: Strategy) -> Strategy:
    strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
    if strategy.is_active:
        strategy.is_active = False
        strategy.deactivated_at = timezone.now()
        strategy.save(update_fields=["is_active", "deactivated_at"])
    return strategy
