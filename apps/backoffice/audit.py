"""Every operator write on the admin site goes on the record (apps/system_events/audit.py).

The site wraps each registered admin in `AuditedAdminMixin`: Django's own history of a form's save or a
deletion is kept, and each also becomes an `operator_action` system event naming the user. Bulk actions
that change rows call `operator_action_record` themselves (admin.py), since Django writes no history
for them.
"""

from __future__ import annotations

from django.contrib.admin.models import LogEntry

from apps.system_events.audit import operator_action_record


def _entry_text(entry) -> str:
    entry = entry[0] if isinstance(entry, list) else entry
    return entry.get_change_message() if isinstance(entry, LogEntry) else ""


class AuditedAdminMixin:
    """Form saves and deletions through the admin, as system events as well as history entries.

    An admin whose service writes the trail itself (with more than the form knows) sets
    `writes_own_trail = True`.
    """

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        if entry is None or getattr(self, "writes_own_trail", False):
            return entry  # the admin wrote (or chose not to write) its own trail
        operator_action_record(
            user=request.user,
            action=f"{obj._meta.model_name}_add",
            message=f"added {obj._meta.verbose_name} “{obj}”",
            objects=[obj],
            kind="add",
            history=False,
        )
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        if entry is None or getattr(self, "writes_own_trail", False):
            return entry
        what = _entry_text(entry) or "No fields changed."
        operator_action_record(
            user=request.user,
            action=f"{obj._meta.model_name}_change",
            message=f"changed {obj._meta.verbose_name} “{obj}”: {what}",
            objects=[obj],
            history=False,
        )
        return entry

    def log_deletions(self, request, queryset):
        objects = list(queryset)
        entries = super().log_deletions(request, objects)
        if objects:
            operator_action_record(
                user=request.user,
                action=f"{objects[0]._meta.model_name}_delete",
                message="deleted " + ", ".join(f"“{o}”" for o in objects[:10]),
                objects=objects,
                kind="delete",
                history=False,
            )
        return entries


def audited(admin_class: type) -> type:
    """`admin_class` with AuditedAdminMixin in front (once)."""
    if issubclass(admin_class, AuditedAdminMixin):
        return admin_class
    return type(
        admin_class.__name__, (AuditedAdminMixin, admin_class), {"__module__": admin_class.__module__}
    )
