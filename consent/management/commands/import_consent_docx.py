import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from consent import services
from consent.docx import DocxRefused
from regulatory.models import ConsentKind, TrialPage
from regulatory.permissions import trials_managed


class Command(BaseCommand):
    help = ("Import a sponsor's Word file as a new DRAFT consent-form version and print its notes, its title and its "
            "identifier. A file with tracked changes or comments is refused unless --accept-tracked-changes gives the "
            "reason to keep them; a version number that already exists is refused.")

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--trial", required=True)
        parser.add_argument("--kind", required=True, choices=ConsentKind.values)
        parser.add_argument("--language", default="fr", choices=["fr", "en"])
        parser.add_argument("--version-number", default="", help="version number (default: the next major one)")
        parser.add_argument("--date", default="", help="version date, YYYY-MM-DD (default: today)")
        parser.add_argument("--title", default="", help="the version's title (default: the document's own first "
                                                        "title, else the form and its version)")
        parser.add_argument("--accept-tracked-changes", default="", metavar="REASON")
        parser.add_argument("--as-user", default="", help="the sponsor account the import is recorded under")

    def handle(self, *args, **options):
        trial = TrialPage.objects.filter(nct_number=options["trial"]).first()
        if trial is None:
            raise CommandError(f"No trial {options['trial']}.")
        actor = self._actor(options["as_user"], trial)
        try:
            data = options["path"].read_bytes()
            version_date = datetime.date.fromisoformat(options["date"]) if options["date"] else None
        except OSError as error:
            raise CommandError(f"Cannot read {options['path']}: {error.strerror}") from error
        except ValueError as error:
            raise CommandError(f"Bad --date: {error}") from error
        try:
            version, notes = services.consent_version_import(
                actor=actor, trial=trial, data=data, filename=options["path"].name, kind=options["kind"],
                language=options["language"], version_number=options["version_number"], version_date=version_date,
                title=options["title"], accept_tracked_changes_reason=options["accept_tracked_changes"])
        except DocxRefused as error:
            raise CommandError(f"Refused: {error.reason}") from error
        except ValidationError as error:
            raise CommandError("Refused: " + " ".join(error.messages)) from error
        for note in notes:
            self.stdout.write(f"note: {note}")
        self.stdout.write(f"title: {version.title}")
        self.stdout.write(f"{version.pk} {version.url_path.rstrip('/').rsplit('/', 1)[-1]} {version}")

    def _actor(self, username: str, trial):
        from django.contrib.auth import get_user_model

        users = get_user_model().objects.filter(is_active=True)
        user = users.filter(username=username).first() if username else users.filter(is_superuser=True).first()
        if user is None or trial not in trials_managed(user):
            raise CommandError("No sponsor or administrator account to record the import under (use --as-user).")
        return user
