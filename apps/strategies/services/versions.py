"""A strategy version that has been live stays as it ran: a change to it is a new version.

The agent's results are read against the version in force at the time (activated_at..deactivated_at);
editing a version after it ran would rewrite what those results were obtained with.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from apps.strategies.models import Strategy

# What makes a version what it is; the rest (state, figures) is kept by activation and metrics.
VERSIONED_FIELDS = ("name", "version", "description", "config")


def strategy_has_run(strategy: Strategy) -> bool:
    """Whether this version has ever been the active one (as stored, not as edited in a form)."""
    if strategy.pk is None:
        return False
    return (
        Strategy.objects.filter(pk=strategy.pk)
        .filter(Q(is_active=True) | Q(activated_at__isnull=False))
        .exists()
    )


def strategy_edit_refusal(*, strategy: Strategy, changes: dict[str, Any]) -> dict[str, str]:
    """Why `changes` cannot be saved onto `strategy` in place: {field: message}, empty when they can."""
    if not strategy_has_run(strategy):
        return {}
    stored = Strategy.objects.get(pk=strategy.pk)
    changed = [f for f in VERSIONED_FIELDS if f in changes and changes[f] != getattr(stored, f)]
    if not changed:
        return {}
    if "version" not in changed:
        return {
            "version": f"{stored} has been live, so it stays as it ran. Give a new version number: saving "
            "then makes a new, inactive version with these changes (activate it when it should run)."
        }
    if Strategy.objects.filter(name=stored.name, version=changes["version"]).exists():
        return {
            "version": f"{stored.name} v{changes['version']} exists already: choose another version number."
        }
    return {}


@transaction.atomic
def strategy_version_create(
    *,
    base: Strategy | None,
    name: str,
    version: str,
    config: Any,
    description: str | None = None,
    reason_for_update: str | None = None,
) -> Strategy:
    """A new, inactive version (of `base`, when it derives from one); refused when name and version exist."""
    errors = {}
    if not name or not name.strip():
        errors["name"] = "A strategy needs a name."
    if not version or not version.strip():
        errors["version"] = "A strategy version needs a version number."
    if config is None:
        errors["config"] = "A strategy version needs its configuration (JSON)."
    if not errors and Strategy.objects.filter(name=name, version=version).exists():
        errors["version"] = f"{name} v{version} exists already: choose another version number."
    if errors:
        raise ValidationError(errors)
    if base is not None and not reason_for_update:
        reason_for_update = f"Derived from v{base.version}."
    strategy = Strategy(
        name=name,
        version=version,
        config=config,
        description=description,
        reason_for_update=reason_for_update,
    )
    strategy.save(force_insert=True)
    strategy.refresh_from_db()
    return strategy
