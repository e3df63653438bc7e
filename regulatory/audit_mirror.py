"""Wagtail's own log (page history, workflow steps, snippet and user edits) mirrored into the audit trail.

Wagtail writes a `PageLogEntry` or `ModelLogEntry` for what is done in its administration: creating, editing,
publishing, unpublishing, moving, locking a page, each workflow step (submit, approve, reject, cancel), edits of
snippets and users. Those rows can be changed or deleted like any other; the hash-chained audit trail cannot.
So every new Wagtail log entry is copied, as it is written, into one audit entry:

- action: ``wagtail.<action>`` (Wagtail's actions already read ``wagtail.publish``, ``wagtail.workflow.approve``…);
- actor: the log entry's user (the system when none);
- object: the page, or the logged object's type, id and label;
- changes: Wagtail's ``data``, with the revision id and the log entry's id and uuid when present.

Everything is mirrored, including events the project also records itself with its old → new values
(``trial.published`` from `receivers.audit_page_published`, site edits): the two entries say different things
(Wagtail's revision and workflow context; the project's field diff) and are told apart by their action prefix.
The project's own services write pages with ``log_action=False``, so they give no Wagtail entry to mirror.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models.signals import post_save
from django.dispatch import receiver

from . import audit

PREFIX = "wagtail."
ACTION_MAX_LENGTH = 64


def audit_action(log_action: str) -> str:
    """Wagtail's action under the ``wagtail.`` prefix (its own actions already carry it)."""
    action = log_action if log_action.startswith(PREFIX) else PREFIX + log_action
    return action[:ACTION_MAX_LENGTH]


def _actor(log_entry):
    if log_entry.user_id is None:
        return None
    # Wagtail keeps the user id without a foreign key constraint: the account may be gone.
    return get_user_model()._default_manager.filter(pk=log_entry.user_id).first()


def _logged_object(log_entry):
    """The logged object when it still exists (for its trial), else None."""
    from wagtail.models import Page, PageLogEntry

    if isinstance(log_entry, PageLogEntry):
        return Page.objects.filter(pk=log_entry.page_id).first()
    content_type = log_entry.content_type
    model = content_type.model_class() if content_type is not None else None
    if model is None:
        return None
    try:
        return model._default_manager.filter(pk=log_entry.object_id).first()
    except (ValueError, TypeError, ValidationError):  # an id its model cannot read
        return None


def _object_type(log_entry) -> str:
    content_type = log_entry.content_type
    return f"{content_type.app_label}.{content_type.model}" if content_type is not None else ""


def _changes(log_entry) -> dict:
    changes = {"data": log_entry.data or {}}
    if log_entry.revision_id is not None:
        changes["revision_id"] = log_entry.revision_id
    changes["wagtail_log_entry"] = log_entry.pk
    if log_entry.uuid is not None:
        changes["wagtail_log_uuid"] = str(log_entry.uuid)
    return changes


@receiver(post_save, sender="wagtailcore.PageLogEntry", dispatch_uid="trialdocs_audit_mirror_page_log")
@receiver(post_save, sender="wagtailcore.ModelLogEntry", dispatch_uid="trialdocs_audit_mirror_model_log")
def mirror_log_entry(sender, instance, created, raw=False, **kwargs):
    """post_save of Wagtail's log entry models: one audit entry per new log entry."""
    if not created or raw:
        return
    from wagtail.models import PageLogEntry

    obj = _logged_object(instance)
    object_id = str(instance.page_id) if isinstance(instance, PageLogEntry) else str(instance.object_id)
    # The specific page type (regulatory.trialpage…), as the project's own entries name pages.
    object_type = _object_type(instance)
    entry_kwargs = {"obj": None, "object_type": object_type, "object_id": object_id}
    if obj is not None and object_type and obj._meta.label_lower == object_type:
        entry_kwargs = {"obj": obj}
    audit.record(
        actor=_actor(instance),
        action=audit_action(instance.action),
        object_repr=(instance.label or "")[:255],
        changes=_changes(instance),
        trial=audit.trial_of(obj),
        **entry_kwargs,
    )
