"""Writes of experiences: the only way one is created, changed or deleted.

Each write validates its input (ValidationError naming the field; nothing changes), then
saves the row and an outbox row in one transaction, so long-term memory follows
PostgreSQL after commit (see services/outbox.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.clock import from_ms, now_ms, to_ms
from apps.decisions.models import Decision

from ..models import Experience, OutboxOperation, Outcome
from .lifecycle import near_duplicates_flag_after_commit
from .outbox import outbox_enqueue

# The fields a caller may set; id, created_at and updated_at are not among them.
WRITABLE_FIELDS = (
    "situation",
    "situation_tags",
    "decision",
    "decision_reasoning",
    "decision_id",
    "outcome",
    "pnl",
    "pnl_percentage",
    "reflection",
    "lessons_learned",
    "importance_score",
    "related_orders",
    "symbol",
    "timestamp",
    "datetime",
)
DEFAULT_IMPORTANCE = Decimal("0.50")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "leave as it is", where None would mean "clear"


# --- validation ---------------------------------------------------------------------------------


class _Errors(dict):
    def check(self) -> None:
        if self:
            raise ValidationError(dict(self))


def _required_text(value: Any, field: str, errors: _Errors) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors[field] = f"The {field.replace('_', ' ')} must be a non-empty string."
        return None
    return value.strip()


def _optional_text(value: Any, field: str, errors: _Errors, *, max_length: int | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors[field] = f"The {field.replace('_', ' ')} must be a string or null."
        return None
    value = value.strip()
    if max_length is not None and len(value) > max_length:
        errors[field] = f"The {field.replace('_', ' ')} must be at most {max_length} characters."
        return None
    return value or None


def _string_list(value: Any, field: str, errors: _Errors, *, unique: bool = False) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        errors[field] = f"The {field.replace('_', ' ')} must be a list of non-empty strings."
        return None
    items = list(value)
    if not all(isinstance(item, str) and item.strip() for item in items):
        errors[field] = f"The {field.replace('_', ' ')} must be a list of non-empty strings."
        return None
    cleaned = [item.strip() for item in items]
    return list(dict.fromkeys(cleaned)) if unique else cleaned


def _decimal(
    value: Any, field: str, errors: _Errors, *, max_digits: int, places: int, allow_float: bool = False
) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not allow_float):
        errors[field] = f"The {field.replace('_', ' ')} must be a Decimal or a numeric string, not a float."
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        errors[field] = f"The {field.replace('_', ' ')} must be a number; got {value!r}."
        return None
    if not number.is_finite():
        errors[field] = f"The {field.replace('_', ' ')} must be a finite number."
        return None
    if number.as_tuple().exponent < -places:
        errors[field] = f"The {field.replace('_', ' ')} has at most {places} decimal places."
        return None
    if abs(number) >= Decimal(10) ** (max_digits - places):
        errors[field] = f"The {field.replace('_', ' ')} is too large for NUMERIC({max_digits}, {places})."
        return None
    return number


def _importance(value: Any, errors: _Errors) -> Decimal | None:
    if value is None:
        errors["importance_score"] = "The importance score must be between 0 and 1."
        return None
    number = _decimal(value, "importance_score", errors, max_digits=3, places=2, allow_float=True)
    if number is not None and not Decimal(0) <= number <= Decimal(1):
        errors["importance_score"] = "The importance score must be between 0 and 1."
        return None
    return number


def _outcome(value: Any, errors: _Errors) -> str | None:
    if value not in Outcome.values:
        errors["outcome"] = f"The outcome must be one of: {', '.join(Outcome.values)}."
        return None
    return str(value)


def _decision(value: Any, errors: _Errors) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decision):
        return value.pk
    if not isinstance(value, str) or not value.strip():
        errors["decision_id"] = "The decision id must be a non-empty string or null."
        return None
    if not Decision.objects.filter(pk=value).exists():
        errors["decision_id"] = f"No decision with id {value!r}."
        return None
    return value


def _moment(timestamp: Any, moment: Any, errors: _Errors) -> tuple[int, dt.datetime] | None:
    """`timestamp` (epoch ms) and `datetime` describe one moment; either one gives the other."""
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0
    ):
        errors["timestamp"] = "The timestamp must be a whole number of milliseconds since the epoch."
        return None
    if moment is not None:
        if not isinstance(moment, dt.datetime) or timezone.is_naive(moment):
            errors["datetime"] = "The datetime must be a timezone-aware datetime."
            return None
        if timestamp is not None and timestamp != to_ms(moment):
            errors["timestamp"] = (
                "The timestamp and the datetime describe different moments; give one of them."
            )
            return None
        return to_ms(moment), moment
    if timestamp is not None:
        return timestamp, from_ms(timestamp)
    now = now_ms()
    return now, from_ms(now)


def _clean(fields: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    """Validate the writable fields present in `fields`; the cleaned values by model attribute."""
    cleaners = {
        "situation": lambda v: _required_text(v, "situation", errors),
        "decision": lambda v: _required_text(v, "decision", errors),
        "decision_reasoning": lambda v: _required_text(v, "decision_reasoning", errors),
        "outcome": lambda v: _outcome(v, errors),
        "situation_tags": lambda v: _string_list(v, "situation_tags", errors, unique=True),
        "lessons_learned": lambda v: _string_list(v, "lessons_learned", errors),
        "related_orders": lambda v: _string_list(v, "related_orders", errors, unique=True),
        "reflection": lambda v: _optional_text(v, "reflection", errors),
        "symbol": lambda v: _optional_text(v, "symbol", errors, max_length=20),
        "pnl": lambda v: _decimal(v, "pnl", errors, max_digits=20, places=8),
        "pnl_percentage": lambda v: _decimal(v, "pnl_percentage", errors, max_digits=10, places=4),
        "importance_score": lambda v: _importance(v, errors),
        "decision_id": lambda v: _decision(v, errors),
    }
    cleaned = {name: cleaners[name](value) for name, value in fields.items() if name in cleaners}
    if "decision_id" in cleaned:
        cleaned["decision_ref_id"] = cleaned.pop("decision_id")
    if "timestamp" in fields or "datetime" in fields:
        moment = _moment(fields.get("timestamp"), fields.get("datetime"), errors)
        if moment is not None:
            cleaned["timestamp"], cleaned["datetime"] = moment
    return cleaned


def _experience_id(value: Any, errors: _Errors) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors["id"] = "The id must be a non-empty string."
        return None
    if len(value) > 100:
        errors["id"] = "The id must be at most 100 characters."
        return None
    return value


def _new_experience(fields: Mapping[str, Any], errors: _Errors) -> Experience | None:
    unknown = set(fields) - set(WRITABLE_FIELDS) - {"id"}
    for name in sorted(unknown):
        errors[name] = f"{name!r} is not a field of an experience."
    experience_id = _experience_id(fields.get("id"), errors)
    values = {name: fields.get(name) for name in WRITABLE_FIELDS if name not in ("timestamp", "datetime")}
    values["importance_score"] = fields.get("importance_score", DEFAULT_IMPORTANCE)
    values["timestamp"], values["datetime"] = fields.get("timestamp"), fields.get("datetime")
    cleaned = _clean(values, errors)
    if errors:
        return None
    return Experience(id=experience_id, **cleaned)


# --- writes -------------------------------------------------------------------------------------


@transaction.atomic
def experience_create(
    *,
    id: str,
    situation: str,
    decision: str,
    decision_reasoning: str,
    outcome: Outcome | str,
    situation_tags: list[str] | None = None,
    decision_id: str | None = None,
    pnl: Decimal | str | None = None,
    pnl_percentage: Decimal | str | None = None,
    reflection: str | None = None,
    lessons_learned: list[str] | None = None,
    importance_score: Decimal | str | float = DEFAULT_IMPORTANCE,
    related_orders: list[str] | None = None,
    symbol: str | None = None,
    timestamp: int | None = None,
    datetime: dt.datetime | None = None,
) -> Experience:
    """Record one experience. Either `timestamp` (epoch ms) or `datetime` (aware) may be given;
    neither means now. Raises ValidationError naming each bad field (nothing is written)."""
    fields = dict(locals())
    errors = _Errors()
    experience = _new_experience(fields, errors)
    if experience is not None and Experience.objects.filter(pk=experience.id).exists():
        errors["id"] = f"An experience with id {experience.id!r} already exists."
    errors.check()
    try:
        with transaction.atomic():
            experience.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationError({"id": f"An experience with id {experience.id!r} already exists."}) from exc
    outbox_enqueue(experience_ids=[experience.id], operation=OutboxOperation.UPSERT)
    near_duplicates_flag_after_commit([experience.id])  # after the push: its point is there to compare
    return experience


@transaction.atomic
def experience_bulk_create(*, experiences: Iterable[Mapping[str, Any]]) -> list[Experience]:
    """Record many experiences at once (one INSERT, one outbox batch, one push after commit).

    Each item takes experience_create's keyword arguments. All or nothing: any bad item raises
    ValidationError with fields named `<index>.<field>`.
    """
    errors = _Errors()
    built: list[Experience] = []
    for index, fields in enumerate(experiences):
        item_errors = _Errors()
        for required in ("situation", "decision", "decision_reasoning", "outcome"):
            if required not in fields:
                item_errors[required] = f"The {required.replace('_', ' ')} is required."
        experience = _new_experience(fields, item_errors)
        errors.update({f"{index}.{name}": message for name, message in item_errors.items()})
        if experience is not None:
            built.append(experience)
    ids = [experience.id for experience in built]
    for experience_id in {i for i in ids if ids.count(i) > 1}:
        errors[f"{ids.index(experience_id)}.id"] = f"The id {experience_id!r} appears more than once."
    for experience_id in Experience.objects.filter(pk__in=ids).values_list("pk", flat=True):
        errors[f"{ids.index(experience_id)}.id"] = f"An experience with id {experience_id!r} already exists."
    errors.check()
    Experience.objects.bulk_create(built)
    outbox_enqueue(experience_ids=ids, operation=OutboxOperation.UPSERT)
    near_duplicates_flag_after_commit(ids)
    return built


@transaction.atomic
def experience_update(*, experience: Experience, **fields: Any) -> Experience:
    """Change some fields of an experience (keyword = model field; `decision_id` for the decision).

    Returns the saved row, locked and re-read for the change. Fields that do not exist, or
    `id`, `created_at` and `updated_at`, are refused. Nothing to change writes nothing.
    """
    errors = _Errors()
    for name in sorted(set(fields) - set(WRITABLE_FIELDS)):
        errors[name] = (
            f"{name!r} cannot be changed."
            if name in ("id", "created_at", "updated_at")
            else f"{name!r} is not a field of an experience."
        )
    errors.check()
    current = Experience.objects.select_for_update().filter(pk=experience.pk).first()
    if current is None:
        raise ValidationError({"id": f"No experience with id {experience.pk!r} (deleted meanwhile?)."})
    if ("timestamp" in fields) != ("datetime" in fields):
        # One of the pair given: the other follows it.
        fields = {**fields, "timestamp": fields.get("timestamp"), "datetime": fields.get("datetime")}
    cleaned = _clean(fields, errors)
    errors.check()
    changed = [name for name, value in cleaned.items() if getattr(current, name) != value]
    if not changed:
        return current
    for name in changed:
        setattr(current, name, cleaned[name])
    current.save(update_fields=changed)
    outbox_enqueue(experience_ids=[current.pk], operation=OutboxOperation.UPSERT)
    return current


def experience_annotate(
    *,
    experience: Experience,
    reflection: str | None = UNSET,
    lessons_learned: list[str] | None = UNSET,
    situation_tags: list[str] | None = UNSET,
    importance_score: Decimal | str | float = UNSET,
) -> Experience:
    """An operator's review: reflection, lessons, tags and importance (only those given change)."""
    given = {
        "reflection": reflection,
        "lessons_learned": lessons_learned,
        "situation_tags": situation_tags,
        "importance_score": importance_score,
    }
    return experience_update(
        experience=experience, **{name: value for name, value in given.items() if value is not UNSET}
    )


@transaction.atomic
def experience_delete(*, experience: Experience) -> None:
    """Delete an experience; its point leaves long-term memory after commit."""
    deleted, _ = Experience.objects.filter(pk=experience.pk).delete()
    if deleted:
        outbox_enqueue(experience_ids=[experience.pk], operation=OutboxOperation.DELETE)


# --- bulk reviews ---------------------------------------------------------------------------------


def _locked(experience_ids: Iterable[str]):
    # Locked in id order, so two bulk reviews over overlapping selections cannot deadlock.
    return Experience.objects.filter(pk__in=list(experience_ids)).select_for_update().order_by("pk")


@transaction.atomic
def experiences_set_importance(
    *, experience_ids: Iterable[str], importance_score: Decimal | str | float
) -> int:
    """Give every listed experience this importance; all or nothing. Returns how many changed."""
    errors = _Errors()
    score = _importance(importance_score, errors)
    errors.check()
    changed = 0
    for experience in _locked(experience_ids):
        if experience.importance_score != score:
            experience_annotate(experience=experience, importance_score=score)
            changed += 1
    return changed


@transaction.atomic
def experiences_tag(
    *, experience_ids: Iterable[str], add: str | None = None, remove: str | None = None
) -> int:
    """Add one tag to, or remove one from, every listed experience; all or nothing.

    Returns how many experiences changed (one that already has / lacks the tag is left alone).
    """
    if (add is None) == (remove is None):
        raise ValueError("Give exactly one of add= and remove=.")
    errors = _Errors()
    cleaned = _string_list([add if add is not None else remove], "situation_tags", errors)
    errors.check()
    tag = cleaned[0]
    changed = 0
    for experience in _locked(experience_ids):
        tags = list(experience.situation_tags or [])
        if add is not None and tag not in tags:
            experience_annotate(experience=experience, situation_tags=[*tags, tag])
            changed += 1
        elif remove is not None and tag in tags:
            experience_annotate(experience=experience, situation_tags=[t for t in tags if t != tag])
            changed += 1
    return changed
