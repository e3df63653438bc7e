"""Storing a file for a record: all of it, or nothing left behind.

A record is never committed without its object: the object is written first (`save_whole`), the record after, in
the caller's transaction. An object whose record is then rolled back is removed: `save_whole` remembers it until its
transaction commits, and `discard_rolled_back` (called after every request by `cms.middleware.StoredFilesMiddleware`,
and by the services' own error paths) deletes those whose transaction rolled back. What a crash leaves behind (the
process killed between the write and the commit) is listed and removed by `manage.py sweep_orphan_files`.
"""

import contextlib
import logging
import threading

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from cms.storage import is_unavailable

logger = logging.getLogger(__name__)


class StorageFailed(OSError):
    """The file could not be written (disk full, permissions, unavailable volume); nothing of it remains."""

    message = _("The file could not be stored (the server's disk is full or unavailable): nothing was recorded. "
                "Try again later, or tell the administrator.")


class StoreUnavailable(Exception):  # noqa: N818  # a state, as Http404
    """The object store cannot be reached (or answers with errors): answered 503 by StoredFilesMiddleware, nothing
    written. Deliberately not a StorageFailed, which callers turn into a form error."""

    message = _("The file store is unavailable at the moment: nothing was recorded. Try again in a few minutes; "
                "if it lasts, tell the administrator.")


def save_whole(field_file, name: str, content) -> None:
    """`field_file.save(name, content, save=False)`, except that a failed write (ENOSPC on a full disk, EIO…)
    removes what was partly written and raises `StorageFailed`, and an unreachable object store raises
    `StoreUnavailable`. Django's FileSystemStorage leaves a truncated file behind when a write fails half-way; a
    record must never point at one, nor a file outlive its record (see `remember_until_commit`)."""
    discard_rolled_back()
    target = field_file.field.generate_filename(field_file.instance, name)
    try:
        field_file.save(name, content, save=False)
    except Exception as error:
        written = field_file.name or target
        field_file.name = None
        if is_unavailable(error):
            delete_quietly(field_file.storage, written)
            raise StoreUnavailable(str(error)) from error
        if isinstance(error, OSError):
            delete_quietly(field_file.storage, written)
            raise StorageFailed(str(error)) from error
        raise
    remember_until_commit(field_file.storage, field_file.name)


def delete_quietly(storage, name: str | None) -> bool:
    """Delete `name`, saying whether it went; a failure (the store down) is logged, and the object is left to
    `sweep_orphan_files`."""
    if not name:
        return False
    try:
        storage.delete(name)
    except Exception:
        logger.warning("Could not delete %s from the file store; sweep_orphan_files will remove it", name,
                       exc_info=True)
        return False
    return True


# --- Objects of transactions not yet committed --------------------------------------------------------------------

_pending = threading.local()


class _Pending:
    __slots__ = ("storage", "name", "connection", "committed")

    def __init__(self, storage, name, connection):
        self.storage, self.name, self.connection, self.committed = storage, name, connection, False

    def __call__(self):  # the on_commit callback
        self.committed = True

    def waiting(self) -> bool:
        """Still in a transaction that may commit: Django drops an on_commit callback when its savepoint or
        transaction rolls back, so a callback that neither ran nor waits anymore was rolled back."""
        return any(callback is self for _sids, callback, *_ in self.connection.run_on_commit)


def remember_until_commit(storage, name: str, using=None) -> None:
    """Remove the object `name` if the current transaction (if any) rolls back instead of committing."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        return  # autocommit: the caller's own error path deletes it (and the sweep, after a crash)
    pending = _Pending(storage, name, connection)
    transaction.on_commit(pending, using=using)
    _items().append(pending)


def _items() -> list:
    if not hasattr(_pending, "items"):
        _pending.items = []
    return _pending.items


def discard_rolled_back() -> list[str]:
    """Delete the objects written in this thread whose transaction rolled back; returns their names."""
    removed, keep = [], []
    for pending in _items():
        if pending.committed:
            continue
        if pending.waiting():
            keep.append(pending)
        elif delete_quietly(pending.storage, pending.name):
            removed.append(pending.name)
    _items()[:] = keep
    return removed


@contextlib.contextmanager
def objects_follow_transaction():
    """Around a unit of work (a request, a task): on the way out, objects whose transaction rolled back are gone."""
    try:
        yield
    finally:
        discard_rolled_back()
