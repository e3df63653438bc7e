from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.models import ConsentRecord


class Command(BaseCommand):
    help = "Write the latest signed consent PDF of a participant (by code, e.g. DIJ-0001)."

    def add_arguments(self, parser):
        parser.add_argument("--participant", required=True)
        parser.add_argument("--trial", default="", help="NCT number, when several trials share the site code")
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args, participant: str, trial: str, out: Path, **options):
        records = ConsentRecord.objects.filter(participant__code=participant.upper())
        if trial:
            records = records.filter(participant__site__trial__nct_number=trial)
        if records.values("participant").distinct().count() > 1:
            raise CommandError(f"{participant} exists in several trials: give --trial.")
        record = records.order_by("-sequence").first()
        if record is None:
            raise CommandError(f"No consent recorded for {participant}.")
        try:
            with record.pdf.open("rb") as source:
                out.write_bytes(source.read())
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror}") from error
        self.stdout.write(self.style.SUCCESS(
            f"{out} written: {record} (signed {record.signed_at:%Y-%m-%d %H:%M} UTC, SHA-256 {record.pdf_sha256})"))
