"""PAdES signing and verification (consent/signing.py, consent/verification/) and the demo PKI (consent/pki/)."""

import asyncio
import datetime as dt
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.timestamps import DummyTimeStamper
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from consent import pki
from consent.signing import (
    SignatureRequest,
    SigningUnavailable,
    async_sign_pdf,
    sign_pdf,
    to_asn1_certificate,
)
from consent.verification import async_verify_pdf, verify_pdf

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")
TEXT = "Je soussigné·e, Élodie Lefèvre, consens à l'étude : dose ≥ 5 µg/kg, cœur, œdème, à Dijon."

CONSENT = SignatureRequest(
    field_name="Investigateur", reason="Consentement recueilli", location="Dijon, FR", visible_box=(60, 60, 360, 150)
)
MASTER = SignatureRequest(field_name="Promoteur", reason="Document maître approuvé", location="Dijon, FR", certify=True)


def make_pdf(pages: int = 2) -> bytes:
    """A small consent form with a registered Unicode font and byte-identical output for the same input."""
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT)))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, invariant=1, initialFontName="DejaVuSans")
    for number in range(1, pages + 1):
        page.setFont("DejaVuSans", 11)
        page.drawString(60, 780, f"Formulaire de consentement éclairé — page {number}/{pages}")
        page.drawString(60, 760, TEXT)
        page.showPage()
    page.save()
    return buffer.getvalue()


@pytest.fixture
def pki_dir(tmp_path, settings):
    settings.TRIALDOCS_PKI_DIR = tmp_path / "pki"
    return settings.TRIALDOCS_PKI_DIR


@pytest.fixture
def identities(pki_dir):
    pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ", "LIL"])
    return pki_dir


@pytest.fixture(scope="module")
def consent_pdf():
    return make_pdf()


@pytest.fixture
def signed_consent(identities, consent_pdf):
    return sign_pdf(consent_pdf, identity=pki.load_identity(role="site", site_code="DIJ"), request=CONSENT)


def dummy_timestamper(*, at: dt.datetime | None = None) -> DummyTimeStamper:
    tsa = pki.load_timestamping_identity()
    key_der = tsa.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DummyTimeStamper(
        tsa_cert=to_asn1_certificate(tsa.certificate), tsa_key=asn1_keys.PrivateKeyInfo.load(key_der), fixed_dt=at
    )


def byte_range(signed: bytes) -> list[int]:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", signed)
    return [int(n) for n in match.groups()]


def flip(data: bytes, position: int) -> bytes:
    """Change one byte, keeping hexadecimal digits hexadecimal so the file stays parseable."""
    old = data[position:position + 1]
    new = {b"0": b"1"}.get(old, b"0") if old in b"0123456789abcdefABCDEF" else bytes([data[position] ^ 0x01])
    return data[:position] + new + data[position + 1:]


def append_annotation(signed: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    annotation = writer.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
        generic.pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (100, 100, 120, 120)]),
        generic.pdf_name("/Contents"): generic.TextStringObject("Ajouté après signature"),
    }))
    annotations = page.get("/Annots", generic.ArrayObject())
    annotations.append(annotation)
    page["/Annots"] = annotations
    writer.update_container(page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def remove_signature_value(signed: bytes) -> bytes:
    """An incremental update that empties the signature field: the /Sig dictionary is no longer referenced."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    for field_ref in writer.root["/AcroForm"]["/Fields"]:
        field = field_ref.get_object()
        if "/V" in field:
            del field["/V"]
            writer.update_container(field)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def pdfsig(path: Path, *extra: str) -> str:
    result = subprocess.run([PDFSIG, *extra, str(path)], capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


# --- the demo PKI and its command ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_signing_identity_creates_then_keeps_then_force_regenerates(pki_dir):
    out = io.StringIO()
    call_command("create_signing_identity", "--site", "DIJ", "--site", "lil", "--sponsor", "CHU Test", stdout=out)
    lines = out.getvalue()
    for label in ("CA", "CRL", "sponsor", "site DIJ", "site LIL", "TSA", "TSA 2", "OCSP"):
        assert re.search(rf"^\S*created\s+{label}\S*$", lines, re.MULTILINE), lines
    before = {path.name: path.read_bytes() for path in pki_dir.iterdir()}

    out = io.StringIO()
    call_command("create_signing_identity", "--site", "DIJ", "--site", "LIL", "--sponsor", "CHU Test", stdout=out)
    assert "created" not in out.getvalue() and "regenerated" not in out.getvalue()
    assert out.getvalue().count("kept") == 8
    assert {path.name: path.read_bytes() for path in pki_dir.iterdir()} == before

    out = io.StringIO()
    call_command("create_signing_identity", "--site", "DIJ", "--force", stdout=out)
    assert out.getvalue().count("regenerated") == 8  # LIL too: its old certificate was issued by the old CA
    after = {path.name: path.read_bytes() for path in pki_dir.iterdir()}
    assert set(after) == set(before)
    assert all(after[name] != before[name] for name in after)


def test_sponsor_certificate_names_the_sponsor_and_the_meaning_and_the_ca_says_demo(identities):
    sponsor = pki.load_identity(role="sponsor")
    assert sponsor.display_name == "CHU Dijon Bourgogne — signature des documents maîtres"
    usage = sponsor.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    ca = sponsor.chain[0]
    assert "DEMO / TEST" in ca.subject.rfc4514_string()
    assert ca.subject == ca.issuer == sponsor.certificate.issuer
    # RSA for the CA: certomancer issues its certificates anew in each process, byte-identical only with
    # deterministic (PKCS#1 v1.5) signatures; people sign with EC P-256
    assert isinstance(ca.public_key(), rsa.RSAPublicKey)
    assert isinstance(sponsor.certificate.public_key(), ec.EllipticCurvePublicKey)
    ocsp = sponsor.certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    crl = sponsor.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert ocsp[0].access_location.value.endswith("/trialdocs/ocsp/ca")
    assert crl[0].full_name[0].value.endswith("/trialdocs/crls/ca/latest.crl")
    site = pki.load_identity(role="site", site_code="dij")
    assert site.display_name.startswith("Centre investigateur DIJ (DIJ) — signature des consentements")


def test_long_sponsor_name_is_shortened_to_fit_a_certificate_name(pki_dir):
    pki.ensure_identities(sponsor_name="Assistance Publique – Hôpitaux de Paris, Direction de la recherche "
                                       "clinique et de l'innovation", site_codes=[])
    name = pki.load_identity(role="sponsor").display_name
    assert len(name.encode()) <= 64 and name.endswith("… — signature des documents maîtres")


@pytest.mark.django_db
def test_create_signing_identity_without_sites_covers_every_site_in_the_database(world, pki_dir):
    out = io.StringIO()
    call_command("create_signing_identity", stdout=out)
    for code in ("DIJ", "LIL", "BOR"):
        assert (pki_dir / f"site-{code}.cert.pem").exists()
    site = pki.load_identity(role="site", site_code="LIL")
    assert site.display_name == "Hôpital fictif de Lille (LIL) — signature des consentements"
    assert pki.load_identity(role="sponsor").display_name == "CHU Test — signature des documents maîtres"


def test_keys_and_passphrase_are_private_and_keys_are_encrypted(identities):
    assert stat.S_IMODE(identities.stat().st_mode) == 0o700
    keys = sorted(identities.glob("*.key.pem"))
    assert [key.name for key in keys] == [
        "ca.key.pem", "ocsp.key.pem", "site-DIJ.key.pem", "site-LIL.key.pem", "sponsor.key.pem", "tsa.key.pem",
        "tsa2.key.pem"]
    assert stat.S_IMODE((identities / pki.CONFIG_FILE).stat().st_mode) == 0o600  # it names the passphrase
    for path in [*keys, identities / pki.PASSPHRASE_FILE]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for key in keys:
        # The header is split so that the source does not read like a committed key.
        assert key.read_bytes().startswith(b"-----BEGIN " + b"ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):  # useless without the passphrase
            serialization.load_pem_private_key(key.read_bytes(), password=None)


_writes: list[str] | None = None


def _record_writes(event, args):
    if _writes is None:
        return
    if event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        writing = (isinstance(mode, str) and any(m in mode for m in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        )
        if writing and isinstance(path, str | bytes | os.PathLike):
            _writes.append(os.fsdecode(path))
    elif event in ("os.rename", "os.mkdir", "os.chmod", "os.remove", "shutil.rmtree") and args:
        if isinstance(args[0], str | bytes | os.PathLike):
            _writes.append(os.fsdecode(args[0]))
        if event == "os.rename" and len(args) > 1 and isinstance(args[1], str | bytes | os.PathLike):
            _writes.append(os.fsdecode(args[1]))


sys.addaudithook(_record_writes)


@pytest.mark.django_db
def test_create_signing_identity_writes_nothing_outside_the_pki_directory(pki_dir):
    global _writes
    _writes = []
    try:
        call_command("create_signing_identity", "--site", "DIJ", stdout=io.StringIO())
        call_command("create_signing_identity", "--site", "DIJ", "--force", stdout=io.StringIO())
        written = [path for path in _writes if "__pycache__" not in path]
    finally:
        _writes = None
    assert any(path.endswith("site-DIJ.key.pem") for path in written), written
    outside = [path for path in written if not Path(path).resolve().is_relative_to(Path(pki_dir).resolve())]
    assert outside == []
    assert not Path(pki_dir).resolve().is_relative_to(Path(django_settings.BASE_DIR).resolve())


@pytest.mark.django_db
def test_create_signing_identity_refuses_a_directory_inside_the_git_tree(settings):
    target = Path(settings.BASE_DIR) / "consent" / "pki-must-not-exist"
    settings.TRIALDOCS_PKI_DIR = target
    with pytest.raises(CommandError, match="arbre git"):
        call_command("create_signing_identity", "--site", "DIJ", stdout=io.StringIO())
    assert not target.exists()


@pytest.mark.django_db
def test_create_signing_identity_fails_on_an_invalid_site_code(pki_dir):
    with pytest.raises(CommandError, match="Code de site invalide"):
        call_command("create_signing_identity", "--site", "../etc", stdout=io.StringIO())


def test_a_lost_key_is_regenerated_and_the_rest_kept(identities):
    (identities / "site-DIJ.key.pem").unlink()
    results = pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ"])
    assert results == {"CA": "kept", "CRL": "kept", "sponsor": "kept", "site DIJ": "regenerated", "TSA": "kept",
                       "TSA 2": "kept", "OCSP": "kept"}
    assert pki.load_identity(role="site", site_code="DIJ").certificate.issuer == pki.load_identity(
        role="sponsor"
    ).certificate.issuer


def test_missing_identity_raises_signing_unavailable_with_the_command_to_run(pki_dir):
    with pytest.raises(SigningUnavailable, match=r"manage\.py create_signing_identity --site DIJ"):
        pki.load_identity(role="site", site_code="DIJ")
    with pytest.raises(SigningUnavailable, match=r"manage\.py create_signing_identity"):
        pki.load_identity(role="sponsor")


def test_an_identity_for_one_site_does_not_sign_for_another(identities):
    with pytest.raises(SigningUnavailable, match="BOR"):
        pki.load_identity(role="site", site_code="BOR")


# --- signing and verifying ----------------------------------------------------------------------------------


def test_signed_consent_verifies_with_signer_reason_time_and_hashes(identities, consent_pdf):
    identity = pki.load_identity(role="site", site_code="DIJ")
    signed = sign_pdf(consent_pdf, identity=identity, request=CONSENT)
    report = verify_pdf(signed)
    assert report.valid, report.problems
    assert report.intact and report.trusted and report.covers_whole_file and not report.modified_after_signing
    assert report.problems == []
    assert report.signer_name == identity.display_name
    assert report.reason == "Consentement recueilli"
    assert report.field_name == "Investigateur"
    assert not report.certified
    assert report.signed_at.tzinfo is not None and report.signed_at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - report.signed_at) < dt.timedelta(minutes=1)
    assert report.file_sha256 == hashlib.sha256(signed).hexdigest()
    start, length, resume, rest = byte_range(signed)
    assert report.signed_revision_sha256 == hashlib.sha256(
        signed[start:start + length] + signed[resume:resume + rest]
    ).hexdigest()


def test_signing_is_an_incremental_update_that_keeps_the_original_bytes(signed_consent, consent_pdf):
    assert signed_consent.startswith(consent_pdf)
    assert make_pdf() == consent_pdf  # the rendered form is reproducible, so its hash can be recorded


def test_certification_signature_is_reported_as_certified(identities, consent_pdf):
    signed = sign_pdf(consent_pdf, identity=pki.load_identity(role="sponsor"), request=MASTER)
    report = verify_pdf(signed)
    assert report.valid and report.certified, report.problems
    assert report.signer_name == "CHU Dijon Bourgogne — signature des documents maîtres"
    assert report.reason == "Document maître approuvé"


def test_visible_stamp_shows_signer_date_and_meaning_on_the_last_page(signed_consent, tmp_path):
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_consent)
    last_page = subprocess.run(
        [pdftotext, "-f", "2", "-l", "2", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Signé électroniquement par" in last_page
    assert "Centre investigateur DIJ (DIJ) - signature des consentements" in last_page
    assert "Motif : Consentement recueilli" in last_page
    assert re.search(r"le \d\d/\d\d/\d{4} \d\d:\d\d:\d\d", last_page)


@pytest.mark.skipif(PDFSIG is None, reason="pdfsig (poppler-utils) is not installed")
def test_pdfsig_accepts_the_signature_and_rejects_a_one_byte_change(signed_consent, tmp_path):
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_consent)
    output = pdfsig(path)
    assert "Signature is Valid." in output, output
    assert "Total document signed" in output

    altered = tmp_path / "altered.pdf"
    altered.write_bytes(flip(signed_consent, byte_range(signed_consent)[1] // 2))
    output = pdfsig(altered)
    assert "Signature is Valid." not in output, output


@pytest.mark.skipif(PDFSIG is None or CERTUTIL is None, reason="pdfsig or certutil (libnss3-tools) is missing")
def test_pdfsig_trusts_the_certificate_once_the_demo_ca_is_in_an_nss_database(pki_dir, consent_pdf, settings,
                                                                              tmp_path):
    from consent.pki_services import Animator, free_port

    # pdfsig (NSS) asks the OCSP responder the certificate names: this PKI's own services answer it, as
    # `manage.py pki_services` does for the demo
    port = free_port()
    settings.TRIALDOCS_PKI_SERVICES_URL = f"http://127.0.0.1:{port}"
    pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ"])
    signed_consent = sign_pdf(consent_pdf, identity=pki.load_identity(role="site", site_code="DIJ"), request=CONSENT)
    database = tmp_path / "nssdb"
    database.mkdir()
    subprocess.run([CERTUTIL, "-N", "-d", f"sql:{database}", "--empty-password"], check=True, timeout=60)
    subprocess.run(
        [CERTUTIL, "-A", "-d", f"sql:{database}", "-n", "TrialDocs demo CA", "-t", "C,C,C",
         "-i", str(pki_dir / "ca.cert.pem")],
        check=True, timeout=60,
    )
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_consent)
    services = Animator(pki_dir, port).start()
    try:
        output = pdfsig(path, "-nssdir", f"sql:{database}")
    finally:
        services.stop()
    assert "Signature is Valid." in output and "Certificate is Trusted." in output, output


def _signed_range_start(signed):
    return flip(signed, 40)


def _signed_range_middle(signed):
    return flip(signed, byte_range(signed)[1] // 2)


def _signed_range_after_contents(signed):
    start, length, resume, rest = byte_range(signed)
    return flip(signed, resume + rest // 2)


def _contents_der(signed):
    return flip(signed, byte_range(signed)[1] + 200)


def _contents_padding(signed):
    return flip(signed, byte_range(signed)[2] - 20)


def _contents_letter_case(signed):
    start, length, resume, rest = byte_range(signed)
    gap = signed[length:resume]
    position = length + next(i for i, c in enumerate(gap) if chr(c) in "abcdefABCDEF")
    return signed[:position] + signed[position:position + 1].swapcase() + signed[position + 1:]


def _sig_type_overwritten(signed):
    return signed.replace(b"/Type /Sig", b"/Type /Xyz", 1)


def _appended_bytes(signed):
    return signed + b"\n% commentaire ajoute\n"


TAMPERING = {
    "one byte at the start of the signed range": _signed_range_start,
    "one byte in the middle of the signed range": _signed_range_middle,
    "one byte in the signed range after the signature": _signed_range_after_contents,
    "one byte in the signature container": _contents_der,
    "one byte in the signature padding": _contents_padding,
    "letter case changed in the signature": _contents_letter_case,
    "incremental update adding an annotation": append_annotation,
    "incremental update removing the signature value": remove_signature_value,
    "signature dictionary overwritten": _sig_type_overwritten,
    "bytes appended after %%EOF": _appended_bytes,
    "truncated to half": lambda signed: signed[: len(signed) // 2],
    "truncated by ten bytes": lambda signed: signed[:-10],
    "truncated inside the signature": lambda signed: signed[: byte_range(signed)[1] + 50],
    "unsigned original": None,
    "garbage bytes": lambda signed: bytes(range(256)) * 8,
    "PDF header then garbage": lambda signed: b"%PDF-1.7\n" + bytes(range(256)) * 4,
    "empty bytes": lambda signed: b"",
}


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
def test_tampered_or_unsigned_pdf_is_not_valid_and_says_why(tampering, signed_consent, consent_pdf):
    change = TAMPERING[tampering]
    candidate = consent_pdf if change is None else change(signed_consent)
    assert candidate != signed_consent
    report = verify_pdf(candidate)
    assert not report.valid
    assert report.problems and all(isinstance(problem, str) and problem for problem in report.problems)
    assert report.file_sha256 == hashlib.sha256(candidate).hexdigest()


@pytest.mark.parametrize("timestamped", [False, True], ids=["B-B", "B-LT"])
def test_a_change_anywhere_in_the_signature_container_is_detected(timestamped, identities, consent_pdf):
    """The container sits outside the signed ranges: certificates, signer identifier, lengths, unsigned
    attributes and the timestamp token are checked one by one. Sample its whole length, headers included."""
    signed = sign_pdf(consent_pdf, identity=pki.load_identity(role="site", site_code="DIJ"), request=CONSENT,
                      timestamper=dummy_timestamper() if timestamped else None)
    _, length, resume, _ = byte_range(signed)
    digits = signed[length + 1:resume - 1].rstrip(b"0")
    positions = sorted({*range(0, 24), *range(0, len(digits), max(1, len(digits) // 60)), len(digits) - 1})
    accepted = [p for p in positions if verify_pdf(flip(signed, length + 1 + p)).valid]
    assert accepted == []


def test_verify_pdf_answers_not_valid_for_inputs_that_are_not_bytes():
    assert not verify_pdf(None).valid
    assert not verify_pdf("%PDF-1.7").valid


def test_signature_by_a_certificate_outside_our_roots_is_not_trusted(identities, consent_pdf):
    stranger = _self_signed_identity("Quelqu'un d'autre")
    report = verify_pdf(sign_pdf(consent_pdf, identity=stranger, request=CONSENT))
    assert report.intact and not report.trusted and not report.valid
    assert any("autorités de confiance" in problem for problem in report.problems)


# --- timestamps (B-T, with validation data: B-LT) -----------------------------------------------------------


def test_timestamped_signature_reports_the_timestamp_time(identities, consent_pdf):
    stamped_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)).replace(microsecond=0)
    signed = sign_pdf(
        consent_pdf, identity=pki.load_identity(role="sponsor"), request=MASTER,
        timestamper=dummy_timestamper(at=stamped_at),
    )
    report = verify_pdf(signed)
    assert report.valid, report.problems
    assert report.signed_at == stamped_at
    assert report.certified
    # B-T: the signature timestamp only; the validation data and the document timestamp come with
    # `complete_archival` (test_archival.py), in later revisions.
    assert report.level == "B-T" and b"/DSS" not in signed
    assert report.covers_whole_file and not report.modified_after_signing


def test_annotation_added_after_a_timestamped_signature_is_detected(identities, consent_pdf):
    signed = sign_pdf(
        consent_pdf, identity=pki.load_identity(role="site", site_code="LIL"), request=CONSENT,
        timestamper=dummy_timestamper(),
    )
    report = verify_pdf(append_annotation(signed))
    assert not report.valid and report.modified_after_signing
    assert any("modifié après la signature" in problem for problem in report.problems)


# --- inside a running event loop ----------------------------------------------------------------------------


def test_signing_and_verifying_work_inside_a_running_event_loop(identities, consent_pdf):
    identity = pki.load_identity(role="site", site_code="DIJ")

    async def in_a_view():
        signed = sign_pdf(consent_pdf, identity=identity, request=CONSENT, timestamper=dummy_timestamper())
        report = verify_pdf(signed)
        signed_async = await async_sign_pdf(consent_pdf, identity=identity, request=CONSENT)
        return report, await async_verify_pdf(signed_async)

    # In a thread of its own: when the browser tests run in the same process, Playwright's loop is running here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        sync_report, async_report = pool.submit(asyncio.run, in_a_view()).result()
    assert sync_report.valid, sync_report.problems
    assert async_report.valid, async_report.problems


# --- production: PKCS#12 from the environment ---------------------------------------------------------------


def _self_signed_identity(name: str):
    from consent.signing import SigningIdentity

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(certificate=certificate, key=key, display_name=name)


def _production_p12(path: Path, *, name: str, password: bytes) -> Path:
    """A CA and a signer, as a certificate provider would deliver them, in a password-protected PKCS#12."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Autorité de test {name}")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        name.encode(), key, certificate, [ca], serialization.BestAvailableEncryption(password)
    ))
    return path


def test_production_pkcs12_is_used_for_sponsor_and_sites(settings, tmp_path, consent_pdf, pki_dir):
    settings.TRIALDOCS_SIGNING_P12 = str(_production_p12(tmp_path / "prod.p12", name="CHU Prod", password=b"s3cret"))
    settings.TRIALDOCS_SIGNING_P12_PASSWORD = "s3cret"
    assert pki.production_mode()
    sponsor = pki.load_identity(role="sponsor")
    site = pki.load_identity(role="site", site_code="DIJ")
    assert sponsor.display_name == site.display_name == "CHU Prod"
    assert [cert.subject.rfc4514_string() for cert in sponsor.chain] == ["CN=Autorité de test CHU Prod"]

    report = verify_pdf(sign_pdf(consent_pdf, identity=site, request=CONSENT))
    assert report.valid, report.problems
    assert report.signer_name == "CHU Prod"


def test_production_per_site_pkcs12_wins_over_the_shared_one(settings, tmp_path, consent_pdf, pki_dir):
    settings.TRIALDOCS_SIGNING_P12 = str(_production_p12(tmp_path / "all.p12", name="CHU Tous", password=b"a"))
    settings.TRIALDOCS_SIGNING_P12_PASSWORD = "a"
    settings.TRIALDOCS_SIGNING_P12_DIJ = str(_production_p12(tmp_path / "dij.p12", name="CHU Dijon", password=b"d"))
    settings.TRIALDOCS_SIGNING_P12_DIJ_PASSWORD = "d"
    assert pki.load_identity(role="site", site_code="DIJ").display_name == "CHU Dijon"
    assert pki.load_identity(role="site", site_code="LIL").display_name == "CHU Tous"
    assert pki.load_identity(role="sponsor").display_name == "CHU Tous"
    for code in ("DIJ", "LIL"):
        signed = sign_pdf(consent_pdf, identity=pki.load_identity(role="site", site_code=code), request=CONSENT)
        assert verify_pdf(signed).valid


def test_production_never_falls_back_to_the_demo_pki(settings, tmp_path, identities, consent_pdf):
    demo_signed = sign_pdf(consent_pdf, identity=pki.load_identity(role="sponsor"), request=MASTER)
    settings.TRIALDOCS_SIGNING_P12_DIJ = str(_production_p12(tmp_path / "dij.p12", name="CHU Dijon", password=b"d"))
    settings.TRIALDOCS_SIGNING_P12_PASSWORD = "d"
    with pytest.raises(SigningUnavailable, match="TRIALDOCS_SIGNING_P12"):
        pki.load_identity(role="sponsor")
    report = verify_pdf(demo_signed)
    assert report.intact and not report.trusted and not report.valid


def test_wrong_pkcs12_password_raises_signing_unavailable(settings, tmp_path):
    settings.TRIALDOCS_SIGNING_P12 = str(_production_p12(tmp_path / "prod.p12", name="CHU Prod", password=b"right"))
    settings.TRIALDOCS_SIGNING_P12_PASSWORD = "wrong"
    with pytest.raises(SigningUnavailable, match="mot de passe"):
        pki.load_identity(role="sponsor")


def test_refusing_the_demo_pki_stops_signing_with_it_and_trusting_it(settings, identities, consent_pdf):
    signed = sign_pdf(consent_pdf, identity=pki.load_identity(role="sponsor"), request=MASTER)
    settings.TRIALDOCS_SIGNING_REFUSE_DEMO_PKI = True
    with pytest.raises(SigningUnavailable, match="TRIALDOCS_SIGNING_REFUSE_DEMO_PKI"):
        pki.load_identity(role="sponsor")
    assert pki.trust_roots() == []
    assert not verify_pdf(signed).valid


@pytest.mark.django_db
def test_rotating_a_site_key_keeps_what_the_old_one_signed_verifiable(identities, consent_pdf):
    old = pki.load_identity(role="site", site_code="DIJ")
    signed_before = sign_pdf(consent_pdf, identity=old, request=CONSENT)
    out = io.StringIO()
    call_command("create_signing_identity", "--site", "DIJ", "--site", "LIL", "--rotate", "DIJ", stdout=out)
    assert re.search(r"^\S*rotated\s+site DIJ", out.getvalue(), re.MULTILINE), out.getvalue()
    assert "rotated     site LIL" not in out.getvalue()
    new = pki.load_identity(role="site", site_code="DIJ")
    assert new.certificate != old.certificate and new.certificate.public_key() != old.certificate.public_key()
    assert (identities / "site-DIJ.1.cert.pem").read_bytes() == old.certificate.public_bytes(
        serialization.Encoding.PEM)
    signed_after = sign_pdf(consent_pdf, identity=new, request=CONSENT)
    for signed in (signed_before, signed_after):
        report = verify_pdf(signed)
        assert report.valid, report.problems
    assert pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ"])["site DIJ"] == "kept"


def test_an_animator_whose_port_another_one_holds_refuses_to_start_rather_than_borrow_its_answers(pki_dir,
                                                                                                     settings):
    """Proves: `Animator.start` returns only once its own process answers (the answers carry the token it gave
    it). A service of another test, on the port this PKI's certificates name, answers with another PKI's keys:
    taking its answers for ours made OCSP answers and timestamps fail to verify, as a flaky failure."""
    from consent.pki_services import Animator, free_port

    port = free_port()
    settings.TRIALDOCS_PKI_SERVICES_URL = f"http://127.0.0.1:{port}"
    pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ"])
    holder = Animator(pki_dir, port).start()
    try:
        with pytest.raises(RuntimeError, match=f"port {port}"):
            Animator(pki_dir, port).start(timeout=30).stop()  # (stopped, should it ever start)
    finally:
        holder.stop()
