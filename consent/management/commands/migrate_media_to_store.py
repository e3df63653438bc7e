from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cms.storage import ensure_bucket, is_object_store
from consent.stored_files import digest_of, references, stored_digest
from regulatory import audit


class Command(BaseCommand):
    help = ("Copy an installation's stored files from the local disk (TRIALDOCS_MEDIA_ROOT) to the object store "
            "configured by TRIALDOCS_S3_*, under the same names: each file's hash is checked against the one "
            "recorded for it before copying and read back from the store after. Resumable: a file already in the "
            "store with the right hash is skipped, so a second run changes nothing. Audited.")

    def add_arguments(self, parser):
        parser.add_argument("--source", type=Path, default=None,
                            help="The media folder to read (default: TRIALDOCS_MEDIA_ROOT).")
        parser.add_argument("--delete-local", action="store_true",
                            help="Remove each local file once its copy in the store is verified.")

    def handle(self, *args, source=None, delete_local=False, **options):
        if not is_object_store(default_storage):
            raise CommandError("No object store is configured: set TRIALDOCS_S3_ENDPOINT_URL (or TRIALDOCS_S3_BUCKET) "
                               "and its credentials first (README, Configuration).")
        ensure_bucket(default_storage)
        local = FileSystemStorage(location=source or settings.MEDIA_ROOT)
        copied, present, removed, problems = [], 0, 0, []
        for reference in references():
            algorithm, name = reference.kind.algorithm, reference.name
            in_store = stored_digest(name, algorithm)
            if in_store is not None and (not reference.expected or in_store[0] == reference.expected):
                present += 1
            else:
                try:
                    with local.open(name, "rb") as handle:
                        digest, _size = digest_of(handle, algorithm)
                        if reference.expected and digest != reference.expected:
                            problems.append(f"{reference}: the local file's {algorithm} is {digest}, not the "
                                            f"recorded {reference.expected}; not copied")
                            continue
                        handle.seek(0)
                        written = default_storage._save(name, handle)  # the same name: records stay as they are
                except FileNotFoundError:
                    problems.append(f"{reference}: missing from {local.location} and from the store")
                    continue
                check = stored_digest(written, algorithm)
                if written != name or check is None or check[0] != digest:
                    problems.append(f"{reference}: the copy in the store does not read back identical")
                    continue
                copied.append(name)
                self.stdout.write(f"copied {name}")
            if delete_local and local.exists(name):
                local.delete(name)
                removed += 1
        if copied or removed:
            with transaction.atomic():
                audit.record(actor=None, action="storage.media_migrated", object_type="storage",
                             object_repr=f"{len(copied)} file(s) copied to the object store",
                             changes={"copied": [None, len(copied)], "already_there": [None, present],
                                      "local_removed": [None, removed], "problems": [None, len(problems)]})
        for problem in problems:
            self.stderr.write(problem)
        summary = (f"{len(copied)} file(s) copied, {present} already in the store with the right hash, "
                   f"{removed} local file(s) removed, {len(problems)} problem(s).")
        if problems:
            raise CommandError(summary + " Fix them and run the command again: it resumes where it stopped.")
        self.stdout.write(self.style.SUCCESS(summary))
