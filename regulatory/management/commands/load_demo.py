import os

from django.core.management.base import BaseCommand, CommandError

from cms.models import HomePage
from regulatory import demo
from regulatory.demo_accounts import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Create (or bring up to date) the demonstration trial NCT07063680, its sites and demo accounts."

    def add_arguments(self, parser):
        parser.add_argument("--no-logins", action="store_true",
                            help="Do not print the demo logins (`make demo` prints them last, with demo_logins).")
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR") or "127.0.0.1:8000",
                            help="The address the demo is served on, for the printed links (default: DEMO_ADDR).")

    def handle(self, *args, no_logins=False, addr="127.0.0.1:8000", **options):
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
        if not no_logins:
            write_logins(self, addr)


def write_logins(command: BaseCommand, addr: str) -> None:
    command.stdout.write(command.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD})"))
    for username, what in demo.logins():
        command.stdout.write(f"  {username:<18} {what}")
    command.stdout.write(f"Open http://{addr}/ (administration: http://{addr}/admin/)")
