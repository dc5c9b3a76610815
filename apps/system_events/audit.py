"""What operators did to the record: the admin's history (LogEntry) and a system event naming the user.

Every operator write calls `operator_action_record` once, in the transaction of the write: the admin's
own history of each object changed (its "History" page and the index's "Recent actions") and one
`operator_action` system event for the whole action, so a feed of system events also says who switched
the live strategy, adopted a difference or reviewed a decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import models, transaction

from .models import Severity, SystemEvent
from .services import system_event_record

OPERATOR_ACTION = "operator_action"
FLAGS = {"add": ADDITION, "change": CHANGE, "delete": DELETION}
# A bulk action over thousands of rows names the first ones in the event; the history has them all.
EVENT_OBJECT_LIMIT = 100


@transaction.atomic
def operator_action_record(
    *,
    user,
    action: str,
    message: str,
    objects: Iterable[models.Model] = (),
    kind: str = "change",
    data: dict[str, Any] | None = None,
    history: bool = True,
) -> SystemEvent:
    """Record one operator action on `objects` (all of one model, or none).

    `action` is a short machine name ("experience_set_importance", "strategy_activate"); `message` says
    what was done in words ("set importance to 0.9"), and is kept on each object's history entry.
    `history=False` when Django's admin has already written the history entries (a form's save).
    """
    if kind not in FLAGS:
        raise ValueError(f"kind must be one of {', '.join(FLAGS)}, not {kind!r}")
    objects = list(objects)
    if history and objects:
        LogEntry.objects.log_actions(user.pk, objects, FLAGS[kind], message, single_object=len(objects) == 1)
    username = user.get_username()
    labels = sorted({obj._meta.label_lower for obj in objects})
    return system_event_record(
        event_type=OPERATOR_ACTION,
        severity=Severity.INFO,
        message=f"{username}: {message}" + _counted(objects),
        data={
            "user": username,
            "action": action,
            "model": labels[0] if len(labels) == 1 else labels,
            "count": len(objects),
            "objects": [str(obj.pk) for obj in objects[:EVENT_OBJECT_LIMIT]],
            **(data or {}),
        },
    )


def _counted(objects: Sequence[models.Model]) -> str:
    if not objects:
        return ""
    if len(objects) == 1:
        return f" ({objects[0]._meta.verbose_name} {objects[0].pk})"
    return f" ({len(objects)} {objects[0]._meta.verbose_name_plural})"
