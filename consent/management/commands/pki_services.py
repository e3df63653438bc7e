"""Serve the demo PKI's timestamping authority, OCSP responder and CRLs (certomancer's Animator) on 127.0.0.1."""

import signal
import time
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand

from consent import pki
from consent.pki.config import _read_config
from consent.pki_services import Animator


class Command(BaseCommand):
    help = (
        "Serve the demo PKI's services over HTTP on 127.0.0.1 with certomancer's Animator: the RFC 3161 TSAs "
        "(/trialdocs/tsa/tsa, /trialdocs/tsa/tsa2), the OCSP responder and the CRLs named in the demo "
        "certificates. Waits for the demo PKI to exist, restarts the Animator when the PKI changes (a site "
        "added, a key rotated), runs until stopped. Production uses its own TSA (TRIALDOCS_TSA_URL) and its CA's "
        "services."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=0,
                            help="Port (default: the one written into the demo certificates).")

    def handle(self, *args, port, **options):
        # `make demo` stops it with SIGTERM: stop the Animator too (it runs in its own process group)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        animator, served = None, None
        try:
            while True:
                path = pki.config_path()
                stamp = path.stat().st_mtime_ns if path.exists() else None
                if stamp != served and stamp is not None:
                    if animator is not None:
                        animator.stop()
                    config = _read_config(pki.pki_dir())
                    listen = port or urlsplit(config["external-url-prefix"]).port or 80
                    animator = Animator(pki.pki_dir(), listen, keep_keys=True).start()  # long-running: keys kept
                    served = stamp
                    self.stdout.write(f"Demo PKI services on {animator.url}/ (TSA, OCSP, CRLs)")
                    self.stdout.flush()
                elif animator is not None and animator.process is not None and animator.process.poll() is not None:
                    served = None  # it stopped: start it again
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            if animator is not None:
                animator.stop()
