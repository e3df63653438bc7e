import os
import socket
import time

from django.core.management.base import BaseCommand

from .load_demo import write_logins


class Command(BaseCommand):
    help = ("Print the demo logins and the demo's address (`make demo` prints them last, once the server "
            "answers, so they do not scroll away).")

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR") or "127.0.0.1:8000",
                            help="host:port the demo is served on (default: DEMO_ADDR, else 127.0.0.1:8000)")
        parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                            help="first wait up to this long for the server to accept connections")

    def handle(self, *args, addr, wait, **options):
        host, _, port = addr.rpartition(":")
        host = (host or "127.0.0.1").strip("[]")
        if host in ("0.0.0.0", "::", "0"):  # noqa: S104  # nosec B104  # a wildcard address is reached on loopback
            host = "127.0.0.1"
        deadline = time.monotonic() + wait
        while wait and time.monotonic() < deadline:
            try:
                socket.create_connection((host, int(port or 8000)), timeout=1).close()
                break
            except (OSError, ValueError):
                time.sleep(0.5)
        write_logins(self, addr)
