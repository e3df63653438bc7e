"""Add a new document timestamp to every stored signed file whose proof would otherwise lapse (PAdES B-LTA)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from consent import archival
from consent.models import ArchivalFile
from consent.signing import ArchivalIncomplete, archival_timestamper, run_coroutine_sync


class Command(BaseCommand):
    help = (
        "Renew the archive timestamp of every stored signed file (consent records, signed masters) whose last "
        "document timestamp's certificate expires within --horizon-days: a new document timestamp, with the "
        "validation data of the previous one, is added as an incremental revision (earlier revisions kept; the "
        "stored SHA-256 and the list of the file's versions updated; audited). Idempotent and resumable: a file "
        "renewed is no longer due; an interrupted run is simply run again. Schedule it (see README)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--horizon-days", type=int, default=365,
                            help="Renew when the last timestamp's certificate expires within this many days "
                                 "(default 365).")
        parser.add_argument("--tsa-url", default="", help="TSA to use (default: TRIALDOCS_TSA_URL, else the demo's).")
        parser.add_argument("--dry-run", action="store_true", help="List what is due, change nothing.")

    def handle(self, *args, horizon_days: int, tsa_url: str, dry_run: bool, **options):
        if horizon_days < 0:
            raise CommandError("--horizon-days must be positive.")
        limit = timezone.now() + dt.timedelta(days=horizon_days)
        due = list(ArchivalFile.objects.filter(state=ArchivalFile.State.COMPLETE, timestamp_expires_at__lte=limit)
                   .order_by("timestamp_expires_at", "pk").values_list("pk", "timestamp_expires_at"))
        self.stdout.write(f"{len(due)} file(s) whose last timestamp expires before {limit:%Y-%m-%d}.")
        if not due or dry_run:
            return
        timestamper = archival_timestamper(tsa_url)
        tsa_expires = self._tsa_expiry(timestamper)
        renewed = skipped = failed = 0
        for number, (pk, expires) in enumerate(due, start=1):
            prefix = f"[{number}/{len(due)}]"
            if tsa_expires <= expires:
                skipped += 1
                self.stdout.write(f"{prefix} file {pk}: skipped, the TSA's certificate ({tsa_expires:%Y-%m-%d}) does "
                                  f"not outlive the current timestamp's ({expires:%Y-%m-%d}): configure a newer TSA")
                continue
            try:
                result = archival.renew(pk, timestamper=timestamper)
            except ArchivalIncomplete as error:
                failed += 1
                self.stderr.write(f"{prefix} file {pk}: NOT renewed ({error}); run again later")
                continue
            renewed += 1
            self.stdout.write(f"{prefix} file {pk}: renewed, proof now until {result.timestamp_expires_at:%Y-%m-%d}")
        self.stdout.write(f"Renewed {renewed}, skipped {skipped}, failed {failed}.")
        if failed or skipped:
            raise CommandError(f"{failed + skipped} file(s) still due.")

    @staticmethod
    def _tsa_expiry(timestamper) -> dt.datetime:
        token = run_coroutine_sync(lambda: timestamper.async_dummy_response("sha256"))
        for choice in token["content"]["certificates"] or []:
            usage = choice.chosen.extended_key_usage_value
            if usage is not None and "time_stamping" in usage.native:
                return choice.chosen.not_valid_after
        raise CommandError("The TSA's answer carries no timestamping certificate.")
