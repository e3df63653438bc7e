import datetime as dt
import os
import shutil
import subprocess  # nosec B404  # faketime and our own interpreter, fixed arguments
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consent.selectors import Recognition, recognise_pdf

_AT_ENV = "TRIALDOCS_VERIFY_AT"


class Command(BaseCommand):
    help = ("Check a PDF: is its signature intact, who signed and when, and is it a copy of a document this "
            "system stored (a signed master of consent forms, a consent record)? When it was changed after signing, "
            "list the changes and say which stored document its signed original is. The same words as the page "
            "/verify/, with the same bounds. Exits 0 only when valid and matched. --at DATE validates as a "
            "validator would at that date (the process clock moved with Debian's faketime).")

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--at", default="", metavar="ISO-DATE",
                            help="Validate at this date and time (e.g. 2036-12-03 or 2036-12-03T12:00Z): the "
                                 "command runs again under faketime, so that every clock pyHanko reads agrees.")
        parser.add_argument("--signature-only", action="store_true",
                            help="Check the signature and its long-term proof only, not whether the file is a "
                                 "document stored here (exit 0 when the signature is valid).")

    def handle(self, *args, path: Path, at: str, signature_only: bool, **options):
        if at and os.environ.get(_AT_ENV) != at:
            self._rerun_at(path, at, signature_only)
            return
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error
        if signature_only:
            from consent.verification import verify_pdf_in_time

            recognition = Recognition(report=verify_pdf_in_time(data), master=None)
        else:
            recognition = recognise_pdf(data)
        report = recognition.report
        if at:
            self.stdout.write(f"Validated at (UTC): {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} (faketime)")
        self.stdout.write(f"File SHA-256:       {report.file_sha256}")
        self.stdout.write(f"Verdict:            {recognition.verdict}")
        self.stdout.write(f"Signature valid:    {'yes' if report.valid else 'NO'}")
        self.stdout.write(f"Signature:          {recognition.signature_status}")
        if report.signer_name:
            self.stdout.write(f"Signed by:          {report.signer_name}")
            self.stdout.write(f"Signed at (UTC):    {report.signed_at:%Y-%m-%d %H:%M:%S}" if report.signed_at else
                              "Signed at:          unknown")
            self.stdout.write(f"Meaning:            {report.reason}")
            self.stdout.write(f"Certified:          {'yes' if report.certified else 'no'}")
        if report.level:
            self.stdout.write(f"PAdES level:        {report.level}")
        if report.archival_verdict:
            self.stdout.write(f"Long-term proof:    {report.archival_verdict}"
                              + (f" (last timestamp certificate expires {report.timestamp_expires_at:%Y-%m-%d})"
                                 if report.timestamp_expires_at else ""))
        for change in report.changes_after_signing:
            self.stdout.write(f"Changed after signing: {change}")
        for problem in report.problems:
            self.stdout.write(f"Problem:            {problem}")
        if signature_only:
            if not report.valid:
                raise CommandError("NOT VALID: " + "; ".join(report.problems))
            self.stdout.write(self.style.SUCCESS("SIGNATURE VALID"))
            return
        if recognition.record is not None:
            self.stdout.write(f"Matches:            {self._record(recognition.record)}")
        elif recognition.master is not None:
            self.stdout.write(f"Matches:            {self._master(recognition.master)}")
        else:
            self.stdout.write("Matches:            no stored document")
            if recognition.original_record is not None:
                self.stdout.write(f"Signed original:    {self._record(recognition.original_record)}")
            elif recognition.original_master is not None:
                self.stdout.write(f"Signed original:    {self._master(recognition.original_master)}")
        if not recognition.valid_and_matched:
            raise CommandError(f"NOT VERIFIED: {recognition.verdict}")
        self.stdout.write(self.style.SUCCESS("VERIFIED"))

    def _rerun_at(self, path: Path, at: str, signature_only: bool) -> None:
        try:
            moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError as error:
            raise CommandError(f"--at: not an ISO date or date and time: {at!r}") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        faketime = shutil.which("faketime")
        if faketime is None:
            raise CommandError("--at needs Debian's faketime (apt-get install faketime).")
        command = [faketime, "-f", f"@{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}", sys.executable,
                   str(Path(settings.BASE_DIR) / "manage.py"), "verify_pdf", str(path.resolve()), "--at", at]
        if signature_only:
            command.append("--signature-only")
        env = {**os.environ, _AT_ENV: at, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "TZ": "UTC"}
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
        self.stdout.write(result.stdout.rstrip("\n"))
        if result.returncode:
            raise CommandError((result.stderr.strip().splitlines() or ["NOT VERIFIED"])[-1])

    @staticmethod
    def _record(record) -> str:
        return (f"consent record {record.participant.code} #{record.sequence} — {record.version} — "
                f"{record.get_outcome_display()} — signed {record.signed_at:%Y-%m-%d %H:%M} UTC")

    @staticmethod
    def _master(master) -> str:
        versions = ", ".join(str(v) for v in master.versions.all())
        where = f" as printed for {master.site.code}" if master.site else ""
        return f"signed master of {versions}{where}"
