from django.core.management.base import BaseCommand, CommandError

from cms.models import HomePage
from regulatory import demo
from regulatory.demo_accounts import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Create (or bring up to date) the demonstration trial NCT07063680, its sites and demo accounts."

    def handle(self, *args, **options):
        home = HomePage.objects.first()
        if home is None:
            raise CommandError("No home page: run `manage.py migrate` first.")
        report = demo.load(home=home)
        if report["created"] or report["updated"]:
            for line in report["created"]:
                self.stdout.write(f"created {line}")
            for line in report["updated"]:
                self.stdout.write(f"updated {line}")
        else:
            self.stdout.write("The demo is already loaded: nothing changed.")
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD})"))
        for username, what in demo.logins():
            self.stdout.write(f"  {username:<18} {what}")
        self.stdout.write("Open http://127.0.0.1:8000/ (administration: http://127.0.0.1:8000/admin/)")
