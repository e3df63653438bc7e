import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from consent.fixity import verify_archive


class Command(BaseCommand):
    help = ("Fixity check of the archive: every stored file (TMF documents, signed masters, signed consent records, "
            "Wagtail documents) read back, its size and digest compared with its record, every signature validated. "
            "Prints a summary and writes a CSV of every problem. Exits 1 on any problem.")

    def add_arguments(self, parser):
        parser.add_argument("--trial", help="NCT number: only this trial's files")
        parser.add_argument("--site", help="site code (with --trial when several trials have it): only this site's")
        parser.add_argument("--csv", type=Path, help="where to write the CSV report (default var/fixity/…)")

    def handle(self, *args, trial=None, site=None, csv=None, **options):
        from regulatory.models import InvestigationalSite, TrialPage

        trial_obj = site_obj = None
        if trial:
            trial_obj = TrialPage.objects.filter(nct_number=trial).first()
            if trial_obj is None:
                raise CommandError(f"No trial {trial}.")
        if site:
            sites = InvestigationalSite.objects.filter(code=site)
            if trial_obj is not None:
                sites = sites.filter(trial=trial_obj)
            if sites.count() != 1:
                raise CommandError(f"No site {site}." if not sites.exists() else
                                   f"Several trials have a site {site}: name the trial with --trial.")
            site_obj = sites.get()
        interactive = sys.stderr.isatty()

        def progress(done, total):
            if interactive and (done == total or done % 10 == 0):
                self.stderr.write(f"\r{done}/{total} files checked", ending="")
                if done == total:
                    self.stderr.write("")

        result = verify_archive(trial=trial_obj, site=site_obj, progress=progress)
        path = csv or Path(settings.BASE_DIR) / "var" / "fixity" / \
            f"verify_archive-{timezone.now():%Y%m%dT%H%M%SZ}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.csv_text(), encoding="utf-8")
        self.stdout.write(result.summary())
        for problem in result.problems[:50]:
            self.stdout.write(f"{problem.problem.upper()}: {problem.kind} #{problem.object_id} {problem.file} "
                              f"{problem.detail}")
        if len(result.problems) > 50:
            self.stdout.write(f"… {len(result.problems) - 50} more in the report.")
        self.stdout.write(f"Report: {path}")
        if not result.ok:
            sys.exit(1)
