# ruff: noqa: F811  # the shared `forms` fixture, imported
"""PAdES B-LTA for stored signatures (issue 15): B-T in the request, completed to B-LTA in the background,
explicit failure when the TSA or the revocation service is down, and recovery."""

import hashlib
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from consent import archival, pki, signing
from consent.models import ArchivalFile, ArchivalRevision, ConsentRecord
from consent.pki_services import Animator, free_port
from consent.signing import ArchivalIncomplete, SigningUnavailable
from consent.tests.test_records import forms, new, record  # noqa: F401  # shared fixture and helpers
from consent.verification import verify_pdf
from regulatory.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def _bytes(record_):
    with record_.pdf.open("rb") as handle:
        return handle.read()


def test_a_consent_is_recorded_b_t_then_completed_to_b_lta_in_the_background(
        world, forms, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        made = record(world, new(world), forms["patient"])
        state = ArchivalFile.objects.get(record=made)
        signed = _bytes(ConsentRecord.objects.get(pk=made.pk))
        assert (state.level, state.state) == ("B-T", "pending")  # before the commit: B-T, pending
    state.refresh_from_db()
    stored = ConsentRecord.objects.get(pk=made.pk)
    completed = _bytes(stored)
    assert (state.level, state.state, state.attempts) == ("B-LTA", "complete", 1)
    assert completed.startswith(signed) and len(completed) > len(signed)
    assert stored.pdf_sha256 == hashlib.sha256(completed).hexdigest()
    revisions = list(ArchivalRevision.objects.filter(archival=state).values_list("sha256", "reason"))
    assert revisions == [(hashlib.sha256(signed).hexdigest(), "signed"), (stored.pdf_sha256, "completed")]
    report = verify_pdf(completed)
    assert report.valid, report.problems
    assert AuditEntry.objects.filter(action="archival.completed").count() == 1
    assert state.timestamp_expires_at is not None
    # The B-T file is the start of the B-LTA one: it is not kept beside it (no file without its record)
    assert made.pdf.name != stored.pdf.name and not stored.pdf.storage.exists(made.pdf.name)


def test_pdfsig_lists_the_signature_and_the_document_timestamp(world, forms, tmp_path,
                                                                django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        made = record(world, new(world), forms["patient"])
    path = tmp_path / "consent.pdf"
    path.write_bytes(_bytes(ConsentRecord.objects.get(pk=made.pk)))
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout
    assert "Signature #1" in out and "Signature #2" in out, out
    assert "Signature Field Name: Centre" in out and "Horodatage1" in out
    assert "TrialDocs demo TSA" in out


def test_when_the_tsa_is_down_nothing_is_recorded_and_no_file_is_written(world, forms, settings):  # noqa: F811
    settings.TRIALDOCS_TSA_URL = f"http://127.0.0.1:{free_port()}/tsa"  # nothing listens there
    participant = new(world)
    media = Path(settings.MEDIA_ROOT)
    before = set(media.rglob("*.pdf"))
    with pytest.raises(SigningUnavailable, match="horodatage"):
        record(world, participant, forms["patient"])
    assert not ConsentRecord.objects.filter(participant=participant).exists()
    assert not ArchivalFile.objects.exists()
    assert set(media.rglob("*.pdf")) == before


def test_when_the_signer_is_revoked_nothing_is_recorded_and_no_file_is_written(world, forms, settings,
                                                                               tmp_path):  # noqa: F811
    """The site's certificate revoked (its OCSP responder says so): signing refuses, as when the TSA is down
    (`SignerRevoked`, a `SigningUnavailable`): no record, no file, the message says the certificate is revoked."""
    import datetime as dt

    from consent.tests.test_revocation import revoked_copy

    port = free_port()
    settings.TRIALDOCS_PKI_DIR = tmp_path / "pki"
    settings.TRIALDOCS_PKI_SERVICES_URL = f"http://127.0.0.1:{port}"
    settings.TRIALDOCS_TSA_URL = ""
    pki.ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ"])
    settings.TRIALDOCS_PKI_DIR = revoked_copy(tmp_path / "pki", tmp_path / "revoked",
                                              dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    participant, media = new(world), Path(settings.MEDIA_ROOT)
    before = set(media.rglob("*.pdf"))
    services = Animator(settings.TRIALDOCS_PKI_DIR, port).start()
    try:
        with pytest.raises(signing.SignerRevoked, match="révoqué"):
            record(world, participant, forms["patient"])
    finally:
        services.stop()
    assert not ConsentRecord.objects.filter(participant=participant).exists()
    assert not ArchivalFile.objects.exists()
    assert set(media.rglob("*.pdf")) == before


def test_no_tsa_at_all_refuses_to_sign_rather_than_storing_b_b(world, forms, settings):  # noqa: F811
    settings.TRIALDOCS_SIGNING_REFUSE_DEMO_PKI = False
    settings.TRIALDOCS_TSA_URL = ""
    settings.TRIALDOCS_PKI_DIR = Path(settings.TRIALDOCS_PKI_DIR)  # demo PKI present: its TSA is used
    assert signing.archival_timestamper().url.endswith("/trialdocs/tsa/tsa")
    (Path(settings.TRIALDOCS_PKI_DIR) / pki.CONFIG_FILE).rename(Path(settings.TRIALDOCS_PKI_DIR) / "moved.yml")
    try:
        with pytest.raises(SigningUnavailable, match="TSA"):
            signing.archival_timestamper()
    finally:
        (Path(settings.TRIALDOCS_PKI_DIR) / "moved.yml").rename(Path(settings.TRIALDOCS_PKI_DIR) / pki.CONFIG_FILE)


def test_a_timestamp_is_asked_with_the_process_tls_context_not_one_per_request(monkeypatch):
    """Proves: the TSA client (`signing.archival_timestamper`) uses the process's TLS context
    (`revocation.tls_context`), where pyHanko's default session builds one per request, reading every CA
    certificate of the system (profiled at 25-30 ms of CPU per signature); and pyHanko still has the hook
    `signing._TimeStamper` overrides."""
    import ssl

    from pyhanko.sign.timestamps import HTTPTimeStamper

    from consent.revocation import tls_context

    assert callable(getattr(HTTPTimeStamper, "_acquire_session", None))
    tls_context()
    built = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: built.append(1) or real(*args, **kwargs))
    timestamper = signing.archival_timestamper()
    token = signing.run_coroutine_sync(
        lambda: timestamper.async_timestamp(hashlib.sha256(b"consent").digest(), "sha256"))
    assert token["content_type"].native == "signed_data"
    assert built == []


def test_completion_with_the_revocation_service_down_stays_pending_then_recovers(
        world, forms, settings, tmp_path, django_capture_on_commit_callbacks):  # noqa: F811
    """A PKI whose OCSP responder and CRLs are not served: the consent is recorded (B-T, the TSA answers), its
    completion fails and is recorded as such, the file is unchanged; once the services are up, it completes."""
    port = free_port()
    settings.TRIALDOCS_PKI_DIR = tmp_path / "pki"
    settings.TRIALDOCS_PKI_SERVICES_URL = f"http://127.0.0.1:{port}"
    pki.ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ"])
    outage = Animator(settings.TRIALDOCS_PKI_DIR, free_port()).start()  # its TSA only: the certificates'
    try:  # OCSP and CRL locations (on `port`) do not answer
        settings.TRIALDOCS_TSA_URL = f"{outage.url}/tsa/tsa"
        with django_capture_on_commit_callbacks(execute=True):
            made = record(world, new(world), forms["patient"])
        signed = _bytes(ConsentRecord.objects.get(pk=made.pk))
    finally:
        outage.stop()
    state = ArchivalFile.objects.get(record=made)
    assert (state.level, state.state, state.attempts) == ("B-T", "pending", 1)
    assert state.last_error
    assert ConsentRecord.objects.get(pk=made.pk).pdf_sha256 == hashlib.sha256(signed).hexdigest()
    assert AuditEntry.objects.filter(action="archival.completion_failed").count() == 1
    with pytest.raises(ArchivalIncomplete):
        archival.complete(state.pk)  # still down: still pending, the file untouched
    assert _bytes(ConsentRecord.objects.get(pk=made.pk)) == signed

    recovered = Animator(settings.TRIALDOCS_PKI_DIR, port).start()
    try:
        settings.TRIALDOCS_TSA_URL = f"{recovered.url}/tsa/tsa"
        assert archival.complete_pending() == (1, 0)
        assert archival.complete_pending() == (0, 0)  # idempotent: nothing left to do
        state.refresh_from_db()
        assert (state.level, state.state, state.attempts) == ("B-LTA", "complete", 3)
        completed = _bytes(ConsentRecord.objects.get(pk=made.pk))
        # verified while the services answer: the current status of the document timestamp's certificate is
        # fetched from them (consent.verification.validation._archival_validation)
        assert completed.startswith(signed) and verify_pdf(completed).valid
    finally:
        recovered.stop()


def test_a_signed_master_is_b_lta_too(world, forms, django_capture_on_commit_callbacks):  # noqa: F811
    from consent import masters

    with django_capture_on_commit_callbacks(execute=True):
        master = masters.signed_master(versions=[forms["patient"]], site=world.site_a, trial=world.trial)
    state = ArchivalFile.objects.get(master=master)
    master.refresh_from_db()
    assert (state.level, state.state) == ("B-LTA", "complete")
    with master.file.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == master.sha256
    report = verify_pdf(data)
    assert report.valid and report.certified, report.problems


def test_a_copy_of_the_b_t_version_is_still_recognised_as_the_stored_document(
        world, forms, django_capture_on_commit_callbacks):  # noqa: F811
    from consent import selectors

    with django_capture_on_commit_callbacks(execute=True):
        made = record(world, new(world), forms["patient"])
        early_copy = _bytes(ConsentRecord.objects.get(pk=made.pk))
    recognition = selectors.recognise_pdf(early_copy)
    assert recognition.record is not None and recognition.record.pk == made.pk
    assert recognition.valid_and_matched


def test_completion_is_refused_for_an_unsigned_file():
    with pytest.raises(signing.SigningError):
        signing.complete_archival(b"%PDF-1.7\n%%EOF\n")


def test_validation_error_type_is_not_swallowed():
    assert issubclass(signing.TimestampUnavailable, SigningUnavailable)
    assert not issubclass(ArchivalIncomplete, ValidationError)


def test_renew_archive_timestamps_renews_what_is_due_once_and_keeps_every_version(
        world, forms, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        made = record(world, new(world), forms["patient"])
    state = ArchivalFile.objects.get(record=made)
    completed = _bytes(ConsentRecord.objects.get(pk=made.pk))
    tsa2 = signing.archival_timestamper().url.replace("/tsa/tsa", "/tsa/tsa2")
    out = StringIO()
    call_command("renew_archive_timestamps", "--horizon-days", "100", stdout=out)
    assert "0 file(s)" in out.getvalue()  # the first TSA's certificate lasts 5 years: nothing due yet
    out = StringIO()
    call_command("renew_archive_timestamps", "--horizon-days", str(6 * 365), "--tsa-url", tsa2, stdout=out)
    assert "[1/1]" in out.getvalue() and "Renewed 1, skipped 0, failed 0" in out.getvalue(), out.getvalue()
    state.refresh_from_db()
    renewed = _bytes(ConsentRecord.objects.get(pk=made.pk))
    assert renewed.startswith(completed) and verify_pdf(renewed).valid
    assert [r.reason for r in state.revisions.all()] == ["signed", "completed", "renewed"]
    assert AuditEntry.objects.filter(action="archival.renewed").count() == 1
    out = StringIO()
    call_command("renew_archive_timestamps", "--horizon-days", str(6 * 365), "--tsa-url", tsa2, stdout=out)
    assert "0 file(s)" in out.getvalue()  # idempotent: renewed until year 15 now
    from consent import selectors

    for version in (completed, renewed):  # every version it produced is recognised as the stored record
        assert selectors.recognise_pdf(version).record.pk == made.pk


def test_a_document_timestamp_the_long_term_proof_does_not_cover_is_still_reported():
    """The document timestamps after a signature are judged by the long-term validation only when it proved their
    whole chain: one by a TSA outside our roots, added to a B-LTA file, is reported (and breaks the proof)."""
    import datetime as dt
    import io

    from asn1crypto import keys as asn1_keys
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.timestamps import DummyTimeStamper

    from consent.tests.test_signing import CONSENT, make_pdf

    lta = signing.complete_archival(signing.sign_for_archive(
        make_pdf(), identity=pki.load_identity(role="site", site_code="DIJ"), request=CONSENT))
    assert verify_pdf(lta).valid
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TSA outside our roots")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=365))
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                   .sign(key, hashes.SHA256()))
    stranger = DummyTimeStamper(
        tsa_cert=signing.to_asn1_certificate(certificate),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    stamped = PdfTimeStamper(stranger, field_name="Horodatage2").timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(lta)), "sha256", output=io.BytesIO()).getvalue()
    report = verify_pdf(stamped)
    assert not report.valid and report.archival_verdict != "passed"
    assert any("Horodatage2" in problem and "not recognised" in problem for problem in report.problems), \
        report.problems
