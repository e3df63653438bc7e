"""Faults: a full disk while a signed consent PDF or a TMF upload is written, and PostgreSQL restarted during a
stream of writes. Requests fail cleanly (a message, or 503), nothing is half-written, and the service recovers
without being restarted itself.

Both need root on the machine (a tmpfs mount; `pg_ctlcluster`), as on CI; they skip elsewhere.
"""

import datetime
import http.cookies
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from consent import services
from consent.models import ConsentRecord, Participant, ParticipantCounter
from consent.tests.test_record_views import consent_post
from consent.tests.test_records import forms  # noqa: F401  (fixture)
from regulatory.models import AuditEntry, TmfArtifact, TmfDocument

BASE = "/nct07063680/sites"


@pytest.fixture
def small_disk(tmp_path):
    """A 160 KiB tmpfs, almost filled: a signed PDF (tens of KiB) no longer fits."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    filler = mount / "filler"
    try:
        with filler.open("wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError:
        pass
    filler.write_bytes(filler.read_bytes()[:-8192])  # leave 8 KiB: too little for any PDF we write
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_disk_full_while_writing_a_signed_consent_pdf(world, forms, as_user, settings, small_disk):  # noqa: F811
    settings.MEDIA_ROOT = small_disk
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    audit_before = AuditEntry.objects.filter(action="consent.recorded").count()

    response = client.post(url, consent_post(forms["patient"], participant))
    assert response.status_code == 400
    assert "disque" in response.content.decode()
    assert not ConsentRecord.objects.exists()  # no record without its file
    assert files_under(small_disk) == {"filler"}  # no file (not even a truncated one) without its record
    assert AuditEntry.objects.filter(action="consent.recorded").count() == audit_before
    participant.refresh_from_db()
    assert participant.status == "screening"

    (small_disk / "filler").unlink()  # space is freed: the same form goes through
    response = client.post(url, consent_post(forms["patient"], participant))
    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    assert (small_disk / record.pdf.name).read_bytes()[:5] == b"%PDF-"


def test_disk_full_while_filing_a_tmf_upload(world, as_user, settings, small_disk):
    settings.MEDIA_ROOT = small_disk
    data = {"artifact": TmfArtifact.objects.get(number="05.02.04").pk, "level": "site", "site": world.site_a.pk,
            "title": "CV", "document_date": "2026-02-01", "version": "1", "status": "current",
            "file": SimpleUploadedFile("cv.pdf", b"%PDF-1.4\n" + b"x" * 60_000, content_type="application/pdf")}
    response = as_user(world.sponsor).post("/tmf/NCT07063680/upload/", data)
    assert response.status_code == 400 and "disque" in response.content.decode()
    assert not TmfDocument.objects.exists()
    assert files_under(small_disk) == {"filler"}


# --- PostgreSQL restarted during a stream of writes -------------------------------------------------------------

def _cluster() -> list[str] | None:
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0 or not Path("/etc/postgresql").exists():
        return None
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def _wait_until_accepting(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError("PostgreSQL did not come back")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A logged-in HTTP client of the live server (session and CSRF cookies kept by hand), outside Django's test
    client; redirects are answers, not followed."""

    def __init__(self, base: str, session_key: str):
        self.base = base
        self.cookies = {"sessionid": session_key}
        self.opener = urllib.request.build_opener(NoRedirect)

    def _keep(self, headers) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie(header)
            self.cookies.update({name: morsel.value for name, morsel in cookie.items()})

    def request(self, path: str, data: bytes | None = None) -> int:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                   "X-CSRFToken": self.cookies.get("csrftoken", "")}
        request = urllib.request.Request(self.base + path, data=data, headers=headers)  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as response:
                self._keep(response.headers)
                return response.status
        except urllib.error.HTTPError as error:
            self._keep(error.headers)
            return error.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return -1


def _on_postgresql() -> bool:
    from django.conf import settings

    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


@pytest.mark.serial  # the restart would cut the connections of every other test worker
@pytest.mark.skipif(not _on_postgresql(), reason="a PostgreSQL restart needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_postgresql_restart_during_a_stream_of_writes(world, live_server, client):
    cluster = _cluster()
    if cluster is None:
        pytest.skip("restarting PostgreSQL needs root and pg_ctlcluster (CI has both)")
    client.force_login(world.coordinator_a)
    browser = Browser(live_server.url, client.cookies["sessionid"].value)
    assert browser.request(f"{BASE}/dij/participants/") == 200  # sets the CSRF cookie

    statuses: list[int] = []
    stop = threading.Event()

    def writer():
        while not stop.is_set() and len(statuses) < 400:
            statuses.append(browser.request(f"{BASE}/dij/participants/", data=b"confirm=yes"))
            time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(1.5)
        restarted_at = len(statuses)
        subprocess.run([*cluster, "restart", "-m", "fast"], check=True, capture_output=True)
        _wait_until_accepting()
        after_restart = len(statuses)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and statuses[after_restart:].count(302) < 5:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=60)
    connection.close()  # the test's own connection died with the server

    assert restarted_at > 0
    assert 500 not in statuses, statuses
    assert set(statuses) <= {302, 503, -1}, statuses  # registered, or refused cleanly (or no answer while down)
    assert statuses[-5:] == [302] * 5, statuses  # recovered without restarting the service

    registered = statuses.count(302)
    codes = list(Participant.objects.filter(site=world.site_a).order_by("code").values_list("code", flat=True))
    # -1 (no answer) may still have committed; 503 never did. Every registration is whole: gap-free codes, each
    # with its audit entry, and the counter agrees.
    assert registered <= len(codes) <= registered + statuses.count(-1)
    assert codes == [f"DIJ-{n:04d}" for n in range(1, len(codes) + 1)]
    assert ParticipantCounter.objects.get(site=world.site_a).last_number == len(codes)
    assert AuditEntry.objects.filter(action="participant.created").count() == len(codes)
    assert timezone.now() - datetime.timedelta(minutes=10) < Participant.objects.latest("pk").created_at
