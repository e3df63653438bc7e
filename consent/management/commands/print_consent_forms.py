from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent import masters, selectors
from consent.pki import SigningUnavailable
from regulatory.models import TrialPage


class Command(BaseCommand):
    help = "Write the consent forms in force at a site as one PDF: the sponsor-signed master of that bulk print."

    def add_arguments(self, parser):
        parser.add_argument("--trial", required=True, help="NCT number, e.g. NCT07063680")
        parser.add_argument("--site", required=True, help="site code, e.g. DIJ")
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args, trial: str, site: str, out: Path, **options):
        trial_page = TrialPage.objects.filter(nct_number=trial).first()
        if trial_page is None:
            raise CommandError(f"No trial {trial}.")
        site_row = trial_page.sites.filter(code=site.upper()).first()
        if site_row is None:
            raise CommandError(f"No site {site} in {trial}.")
        versions = [period.version for period in selectors.current_forms(site=site_row)]
        if not versions:
            raise CommandError(f"No consent form is in force at {site_row.code}.")
        try:
            master = masters.signed_master(versions=versions, site=site_row, trial=trial_page)
        except SigningUnavailable as error:
            raise CommandError(str(error)) from error
        try:
            with master.file.open("rb") as source:
                out.write_bytes(source.read())
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror}") from error
        for version in versions:
            self.stdout.write(f"{version} — {version.version_date:%d/%m/%Y}")
        self.stdout.write(self.style.SUCCESS(f"{out} written (SHA-256 {master.sha256})."))
