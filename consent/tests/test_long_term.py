"""Proof that outlives certificates (issue 15), with the clock really moved (Debian's faketime), for the TSA and
revocation services (certomancer's Animator) as for the validator: pyHanko's past-validation reads the real clock,
so only moving the whole process gives true verdicts.

Sign today (B-LTA); at year 4 renew the archive timestamp with the second TSA; at year 10: the renewed file is
valid, the same file without the renewal is "archive timestamp expired: renewal was due", and a B-B signature of
a (by then expired) certificate is not valid."""

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from consent import pki, signing
from consent.pki_services import Animator, free_port
from consent.tests.test_signing import CONSENT, make_pdf

YEAR = 365.25
ROOT = Path(__file__).resolve().parents[2]


def verify_at(path: Path, days: int) -> tuple[bool, str]:
    moment = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.StringIO()
    try:
        call_command("verify_pdf", str(path), "--signature-only", "--at", moment, stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


@pytest.fixture(scope="module")
def aged(tmp_path_factory):
    """Files signed today, one renewed at year 4 with the second TSA, and the demo PKI's services at year 10."""
    from django.test import override_settings

    folder = tmp_path_factory.mktemp("long-term")
    port = free_port()
    with override_settings(TRIALDOCS_PKI_DIR=folder / "pki", TRIALDOCS_PKI_SERVICES_URL=f"http://127.0.0.1:{port}",
                           TRIALDOCS_TSA_URL=""):
        pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ"])
        os.environ["TRIALDOCS_TEST_PKI_DIR"] = str(folder / "pki")
        identity = pki.load_identity(role="site", site_code="DIJ")
        today = Animator(pki.pki_dir(), port).start()
        try:
            lta = signing.complete_archival(signing.sign_for_archive(make_pdf(), identity=identity,
                                                                     request=CONSENT))
        finally:
            today.stop()
        (folder / "lta.pdf").write_bytes(lta)
        (folder / "bb.pdf").write_bytes(signing.sign_pdf(make_pdf(), identity=identity, request=CONSENT))
        year4 = Animator(pki.pki_dir(), port, days_ahead=round(4 * YEAR)).start()
        try:
            subprocess.run(
                ["faketime", "-f", f"+{round(4 * YEAR)}d", sys.executable, "-m", "consent.tests.ltv_renew",
                 str(folder / "lta.pdf"), str(folder / "renewed.pdf"), f"{year4.url}/tsa/tsa2"], cwd=ROOT,
                check=True, env={**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": str(ROOT)})
        finally:
            year4.stop()
        year10 = Animator(pki.pki_dir(), port, days_ahead=round(10 * YEAR)).start()
        try:
            yield folder
        finally:
            year10.stop()
            os.environ.pop("TRIALDOCS_TEST_PKI_DIR", None)


def test_at_year_10_without_renewal_the_proof_is_reported_expired_never_valid(aged):
    renewed = (aged / "renewed.pdf").read_bytes()
    assert renewed.startswith((aged / "lta.pdf").read_bytes())  # the renewal only added revisions
    ok, out = verify_at(aged / "lta.pdf", round(10 * YEAR))
    # (the command speaks the site's language, French: "horodatage d'archive expiré : le renouvellement était dû")
    assert not ok and "Long-term proof:    expired" in out and "le renouvellement était dû" in out, out
    assert "PAdES level:        B-LTA" in out


def test_at_year_10_a_b_b_signature_of_an_expired_certificate_is_not_valid(aged):
    ok, out = verify_at(aged / "bb.pdf", round(10 * YEAR))
    assert not ok and "PAdES level:        B-B" in out, out
    ok, out = verify_at(aged / "bb.pdf", 0)  # today it is
    assert ok, out


def test_at_year_10_the_renewed_file_is_valid(aged):
    ok, out = verify_at(aged / "renewed.pdf", round(10 * YEAR))
    assert ok and "Long-term proof:    passed" in out, out
