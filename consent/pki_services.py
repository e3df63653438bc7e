"""Start and stop certomancer's Animator for the demo PKI (TSA, OCSP, CRLs on 127.0.0.1): used by the test
session and by tools that need the services for a while. `make demo` runs `manage.py pki_services` instead."""

import contextlib
import os
import secrets
import signal
import socket
import subprocess  # nosec B404  # our own interpreter, fixed arguments
import sys
import time
import urllib.request
from pathlib import Path

from . import pki
from .pki.config import _read_config
from .pki_animator import ANSWERED_BY_HEADER

_PROJECT_DIR = Path(__file__).resolve().parent.parent  # where `python -m consent.pki_animator` is found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Animator:
    """The Animator of the demo PKI in `directory`, listening on `port`, as a child process."""

    def __init__(self, directory: Path, port: int, *, days_ahead: int = 0, keep_keys: bool = False):
        """`days_ahead`: the Animator's clock moved that many days on (Debian's faketime), for long-term tests.
        `keep_keys`: each service's private key parsed once (`consent.pki_animator.keep_loaded_keys`)."""
        self.directory, self.port, self.days_ahead = Path(directory), port, days_ahead
        self.keep_keys = keep_keys
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{pki.ARCH}"

    def start(self, timeout: float = 60) -> "Animator":
        config = pki.certomancer_config_for_animator(self.directory)
        # certomancer's Animator, answering OCSP over GET too (consent/pki_animator.py)
        ours = secrets.token_hex(8)  # its answers carry it: another process on the port is not taken for it
        command = [sys.executable, "-m", "consent.pki_animator", "--config", str(config),
                   "--key-root", str(self.directory), "--port", str(self.port), "--answered-by", ours,
                   *(["--keep-keys"] if self.keep_keys else [])]
        env = None
        if self.days_ahead:
            command = ["faketime", "-f", f"+{self.days_ahead}d", *command]
            env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603  # fixed arguments
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=_PROJECT_DIR,
            start_new_session=True)  # its own process group: faketime's wrapper and the Animator stop together
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"certomancer's Animator exited ({self.process.returncode}): is port {self.port} "
                                   "taken by another process?")
            try:
                crl = f"{self.url}/crls/ca/latest.crl"
                with urllib.request.urlopen(crl, timeout=2) as answer:  # noqa: S310  # nosec B310  # our own service
                    answered_by = answer.headers.get(ANSWERED_BY_HEADER)
            except OSError:
                time.sleep(0.2)
                continue
            if answered_by == ours:
                return self
            # Another process answers on the port (an Animator of another test or test run, which took the port
            # while ours was stopped): ours cannot listen there, and will exit. Taking that one's answers for ours
            # would check files against another PKI.
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("certomancer's Animator did not answer in time")

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            _wait_until_closed(self.port)  # under faketime the Animator is faketime's child: it may outlive the wait
        self.process = None


def _wait_until_closed(port: int, timeout: float = 10) -> None:
    """Until nothing listens on `port` any more (or `timeout`): the next Animator on the port must be the one
    that answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return
        time.sleep(0.05)


def wait_for_services(timeout: float = 60) -> bool:
    """Wait until the demo TSA answers with the demo PKI as it now stands (its CA certificate served is ours):
    after `ensure_identities` changed the PKI, `manage.py pki_services` restarts the Animator."""
    from cryptography import x509

    config = _read_config(pki.pki_dir())
    if config is None:
        return False
    ours = x509.load_pem_x509_certificate((pki.pki_dir() / "ca.cert.pem").read_bytes())
    url = f"{config['external-url-prefix'].rstrip('/')}/{pki.ARCH}/certs/ca/ca.crt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310  # nosec B310  # our own service
                if x509.load_der_x509_certificate(answer.read()) == ours:
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    return False
