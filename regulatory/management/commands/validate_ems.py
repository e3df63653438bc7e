from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regulatory.tmf import exchange


class Command(BaseCommand):
    help = ("Check an eTMF Exchange Mechanism Standard package (ours or another system's): a safe zip, exchange.xml "
            "valid against the official EMS schema (TmfReferenceModelExchange.xsd), every file present with the "
            "checksum the inventory gives; then list the objects TrialDocs would not file, and why. Writes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("package", type=Path, help="the .zip package")

    def handle(self, *args, package: Path, **options):
        if not package.is_file():
            raise CommandError(f"No package at {package}.")
        problems = exchange.verify_package(package)
        if not problems:
            try:
                count, not_filed = exchange.filing_report(package)
            except ValidationError as error:  # changed on disk since it was verified
                problems = error.messages
        if problems:
            raise CommandError(f"{package} is not a valid EMS package:\n  - " + "\n  - ".join(problems))
        self.stdout.write(self.style.SUCCESS(
            f"{package} is a valid EMS package: exchange.xml follows the EMS schema, {count} objects, every file "
            "present and matching its checksum."))
        if not_filed:
            self.stdout.write(self.style.WARNING(
                f"{len(not_filed)} objects TrialDocs would not file:\n  - " + "\n  - ".join(not_filed)))
