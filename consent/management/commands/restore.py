from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from consent.backup import BackupError, restore
from consent.stored_files import check_files
from regulatory import audit
from regulatory.audit import verify_chain


class Command(BaseCommand):
    help = ("Restore a folder written by `manage.py backup` into the configured database and file store, which must "
            "be new and empty (DATABASE_URL; TRIALDOCS_S3_BUCKET or TRIALDOCS_MEDIA_ROOT). Every hash of the backup "
            "is checked first; afterwards the audit trail's chain, every record's file and hash and every signed "
            "PDF's signature are checked. Exit 0 only when all hold.")

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)

    def handle(self, *args, folder: Path, **options):
        try:
            result = restore(folder)
        except BackupError as error:
            raise CommandError(f"Restore refused: {error}") from error
        self.stdout.write(f"Restored the database {result.database} and {result.objects} files.")
        failure = verify_chain()
        if failure is not None:
            entry, problem = failure
            raise CommandError(f"Restored, but the audit trail is broken at entry #{entry.sequence}: {problem}.")
        files = check_files()
        for problem in files.problems:
            self.stderr.write(problem)
        if files.problems:
            raise CommandError(f"Restored, but {len(files.problems)} stored file(s) are missing or altered.")
        with transaction.atomic():
            audit.record(actor=None, action="storage.restored", object_type="storage",
                         object_repr=f"restored from {Path(folder).name}"[:255],
                         changes={"files": [None, result.objects], "checked": [None, files.checked],
                                  "signatures": [None, files.signatures]})
        self.stdout.write(self.style.SUCCESS(
            f"Audit trail intact; {files.checked} stored files present with their hashes; {files.signatures} signed "
            "PDFs verified."))
