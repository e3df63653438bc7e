from django.core.management.base import BaseCommand

from regulatory import services

# What else is told to the sites when its date comes, added by other apps from their AppConfig.ready() (consent:
# the consent-form versions): (what the count is of, a function returning how many notices were sent).
DUE_NOTICES: list = []


class Command(BaseCommand):
    help = (
        "E-mail the staff of each site where a protocol version (or another document registered, such as a "
        "consent-form version) has become effective and who were not told yet. Run it from cron with "
        "publish_scheduled (see the README)."
    )

    def handle(self, *args, **options):
        count = services.activations_notify_due()
        self.stdout.write(f"{count} site notification(s) sent.")
        for label, notify_due in DUE_NOTICES:
            self.stdout.write(f"{notify_due()} {label} notification(s) sent.")
