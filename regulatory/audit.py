"""The single entry point of the audit trail: every write that matters calls `record`.

Entries carry the actor, the UTC server time, the action, the object and its old → new values, and the
request id and client address of the request that caused them.
"""

import datetime
import decimal
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import connection, models, transaction
from django.utils import timezone

from cms.middleware import current_request

from .models import AuditEntry

SYSTEM_ACTOR = "system"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value differs, as {field: [old, new]} in JSON-ready form."""
    changes = {}
    for field in sorted(set(old) | set(new)):
        before, after = _jsonable(old.get(field)), _jsonable(new.get(field))
        if before != after:
            changes[field] = [before, after]
    return changes


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The audited values of `obj`, foreign keys as their primary key."""
    values = {}
    for name in fields:
        field = obj._meta.get_field(name)
        values[name] = getattr(obj, field.attname)
    return values


def request_user():
    """The logged-in user of the current request, or None (management commands, cron, anonymous)."""
    info = current_request.get()
    return info.user if info else None


# What belongs to a site, by audit object type ("consent.participant"): object type → (sites → the pks of their
# objects of that type). The audit viewer hides the entries about them from a reader of some sites only
# (`audit_views`). Regulatory's own types are listed there; other apps add theirs from their AppConfig.ready().
SITE_OWNED: dict[str, Any] = {}


def register_site_owned(object_type: str, objects_of_sites) -> None:
    """Entries about objects of `object_type` belong to a site: `objects_of_sites(sites)` gives those objects."""
    SITE_OWNED[object_type.lower()] = objects_of_sites


# Relations followed, in this order, from an object without a trial of its own to one that has it: a consent
# record's participant, a participant's or activation's site, an activation's version page, a role group's trial.
_TRIAL_HOPS = ("site", "participant", "activation", "effectivity", "version", "trial_role")


def trial_of(obj: Any, *, _depth: int = 0) -> int | None:
    """The primary key of the trial `obj` belongs to, or None when it belongs to none (accounts, logins).

    A trial itself; anything with a `trial` foreign key or attribute (sites, role groups, collections, TMF
    documents, inspection windows); a Wagtail page under a trial; else through the relations above."""
    from wagtail.models import Page

    from .models import TrialPage

    if obj is None or _depth > 3:
        return None
    if isinstance(obj, TrialPage):
        return obj.pk
    try:
        field = obj._meta.get_field("trial")
    except (AttributeError, FieldDoesNotExist):
        field = None
    if field is not None and field.many_to_one and issubclass(field.related_model, TrialPage):
        trial_id = getattr(obj, field.attname, None)
        if trial_id is not None:
            return trial_id
    elif field is None:
        trial = getattr(obj, "trial", None)
        if isinstance(trial, TrialPage):
            return trial.pk
    if isinstance(obj, Page) and obj.path:
        trial_id = TrialPage.objects.ancestor_of(obj, inclusive=True).values_list("pk", flat=True).first()
        if trial_id is not None:
            return trial_id
    for name in _TRIAL_HOPS:
        try:
            related = getattr(obj, name, None)
        except ObjectDoesNotExist:
            related = None
        if isinstance(related, models.Model):
            trial_id = trial_of(related, _depth=_depth + 1)
            if trial_id is not None:
                return trial_id
    return None


def record(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    object_repr: str = "",
    changes: Mapping[str, Any] | None = None,
    reason: str = "",
    trial=None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEntry:
    """Append one audit entry. Call it inside the transaction of the write it records.

    The entry's trial comes from `obj` (see `trial_of`) unless `trial` (a trial or its primary key) is given.
    `object_type` and `object_id` name an object that is not at hand (one already deleted), when `obj` is None.
    """
    info = current_request.get()
    user = actor if actor is not None and not isinstance(actor, AnonymousUser) else None
    explicit = trial.pk if isinstance(trial, models.Model) else trial
    trial_id = trial_of(obj) if explicit is None else int(explicit)
    entry = AuditEntry(
        actor=user,
        actor_label=user.get_username() if user else SYSTEM_ACTOR,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else object_type[:100],
        object_id=str(obj.pk) if obj is not None else str(object_id)[:64],
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:255],
        trial_id=trial_id,
        changes=_jsonable(dict(changes or {})),
        reason=reason,
        request_id=info.request_id if info else "",
        ip_address=info.ip_address if info else None,
        timestamp=timezone.now(),
    )
    with transaction.atomic():
        _lock_chain_head()
        last = AuditEntry.objects.order_by("-sequence").values("sequence", "entry_hash").first()
        entry.sequence = (last["sequence"] if last else 0) + 1
        entry.previous_hash = last["entry_hash"] if last else GENESIS
        entry.changes = json.loads(json.dumps(entry.changes, sort_keys=True))  # as the database gives it back
        entry.entry_hash = entry.compute_hash()
        entry.save()
    return entry


GENESIS = "0" * 64
CHAIN_LOCK = 7_310_000_001  # pg_advisory_xact_lock key: one writer appends to the chain at a time


def _lock_chain_head() -> None:
    """Appends are serialised: on PostgreSQL with a transaction-level advisory lock; SQLite writes one at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


def verify_chain():
    """The first entry whose hash or link is wrong, with what is wrong; None when the whole chain holds."""
    expected_previous, expected_sequence = GENESIS, 1
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=2000):
        if entry.sequence != expected_sequence:
            return entry, f"sequence {entry.sequence} where {expected_sequence} was expected (an entry is missing)"
        if entry.previous_hash != expected_previous:
            return entry, "its link to the previous entry is broken"
        if entry.compute_hash() != entry.entry_hash:
            return entry, "its content no longer matches its hash (it was altered)"
        expected_previous, expected_sequence = entry.entry_hash, expected_sequence + 1
    return None
