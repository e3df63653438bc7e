from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regulatory.tmf import exchange

from .tmf_index import trial_or_error


class Command(BaseCommand):
    help = ("File the documents of an eTMF exchange package in a trial whose sites use the same codes; the "
            "package is checked first (EMS schema, checksums, inventory, hostile content) and refused whole if "
            "anything is wrong; objects TrialDocs cannot file (unknown artifact or level…) are listed with the reason.")

    def add_arguments(self, parser):
        parser.add_argument("package", type=Path, help="the .zip package")
        parser.add_argument("--trial", required=True, help="NCT number of the trial to file into")

    def handle(self, *args, package: Path, trial: str, **options):
        trial = trial_or_error(trial)
        if not package.is_file():
            raise CommandError(f"No package at {package}.")
        try:
            result = exchange.import_package(package, trial=trial, actor=None)
        except ValidationError as error:
            raise CommandError("Package refused, nothing imported:\n  - " + "\n  - ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"{len(result.documents)} documents imported into {trial.nct_number}."))
        if result.refused:
            self.stdout.write(self.style.WARNING(
                f"{len(result.refused)} objects not filed:\n  - " + "\n  - ".join(result.refused)))
