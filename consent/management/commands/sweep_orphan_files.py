from datetime import timedelta

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from consent.stored_files import all_names, referenced_names
from regulatory import audit


class Command(BaseCommand):
    help = ("List the stored files no record points at (left by a process killed between writing a file and "
            "committing its record), older than --min-age minutes; with --delete, remove them (one audit entry "
            "naming them). A file younger than that may belong to a transaction still running: it is left alone.")

    def add_arguments(self, parser):
        parser.add_argument("--delete", action="store_true", help="Remove the orphans listed (audited).")
        parser.add_argument("--min-age", type=int, default=60, metavar="MINUTES",
                            help="Only files older than this (default 60; 0: every orphan, when nothing else runs).")

    def handle(self, *args, delete=False, min_age=60, **options):
        referenced = referenced_names()
        cutoff = timezone.now() - timedelta(minutes=max(min_age, 0))
        orphans = []
        for name in all_names(default_storage):
            if name in referenced or name.rsplit("/", 1)[-1].startswith("."):
                continue
            if min_age > 0 and default_storage.get_modified_time(name) > cutoff:
                continue
            orphans.append(name)
            self.stdout.write(name)
        if not orphans:
            self.stdout.write(f"No orphan file older than {min_age} minutes.")
            return
        if not delete:
            self.stdout.write(f"{len(orphans)} orphan file(s); run again with --delete to remove them.")
            return
        removed, referenced = [], referenced_names()  # again: a record may have been committed meanwhile
        for name in orphans:
            if name in referenced:
                continue
            default_storage.delete(name)
            removed.append(name)
        with transaction.atomic():
            audit.record(actor=None, action="storage.orphans_swept", object_type="storage",
                         object_repr=f"{len(removed)} orphan file(s)",
                         changes={"removed": [None, removed], "count": [None, len(removed)]})
        self.stdout.write(self.style.SUCCESS(f"{len(removed)} orphan file(s) removed (audited)."))
