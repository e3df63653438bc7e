"""Storing a file for a record: all of it, or nothing left behind."""

import contextlib

from django.utils.translation import gettext_lazy as _


class StorageFailed(OSError):
    """The file could not be written (disk full, permissions, unavailable volume); nothing of it remains."""

    message = _("The file could not be stored (the server's disk is full or unavailable): nothing was recorded. "
                "Try again later, or tell the administrator.")


def save_whole(field_file, name: str, content) -> None:
    """`field_file.save(name, content, save=False)`, except that a failed write (ENOSPC on a full disk, EIO…)
    removes what was partly written and raises `StorageFailed`. Django's FileSystemStorage leaves a truncated file
    behind when a write fails half-way; a record must never point at one, nor a file outlive its record."""
    target = field_file.field.generate_filename(field_file.instance, name)
    try:
        field_file.save(name, content, save=False)
    except OSError as error:
        written = field_file.name or target
        with contextlib.suppress(OSError):
            field_file.storage.delete(written)
        field_file.name = None
        raise StorageFailed(str(error)) from error
