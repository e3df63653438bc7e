from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.backup import BackupError, backup


class Command(BaseCommand):
    help = ("Back up the installation into a new folder under DESTINATION: the database (pg_dump, or SQLite's online "
            "backup), every file of the file store (object store bucket or media folder) and manifest.json with each "
            "file's SHA-256. The signing keys are not included: back them up on their own.")

    def add_arguments(self, parser):
        parser.add_argument("destination", type=Path)

    def handle(self, *args, destination: Path, **options):
        try:
            result = backup(destination)
        except (BackupError, OSError) as error:
            raise CommandError(f"Backup failed, nothing kept: {error}") from error
        self.stdout.write(self.style.SUCCESS(f"Backup written: {result.folder} ({result.objects} files, "
                                             f"{result.size} bytes, plus the database)."))
        self.stdout.write(str(result.folder))
