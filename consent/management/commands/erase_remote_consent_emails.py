"""Blank the relatives' e-mail addresses of remote consent invitations that are no longer open (expired, used,
locked or cancelled). Idempotent; run it hourly from cron (README, Scheduled jobs)."""

from django.core.management.base import BaseCommand

from consent.services.remote import remote_emails_erase


class Command(BaseCommand):
    help = "Erase the e-mail addresses of remote consent invitations no longer open."

    def handle(self, *args, **options):
        erased = remote_emails_erase()
        self.stdout.write(f"{erased} e-mail address(es) erased.")
