"""Revocation of the signer's certificate and the long-term proof (issue 15): a certificate revoked *after* a
signature's timestamp leaves that signature valid; one revoked *before* it does not.

Through the real stack, as `test_long_term` does: a consent PDF signed B-LTA by the site, the demo PKI's services
(certomancer's Animator) and the validator with the clock really moved (faketime). Each case revokes the site's
certificate in a scratch copy of the module's demo PKI (a `revocation` entry on its certificate in
`certomancer.yml`: the Animator's OCSP responder and CRLs then report it from `revoked-since` on); the copy keeps
the same keys, certificates and service URLs, so the module's signed file is checked against it."""

import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from asn1crypto import crl as asn1_crl
from cryptography import x509
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from consent import pki, signing
from consent.pki_services import Animator, free_port
from consent.tests.test_long_term import ROOT, YEAR, verify_at
from consent.tests.test_signing import CONSENT, make_pdf

SITE = "site-DIJ"


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """The module's demo PKI (its services on `port`, stopped between tests) and a consent PDF its site signed
    B-LTA today, as the product does (`sign_for_archive`, then `complete_archival`)."""
    folder = tmp_path_factory.mktemp("revocation")
    port = free_port()
    with override_settings(TRIALDOCS_PKI_DIR=folder / "pki", TRIALDOCS_PKI_SERVICES_URL=f"http://127.0.0.1:{port}",
                           TRIALDOCS_TSA_URL=""):
        pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ"])
        identity = pki.load_identity(role="site", site_code="DIJ")
        today = Animator(pki.pki_dir(), port).start()
        try:
            lta = signing.complete_archival(signing.sign_for_archive(make_pdf(), identity=identity,
                                                                     request=CONSENT))
        finally:
            today.stop()
    (folder / "lta.pdf").write_bytes(lta)
    return {"folder": folder, "pki": folder / "pki", "port": port, "signed_at": dt.datetime.now(dt.UTC),
            "identity": identity}


def revoked_copy(source: Path, target: Path, since: dt.datetime, *, reason: str = "key_compromise") -> Path:
    """A copy of the demo PKI in `source` whose services report the site's certificate revoked (for `reason`, an
    RFC 5280 CRLReason as asn1crypto names it) from `since` on; the shared PKI is left as it is."""
    shutil.copytree(source, target)
    config = target / pki.CONFIG_FILE
    document = yaml.safe_load(config.read_text())
    document["pki-architectures"][pki.ARCH]["certs"][SITE]["revocation"] = {
        "revoked-since": since.strftime("%Y-%m-%dT%H:%M:%S+0000"), "reason": reason}
    config.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    return target


def published_revocation(animator: Animator, directory: Path) -> dt.datetime | None:
    """The site certificate's revocation date in the CRL the Animator serves now, or None."""
    serial = x509.load_pem_x509_certificate((directory / f"{SITE}.cert.pem").read_bytes()).serial_number
    with urllib.request.urlopen(f"{animator.url}/crls/ca/latest.crl", timeout=10) as answer:  # noqa: S310
        crl = asn1_crl.CertificateList.load(answer.read())
    for entry in crl["tbs_cert_list"]["revoked_certificates"] or []:
        if entry["user_certificate"].native == serial:
            return entry["revocation_date"].native
    return None


@pytest.fixture
def test_pki_dir(monkeypatch):
    """Point the test's subprocesses (`verify_pdf --at`, the renewal) at a PKI directory."""
    return lambda directory: monkeypatch.setenv("TRIALDOCS_TEST_PKI_DIR", str(directory))


def test_signer_revoked_after_the_signature_timestamp_stays_valid_at_year_10(signed, tmp_path, test_pki_dir):
    """Proves: the site's certificate revoked at year 1 (key compromise), after the signature's timestamp, leaves
    the signature valid. The revocation is in force when the archive timestamp is renewed at year 4 (the renewal
    does not refuse) and published by the PKI at year 10, when `verify_pdf --at` says SIGNATURE VALID with the
    long-term proof passed: the validation data taken at completion prove the certificate good at the time the
    signature timestamp proves, which a later revocation does not change."""
    revoked_at = signed["signed_at"] + dt.timedelta(days=YEAR)
    directory = revoked_copy(signed["pki"], tmp_path / "pki", revoked_at)
    test_pki_dir(directory)
    port, renewed = signed["port"], tmp_path / "renewed.pdf"
    year4 = Animator(directory, port, days_ahead=round(4 * YEAR)).start()
    try:
        assert published_revocation(year4, directory) is not None  # already revoked when the renewal runs
        subprocess.run(
            ["faketime", "-f", f"+{round(4 * YEAR)}d", sys.executable, "-m", "consent.tests.ltv_renew",
             str(signed["folder"] / "lta.pdf"), str(renewed), f"{year4.url}/tsa/tsa2"], cwd=ROOT, check=True,
            env={**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": str(ROOT)})
    finally:
        year4.stop()
    year10 = Animator(directory, port, days_ahead=round(10 * YEAR)).start()
    try:
        published = published_revocation(year10, directory)
        assert published is not None and abs(published - revoked_at) < dt.timedelta(seconds=1), published
        ok, out = verify_at(renewed, round(10 * YEAR))
    finally:
        year10.stop()
    assert ok and "SIGNATURE VALID" in out and "Long-term proof:    passed" in out, out
    assert "Signed by:          Centre investigateur DIJ" in out and "PAdES level:        B-LTA" in out, out


def test_signer_revoked_after_the_timestamp_but_before_completion_is_completed_and_valid(signed, tmp_path):
    """Proves: a signature whose B-LTA completion runs after the signer's certificate was revoked (cessation of
    operation: the investigator left), the revocation dated after the signature timestamp, is still completed to
    B-LTA and reported valid (the OCSP answer embedded proves the certificate good at the time of the timestamp):
    the completion may be delayed (TSA or OCSP responder down) without losing the signature."""
    with override_settings(TRIALDOCS_PKI_DIR=signed["pki"], TRIALDOCS_TSA_URL=""):
        services = Animator(signed["pki"], signed["port"]).start()
        try:
            signed_bt = signing.sign_for_archive(make_pdf(), identity=signed["identity"], request=CONSENT)
        finally:
            services.stop()
    # after the signature timestamp, by more than the second to which the TSA and the CRL round their times
    revoked_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    directory = revoked_copy(signed["pki"], tmp_path / "pki", revoked_at, reason="cessation_of_operation")
    time.sleep(max(0.0, (revoked_at - dt.datetime.now(dt.UTC)).total_seconds()) + 1)
    with override_settings(TRIALDOCS_PKI_DIR=directory, TRIALDOCS_TSA_URL=""):
        services = Animator(directory, signed["port"]).start()
        try:
            try:
                completed = signing.complete_archival(signed_bt)
            except signing.ArchivalIncomplete as error:
                raise AssertionError(f"the completion refused: {error}") from error
            (tmp_path / "completed.pdf").write_bytes(completed)
            out = io.StringIO()
            try:
                call_command("verify_pdf", str(tmp_path / "completed.pdf"), "--signature-only", stdout=out)
            except CommandError as error:
                raise AssertionError(f"{error}; signature timestamp {timestamp_time(signed_bt)}, certificate "
                                     f"revoked from {revoked_at}") from error
        finally:
            services.stop()
    assert "SIGNATURE VALID" in out.getvalue() and "Long-term proof:    passed" in out.getvalue(), out.getvalue()


def timestamp_time(pdf: bytes) -> dt.datetime:
    """The time the signature timestamp of the file's first signature proves."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    for attribute in signature.signer_info["unsigned_attrs"]:
        if attribute["type"].native == "signature_time_stamp_token":
            content = attribute["values"][0]["content"]["encap_content_info"]["content"]
            return content.parsed["gen_time"].native
    raise AssertionError("no signature timestamp")


def test_signer_revoked_before_signing_but_published_after_completion_is_not_valid(signed, tmp_path, test_pki_dir):
    """Proves: a revocation dated before the signature (key compromise) and published only after the file was
    completed to B-LTA makes the signature not valid once the PKI publishes it: `verify_pdf --at` now + 2 years,
    with the OCSP responder and CRL reporting the certificate revoked since the day before signing. The validation
    data embedded at the completion said "good"; the verifier also asks the signer's OCSP responder or CRL online
    (as of the signature timestamp's time) and a revocation dated before it wins."""
    revoked_at = signed["signed_at"] - dt.timedelta(days=1)
    directory = revoked_copy(signed["pki"], tmp_path / "pki", revoked_at)
    test_pki_dir(directory)
    year2 = Animator(directory, signed["port"], days_ahead=round(2 * YEAR)).start()
    try:
        assert published_revocation(year2, directory) is not None
        ok, out = verify_at(signed["folder"] / "lta.pdf", round(2 * YEAR))
    finally:
        year2.stop()
    assert not ok and "SIGNATURE VALID" not in out and "NOT VALID" in out, out
    assert "révoqué" in out or "revoked" in out.lower(), out  # the command speaks the site's language, French


def test_a_walk_of_the_archive_asks_the_responder_once_per_certificate(signed, tmp_path):
    """Proves: the online check of a B-LTA file (a revocation dated before the signature, published after the
    completion) is made in-process by `verify_pdf` too; within `revocation_data_shared()` (the walks of
    `verify_archive` and `verify_files`) the status fetched for the first file answers for the next ones: once the
    PKI's services answer "good" again (the unrevoked PKI on the same port), the file checked a second time in
    the walk is still reported revoked, from the data kept, while a check outside a walk asks again and finds it
    valid."""
    from consent.revocation import revocation_data_shared
    from consent.verification import verify_pdf

    directory = revoked_copy(signed["pki"], tmp_path / "pki", signed["signed_at"] - dt.timedelta(days=1))
    data = (signed["folder"] / "lta.pdf").read_bytes()
    with override_settings(TRIALDOCS_PKI_DIR=directory), revocation_data_shared():
        services = Animator(directory, signed["port"]).start()
        try:
            first = verify_pdf(data)
        finally:
            services.stop()
        services = Animator(signed["pki"], signed["port"]).start()  # the same PKI, not revoked
        try:
            second = verify_pdf(data)
            with revocation_data_shared():
                alone = verify_pdf(data)
        finally:
            services.stop()
    for report in (first, second):
        assert not report.valid and any("revoked" in p or "révoqué" in p for p in report.problems), (
            first.problems, second.problems, alone.problems)
    assert alone.valid and alone.archival_verdict == "passed", alone.problems


@pytest.fixture(scope="module")
def revoked_before_signing(signed, tmp_path_factory):
    """A consent signed by the site ten days after its certificate was revoked (the revocation published by the
    PKI's OCSP responder and in its weekly CRL): what signing did with the PKI's services up (it refuses), the
    B-T file signed while the OCSP responder and CRLs did not answer (only the TSA did: signing goes on, see
    `sign_for_archive`), and what the B-LTA completion did with that file once the services answer again."""
    folder = tmp_path_factory.mktemp("revoked-before")
    revoked_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)  # the certificate is valid from 30 days ago
    directory = revoked_copy(signed["pki"], folder / "pki", revoked_at)
    with override_settings(TRIALDOCS_PKI_DIR=directory, TRIALDOCS_TSA_URL=""):
        services = Animator(directory, signed["port"]).start()
        try:
            assert published_revocation(services, directory) is not None
            try:
                signing_refusal = None
                signing.sign_for_archive(make_pdf(), identity=signed["identity"], request=CONSENT)
            except signing.SigningUnavailable as error:
                signing_refusal = error
        finally:
            services.stop()
    tsa_only = Animator(directory, free_port()).start()  # the certificates' OCSP and CRL locations do not answer
    try:
        with override_settings(TRIALDOCS_PKI_DIR=directory, TRIALDOCS_TSA_URL=f"{tsa_only.url}/tsa/tsa"):
            signed_bt = signing.sign_for_archive(make_pdf(), identity=signed["identity"], request=CONSENT)
    finally:
        tsa_only.stop()
    with override_settings(TRIALDOCS_PKI_DIR=directory, TRIALDOCS_TSA_URL=""):
        services = Animator(directory, signed["port"]).start()
        try:
            try:
                completed, refusal = signing.complete_archival(signed_bt), None
            except signing.ArchivalIncomplete as error:
                completed, refusal = None, error
        finally:
            services.stop()
    (folder / "signed.pdf").write_bytes(completed or signed_bt)
    return {"pki": directory, "port": signed["port"], "path": folder / "signed.pdf", "completed": completed,
            "refusal": refusal, "signing_refusal": signing_refusal}


def test_signer_revoked_before_signing_signing_refuses(revoked_before_signing):
    """Proves: with the PKI's OCSP responder answering, a site whose certificate is revoked cannot sign: signing
    (`sign_for_archive`, in the consent request) raises `SignerRevoked`, a `SigningUnavailable` (the TSA outage's
    path: nothing is signed nor recorded, the form keeps what was typed), saying the certificate is revoked."""
    refusal = revoked_before_signing["signing_refusal"]
    assert isinstance(refusal, signing.SignerRevoked), refusal
    assert "révoqué" in str(refusal) and "rien n'a été signé" in str(refusal), refusal


def test_signer_revoked_before_signing_the_b_lta_completion_refuses(revoked_before_signing):
    """Proves: a signature made after its certificate was revoked is never completed to B-LTA: the completion
    (`complete_archival`, the background task's work) raises `ArchivalIncomplete` saying the certificate is
    revoked, so the file stays B-T and "archival completion pending"."""
    assert revoked_before_signing["completed"] is None
    refusal = str(revoked_before_signing["refusal"])
    assert "RevokedError" in refusal and "revoked" in refusal, refusal


def test_signer_revoked_before_signing_is_reported_not_valid_revoked(revoked_before_signing):
    """Proves: `verify_pdf` never calls the signature of a certificate revoked before signing valid, and says
    why (revoked), with the PKI's services reporting the revocation at the time of the check."""
    directory, out = revoked_before_signing["pki"], io.StringIO()
    with override_settings(TRIALDOCS_PKI_DIR=directory):
        services = Animator(directory, revoked_before_signing["port"]).start()
        try:
            call_command("verify_pdf", str(revoked_before_signing["path"]), "--signature-only", stdout=out)
            text, ok = out.getvalue(), True
        except CommandError as error:
            text, ok = out.getvalue() + str(error), False
        finally:
            services.stop()
    assert not ok and "SIGNATURE VALID" not in text and "NOT VALID" in text, text
    assert "révoqué" in text or "revoked" in text, text  # the command speaks the site's language, French
