from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consent import export
from regulatory.models import InvestigationalSite, TrialPage


class Command(BaseCommand):
    help = ("Write every consent record of a site as one zip: each signed PDF (all records, named by participant "
            "code), index.csv and manifest.json (with each file's SHA-256) and SHA256SUMS. Each PDF is checked "
            "against the SHA-256 stored at signing; a missing or altered file refuses the export (nothing written) "
            "unless --flag-mismatches. The same records give the same bytes. Audited. "
            "Example: export_site_consents NCT07063680 DIJ /media/usb/dij-consents.zip")

    def add_arguments(self, parser):
        parser.add_argument("nct", help="the trial's NCT number")
        parser.add_argument("site", help="the site's code, e.g. DIJ")
        parser.add_argument("output", type=Path, help="the zip to write (refused if it exists, unless --overwrite)")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
        parser.add_argument("--flag-mismatches", action="store_true",
                            help="write the zip even when stored files are missing or altered, flagged in the index "
                                 "and the manifest (the command then exits with status 2)")
        parser.add_argument("--language", default=settings.LANGUAGE_CODE,
                            choices=[code for code, _ in settings.LANGUAGES],
                            help="language of the index's headings and labels (default: %(default)s)")

    def handle(self, *args, nct: str, site: str, output: Path, overwrite: bool, flag_mismatches: bool,
               language: str, **options):
        trial = TrialPage.objects.filter(nct_number=nct.strip().upper()).first()
        if trial is None:
            raise CommandError(f"No trial {nct}.")
        found = InvestigationalSite.objects.filter(trial=trial, code=site.strip().upper()).select_related(
            "trial").first()
        if found is None:
            codes = ", ".join(InvestigationalSite.objects.filter(trial=trial).order_by("code")
                              .values_list("code", flat=True)) or "none"
            raise CommandError(f"No site {site} in {trial.nct_number} (its sites: {codes}).")
        if output.is_dir():
            raise CommandError(f"{output} is a folder: give the path of the zip to write.")
        if not output.parent.is_dir():
            raise CommandError(f"Cannot write {output}: the folder {output.parent} does not exist.")
        if output.exists() and not overwrite:
            raise CommandError(f"{output} exists: give another path, or --overwrite.")
        try:
            result = export.export_to_path(found, output, strict=not flag_mismatches, language=language)
        except export.ExportRefused as refused:
            raise CommandError(
                f"Export refused, nothing written: {len(refused.problems)} stored file(s) missing or altered:\n  "
                + "\n  ".join(problem.in_english() for problem in refused.problems)
                + "\n(--flag-mismatches writes the zip with these records flagged.)") from None
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror or error}") from error
        summary = (f"{output} written: {result.records} consent record(s) of {result.participants} participant(s) "
                   f"of {trial.nct_number} {found.code}, {result.size} bytes, SHA-256 {result.sha256}")
        if result.problems:
            self.stderr.write(self.style.WARNING(summary))
            raise CommandError(
                f"{len(result.problems)} stored file(s) missing or altered, flagged in index.csv and manifest.json:\n  "
                + "\n  ".join(problem.in_english() for problem in result.problems), returncode=2)
        self.stdout.write(self.style.SUCCESS(summary))
