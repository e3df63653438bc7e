from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from regulatory import audit
from regulatory.models import TrialPage
from regulatory.tmf import exchange

FORMATS = ("csv", "xlsx")


def trial_or_error(nct: str) -> TrialPage:
    trial = TrialPage.objects.filter(nct_number__iexact=nct.strip()).first()
    if trial is None:
        raise CommandError(f"No trial with the NCT number {nct!r}.")
    return trial


class Command(BaseCommand):
    help = "Write the index of a trial's TMF (one row per document, with its SHA-256) as CSV or Excel."

    def add_arguments(self, parser):
        parser.add_argument("--trial", required=True, help="NCT number, e.g. NCT07063680")
        parser.add_argument("--format", default="csv", help="csv (UTF-8 with BOM) or xlsx")
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args, trial: str, format: str, out: Path, **options):
        fmt = format.lower().strip()
        if fmt not in FORMATS:
            raise CommandError(f"Unknown format {format!r}: use csv or xlsx.")
        trial = trial_or_error(trial)
        if out.is_dir():
            raise CommandError(f"Cannot write {out}: it is a folder; give a file name.")
        rows = exchange.index_rows(trial, None)
        try:
            exchange.write_index(rows, fmt, out)
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror or error}") from error
        audit.record(actor=None, action="tmf.index_exported", obj=trial,
                     changes={"documents": [None, len(rows)], "format": [None, fmt], "file": [None, out.name]})
        self.stdout.write(self.style.SUCCESS(f"{out} written: {len(rows)} documents of {trial.nct_number} ({fmt})."))
