from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.selectors import recognise_pdf


class Command(BaseCommand):
    help = ("Check a PDF: is its signature intact, who signed and when, and is it a copy of a document this "
            "system stored (a signed master of consent forms)? Exits 0 only when valid and matched.")

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error
        recognition = recognise_pdf(data)
        report = recognition.report
        self.stdout.write(f"File SHA-256:       {report.file_sha256}")
        self.stdout.write(f"Signature valid:    {'yes' if report.valid else 'NO'}")
        if report.signer_name:
            self.stdout.write(f"Signed by:          {report.signer_name}")
            self.stdout.write(f"Signed at (UTC):    {report.signed_at:%Y-%m-%d %H:%M:%S}" if report.signed_at else
                              "Signed at:          unknown")
            self.stdout.write(f"Meaning:            {report.reason}")
            self.stdout.write(f"Certified:          {'yes' if report.certified else 'no'}")
        for problem in report.problems:
            self.stdout.write(f"Problem:            {problem}")
        if recognition.record is not None:
            record = recognition.record
            self.stdout.write(f"Matches:            consent record {record.participant.code} #{record.sequence} — "
                              f"{record.version} — {record.get_outcome_display()} — signed "
                              f"{record.signed_at:%Y-%m-%d %H:%M} UTC")
        elif recognition.master is not None:
            master = recognition.master
            versions = ", ".join(str(v) for v in master.versions.all())
            where = f" as printed for {master.site.code}" if master.site else ""
            self.stdout.write(f"Matches:            signed master of {versions}{where}")
        else:
            self.stdout.write("Matches:            no stored document")
        if not recognition.valid_and_matched:
            raise CommandError("NOT VERIFIED: " + ("the signature is not valid" if not report.valid else
                                                   "the file matches no stored document"))
        self.stdout.write(self.style.SUCCESS("VERIFIED"))
