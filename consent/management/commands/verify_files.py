from django.core.management.base import BaseCommand, CommandError

from consent.stored_files import check_files


class Command(BaseCommand):
    help = ("Check every stored file a record points at (signed consents and masters, TMF documents and exports, "
            "documents): present in the file store (disk or object store), with the hash recorded for it, and every "
            "signed PDF's signature valid. Exit 0 when all are, 1 listing the problems otherwise.")

    def add_arguments(self, parser):
        parser.add_argument("--no-signatures", action="store_true", help="Check presence and hashes only.")

    def handle(self, *args, no_signatures=False, **options):
        result = check_files(signatures=not no_signatures)
        for problem in result.problems:
            self.stderr.write(problem)
        if result.problems:
            raise CommandError(f"{len(result.problems)} problem(s) among {result.checked} stored files.")
        self.stdout.write(self.style.SUCCESS(
            f"{result.checked} stored files present with their recorded hashes; {result.signatures} signed PDFs "
            "verified."))
