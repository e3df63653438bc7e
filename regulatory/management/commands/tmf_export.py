from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regulatory.tmf import exchange

from .tmf_index import trial_or_error


class Command(BaseCommand):
    help = "Write a trial's whole TMF as an eTMF Exchange Mechanism Standard package (zip with exchange.xml)."

    def add_arguments(self, parser):
        parser.add_argument("--trial", required=True, help="NCT number, e.g. NCT07063680")
        parser.add_argument("--out", required=True, type=Path, help="the .zip file to write")

    def handle(self, *args, trial: str, out: Path, **options):
        trial = trial_or_error(trial)
        if out.is_dir():
            raise CommandError(f"Cannot write {out}: it is a folder; give a .zip file name.")
        try:
            summary = exchange.export_package(trial, out, user=None)
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror or error}") from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(
            f"{out} written: {summary.count} documents of {trial.nct_number}, SHA-256 {summary.sha256}"))
