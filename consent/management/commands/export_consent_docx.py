from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent import selectors, services
from regulatory.models import ConsentKind, TrialPage


class Command(BaseCommand):
    help = "Export, as a Word file, the consent-form version in force at a site (for an ethics submission)."

    def add_arguments(self, parser):
        parser.add_argument("--trial", required=True)
        parser.add_argument("--site", required=True)
        parser.add_argument("--kind", required=True, choices=ConsentKind.values)
        parser.add_argument("--language", default="fr", choices=["fr", "en"])
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args, trial, site, kind, language, out: Path, **options):
        trial_page = TrialPage.objects.filter(nct_number=trial).first()
        site_row = trial_page.sites.filter(code=site.upper()).first() if trial_page else None
        if site_row is None:
            raise CommandError(f"No site {site} in trial {trial}.")
        version = selectors.current_version(site=site_row, kind=kind, language=language)
        if version is None:
            raise CommandError(f"No {kind} form in {language} is in force at {site_row.code}.")
        try:
            out.write_bytes(services.consent_version_export(version))
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror}") from error
        self.stdout.write(self.style.SUCCESS(f"{out} written: {version}"))
