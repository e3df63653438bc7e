from django.core.management.base import BaseCommand

from regulatory import services


class Command(BaseCommand):
    help = (
        "E-mail the staff of each site where a protocol version has become effective and who were not told yet. "
        "Run it from cron with publish_scheduled (see the README)."
    )

    def handle(self, *args, **options):
        count = services.activations_notify_due()
        self.stdout.write(f"{count} site notification(s) sent.")
