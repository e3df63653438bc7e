"""PAdES signatures on the PDFs TrialDocs issues: signed master documents (sponsor) and consent records (sites).

A signature binds the signer to the exact bytes of a record (21 CFR 11.70) and shows who signed, when and
why (11.50). Signing is an incremental update: the bytes given are kept verbatim at the start of the output,
so a hash taken of the rendered document before signing still identifies what was signed.

Certificates and keys come from `consent.pki` (`load_identity`); checking a signed file is
`consent.verification.verify_pdf`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.conf import settings
from pyhanko.pdf_utils.generic import encode_pdfdocencoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.signers import constants as pyhanko_constants
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .revocation import RevocationStatus, async_revocation_status, fetching_context, tls_session

T = TypeVar("T")
logger = logging.getLogger(__name__)

STAMP_TEXT = "Signé électroniquement par\n%(signer)s\nle %(ts)s\nMotif : %(reason)s\nLieu : %(location)s"
STAMP_TIME_FORMAT = "%d/%m/%Y %H:%M:%S %Z"

# The stamp font is the standard Courier (WinAnsi), while pyHanko writes text as PDFDocEncoding: only
# characters encoded alike in both are drawn as themselves. Common typography is spelled out instead.
_STAMP_FALLBACKS = {"—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "≥": ">=",
                    "≤": "<=", "Œ": "OE", "€": "EUR", "\u202f": " "}


class SigningError(Exception):
    """A signature could not be produced; the message says why, in French."""


class SigningUnavailable(SigningError):
    """No signing identity (or no timestamping authority) is configured for this role or site."""


class TimestampUnavailable(SigningUnavailable):
    """The timestamping authority did not answer: nothing was signed."""


class SignerRevoked(SigningUnavailable):
    """The signer's certificate is revoked (its OCSP responder or CRL says so): nothing was signed."""


class ArchivalIncomplete(SigningError):
    """Completing a signature to B-LTA (or renewing its archive timestamp) failed for now: revocation data or a
    timestamp could not be had. The file is unchanged; try again later."""


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs: a certificate, its private key and the chain up to the root (pyca `cryptography` objects)."""

    certificate: x509.Certificate
    key: PrivateKeyTypes = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    display_name: str = ""


@dataclass(frozen=True)
class SignatureRequest:
    """What the signature means and where it shows.

    `certify=True` makes a certification signature that allows no later change (DocMDP level 1): used for
    signed master documents. `visible_box` (x1, y1, x2, y2, in points) draws a stamp on the last page with
    `stamp_text`, a template where %(signer)s, %(ts)s, %(reason)s and %(location)s are filled in (write %% for a
    percent sign); an empty `stamp_text` uses the French manifestation `STAMP_TEXT`.
    """

    field_name: str
    reason: str
    location: str
    certify: bool = False
    visible_box: tuple | None = None
    stamp_text: str = ""


def sign_pdf(pdf_bytes: bytes, *, identity: SigningIdentity, request: SignatureRequest, timestamper=None) -> bytes:
    """Sign a PDF (PAdES, SHA-256, chain embedded) and return the signed file.

    With a `timestamper` (a pyHanko `TimeStamper`: `archival_timestamper()` for the configured TSA) the signature
    carries a signature timestamp (PAdES B-T), the first step of B-LTA, which `complete_archival` finishes;
    without one it is PAdES B-B (only for tests and tools: what TrialDocs stores goes through
    `sign_for_archive`).
    The visible stamp shows the signer's name, the date and time and the meaning (21 CFR 11.50).

    Safe to call from synchronous code and from inside a running event loop (async views, Playwright tests);
    async code should prefer `async_sign_pdf`, which does not block the loop.
    """
    return run_coroutine_sync(
        lambda: async_sign_pdf(pdf_bytes, identity=identity, request=request, timestamper=timestamper)
    )


async def async_sign_pdf(
    pdf_bytes: bytes, *, identity: SigningIdentity, request: SignatureRequest, timestamper=None
) -> bytes:
    """The coroutine behind `sign_pdf`."""
    if not isinstance(pdf_bytes, bytes | bytearray) or not bytes(pdf_bytes).startswith(b"%PDF-"):
        raise SigningError("Le document à signer n'est pas un fichier PDF.")
    validation_context = None
    text_params = {
        "signer": _stamp_safe(identity.display_name or _common_name(identity.certificate)),
        "reason": _stamp_safe(request.reason),
        "location": _stamp_safe(request.location),
    }
    try:
        try:
            output = await _sign_once(pdf_bytes, identity, request, timestamper, validation_context, text_params)
        except PyhankoSigningError as exc:
            if "larger than expected" not in str(exc):
                raise
            _reserved_sizes_for(timestamper).clear()  # the space kept is too small now: estimated again
            output = await _sign_once(pdf_bytes, identity, request, timestamper, validation_context, text_params)
    except SigningError:
        raise
    except TimestampRequestError as exc:
        raise TimestampUnavailable(
            "L'autorité d'horodatage ne répond pas : rien n'a été signé ni enregistré. Réessayez dans un "
            "instant ; si cela persiste, prévenez l'administrateur.") from exc
    except Exception as exc:  # pyHanko raises a dozen types; callers need one, the cause stays chained
        raise SigningError(f"La signature du document a échoué : {exc}") from exc
    return output.getvalue()


async def _sign_once(pdf_bytes, identity, request, timestamper, validation_context, text_params) -> io.BytesIO:
    pdf_signer = _pdf_signer(identity, request, timestamper=timestamper, validation_context=validation_context)
    writer = IncrementalPdfFileWriter(io.BytesIO(bytes(pdf_bytes)))
    return await pdf_signer.async_sign_pdf(writer, appearance_text_params=text_params, output=io.BytesIO())


# --- PAdES B-LTA: signature timestamp now, validation data and document timestamp next ----------------------

LEVEL_B_T, LEVEL_B_LTA = "B-T", "B-LTA"
DOCUMENT_TIMESTAMP_FIELD = "Horodatage"


class _TimeStamper(HTTPTimeStamper):
    """pyHanko's RFC 3161 client, its session made with the process's TLS context (`revocation.tls_session`):
    pyHanko's own builds a TLS context, reading the system's CA certificates, for every request. A session is
    still made per request: each top-level call runs an event loop of its own (`run_coroutine_sync`), and a
    session belongs to one loop."""

    @contextlib.asynccontextmanager
    async def _acquire_session(self):
        if self._session is not None:  # a session given by the caller: pyHanko's way
            async with super()._acquire_session() as session:
                yield session
            return
        async with tls_session() as session:
            yield session


_timestampers: dict[str, HTTPTimeStamper] = {}


def archival_timestamper(url: str = "") -> HTTPTimeStamper:
    """The RFC 3161 TSA every stored signature is timestamped by: `TRIALDOCS_TSA_URL`, else (outside production)
    the demo PKI's TSA served by its Animator. One client per URL and process (it keeps its size estimate).

    Raises `SigningUnavailable` when there is none: TrialDocs never stores a signature without a timestamp."""
    from consent import pki

    url = url or settings.TRIALDOCS_TSA_URL or pki.demo_tsa_url()
    if not url:
        raise SigningUnavailable(
            "Aucune autorité d'horodatage (TSA) n'est configurée : définissez TRIALDOCS_TSA_URL, ou créez la PKI "
            "de démonstration (`manage.py create_signing_identity`) et lancez ses services (`manage.py "
            "pki_services`).")
    if url not in _timestampers:
        _timestampers[url] = _TimeStamper(url, timeout=10)
    return _timestampers[url]


def sign_for_archive(pdf_bytes: bytes, *, identity: SigningIdentity, request: SignatureRequest) -> bytes:
    """The signature of a document TrialDocs stores: PAdES B-T now (a signature timestamp from the TSA), to be
    completed to B-LTA by `complete_archival` (in the background: `consent.tasks.complete_archival`).

    Before signing, the signer's certificate is checked with the OCSP responder or CRL it names
    (`check_signer_not_revoked`): a revoked certificate raises `SignerRevoked` and nothing is signed, so nothing
    is recorded (a `SigningUnavailable`, the TSA outage's path: the form keeps what was typed).

    Raises `TimestampUnavailable` when the TSA does not answer (nothing is signed) and `SigningUnavailable` when
    none is configured: never a signature without its timestamp.

    Decision, when the revocation service does not answer (or not within `REVOCATION_CHECK_SECONDS`): the
    signature is made all the same, and the outage is logged (warning). Unlike the signature timestamp, which
    can only be had now (it is the proof of when the signature was made), the revocation status of the time of
    signing can still be had later: an OCSP answer or a CRL gives the date of a revocation. The B-LTA completion
    checks it as of the signature timestamp and refuses a certificate revoked before it (the file then stays
    "archival completion pending", never presented as complete), and `verify_pdf` fetches it for a file still
    B-T. Refusing to sign instead would stop every consent while a revocation service is down, for no proof
    gained."""
    return run_coroutine_sync(lambda: async_sign_for_archive(pdf_bytes, identity=identity, request=request))


async def async_sign_for_archive(pdf_bytes: bytes, *, identity: SigningIdentity, request: SignatureRequest) -> bytes:
    """The coroutine behind `sign_for_archive`. The revocation check runs while the document is signed and
    timestamped (its cost is hidden behind theirs): a signature made with a revoked certificate is discarded,
    never returned."""
    timestamper = archival_timestamper()
    status, signed = await asyncio.gather(
        _async_signer_status(identity),
        async_sign_pdf(pdf_bytes, identity=identity, request=request, timestamper=timestamper),
        return_exceptions=True)
    if isinstance(status, BaseException):
        raise status
    if isinstance(signed, BaseException):
        raise signed
    return signed


def check_signer_not_revoked(identity: SigningIdentity) -> RevocationStatus:
    """Raise `SignerRevoked` (a `SigningUnavailable`) when the identity's certificate is revoked now; otherwise
    the status found (an unknown one is logged: see `sign_for_archive` for why signing goes on)."""
    return run_coroutine_sync(lambda: _async_signer_status(identity))


async def _async_signer_status(identity: SigningIdentity) -> RevocationStatus:
    certificate = to_asn1_certificate(identity.certificate)
    status = await async_revocation_status(certificate, [to_asn1_certificate(cert) for cert in identity.chain])
    if status.state == "revoked":
        when = status.revoked_at.strftime("%d/%m/%Y %H:%M UTC") if status.revoked_at else "une date inconnue"
        raise SignerRevoked(
            f"Le certificat de signature de {identity.display_name or _common_name(identity.certificate)} est "
            f"révoqué depuis le {when} (motif : {status.reason or 'non précisé'}) : rien n'a été signé ni "
            "enregistré. Prévenez l'administrateur : un nouveau certificat doit être émis.")
    if status.state == "unknown":
        logger.warning("Revocation status of the signer's certificate unknown at signing (%s): signing anyway, "
                       "the archival completion checks it", status.detail)
    return status


def complete_archival(pdf_bytes: bytes, *, timestamper=None) -> bytes:
    """B-T → B-LTA: the validation data of the last signature (its certificate chain, OCSP responses and CRLs of
    the signer and of its timestamp's TSA, fetched now from the locations the certificates give) in the document
    security store, then a document timestamp over the whole, in new incremental revisions: the bytes given stay
    the start of the result. Raises `ArchivalIncomplete` (nothing returned) when revocation data or the TSA
    cannot be had: the caller keeps the file as it is and tries again later.

    The signer's certificate is validated as of the time its signature timestamp proves (AdES: a revocation after
    that time does not affect the signature), with the revocation data fetched now: a certificate revoked after
    the timestamp is completed (the OCSP answer embedded dates the revocation), one revoked before it is refused
    (`ArchivalIncomplete`, "RevokedError"). The document timestamp's own certificate is validated as of now."""
    return run_coroutine_sync(lambda: async_complete_archival(pdf_bytes, timestamper=timestamper))


async def async_complete_archival(pdf_bytes: bytes, *, timestamper=None) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper, TimestampDSSContentSettings
    from pyhanko.sign.validation import dss

    timestamper = timestamper or archival_timestamper()
    signature_context = validation_context = None
    try:
        reader = PdfFileReader(io.BytesIO(bytes(pdf_bytes)))
        regular = [sig for sig in reader.embedded_signatures if sig.sig_object_type == "/Sig"]
        if not regular:
            raise SigningError("Ce document ne porte aucune signature à compléter.")
        signature_context = fetching_context(moment=_signature_timestamp_time(regular[-1]))
        with_dss = await dss.async_add_validation_info(regular[-1], signature_context, add_vri_entry=False,
                                                       output=io.BytesIO())
        validation_context = fetching_context()
        writer = IncrementalPdfFileWriter(with_dss)
        stamped = await PdfTimeStamper(timestamper, field_name=_next_timestamp_field(reader)).async_timestamp_pdf(
            writer, "sha256", validation_context=validation_context, output=io.BytesIO(),
            dss_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True))
    except SigningError:
        raise
    except TimestampRequestError as exc:
        raise ArchivalIncomplete(f"autorité d'horodatage injoignable ({exc})") from exc
    except Exception as exc:  # revocation data missing (responder down), TSA error, …: the cause stays chained
        raise ArchivalIncomplete(f"{type(exc).__name__}: {exc}") from exc
    finally:
        for context in (signature_context, validation_context):
            if context is not None:
                await context.aclose()
    return stamped.getvalue()


def _signature_timestamp_time(signature):
    """The time the signature's timestamp token proves (its genTime), or None (no token: validate as of now)."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    for token in extract_tst_data_iter(signature.signer_info, signed=False):
        return token["encap_content_info"]["content"].parsed["gen_time"].native
    return None


def renew_archive_timestamp(pdf_bytes: bytes, *, timestamper=None) -> bytes:
    """A new document timestamp over a B-LTA file, with the validation data of the previous one in the DSS
    (pyHanko's archival timestamp chain update). Raises `ArchivalIncomplete` when it cannot be had."""
    return run_coroutine_sync(lambda: async_renew_archive_timestamp(pdf_bytes, timestamper=timestamper))


async def async_renew_archive_timestamp(pdf_bytes: bytes, *, timestamper=None) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    timestamper = timestamper or archival_timestamper()
    validation_context = fetching_context()
    try:
        reader = PdfFileReader(io.BytesIO(bytes(pdf_bytes)))
        output = await PdfTimeStamper(timestamper, field_name=_next_timestamp_field(reader)) \
            .async_update_archival_timestamp_chain(reader, validation_context, in_place=False, output=io.BytesIO())
    except TimestampRequestError as exc:
        raise ArchivalIncomplete(f"autorité d'horodatage injoignable ({exc})") from exc
    except Exception as exc:
        raise ArchivalIncomplete(f"{type(exc).__name__}: {exc}") from exc
    finally:
        await validation_context.aclose()
    return output.getvalue()


def _next_timestamp_field(reader) -> str:
    names = {str(sig.field_name) for sig in reader.embedded_signatures}
    number = 1
    while f"{DOCUMENT_TIMESTAMP_FIELD}{number}" in names:
        number += 1
    return f"{DOCUMENT_TIMESTAMP_FIELD}{number}"


def _pdf_signer(identity, request, *, timestamper, validation_context) -> signers.PdfSigner:
    meta = signers.PdfSignatureMetadata(
        field_name=request.field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=request.reason,
        location=request.location,
        certify=request.certify,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        embed_validation_info=validation_context is not None,
        validation_context=validation_context,
    )
    stamp_style = TextStampStyle(
        stamp_text=_stamp_safe(request.stamp_text or STAMP_TEXT), timestamp_format=STAMP_TIME_FORMAT, border_width=1
    )
    return _PdfA2Signer(
        meta,
        signer=_pyhanko_signer(identity),
        timestamper=timestamper,
        stamp_style=stamp_style,
        new_field_spec=fields.SigFieldSpec(request.field_name, on_page=-1, box=request.visible_box),
    )


# The space reserved for a signature container, as pyHanko estimates it (a dry-run signature, with the margin it
# adds for the TSA's answer), by signing certificate, kept on the timestamper (one per TSA URL and process, see
# `archival_timestamper`; here for signatures without one): the estimate is the same for every document they sign,
# so it is made once (it was a third of the B-B signature's time). Should a signature outgrow it (the TSA's
# certificate changed), the estimate is made again (`async_sign_pdf`).
_reserved_sizes: dict[tuple, int] = {}


def _reserved_sizes_for(timestamper) -> dict:
    if timestamper is None:
        return _reserved_sizes
    if not hasattr(timestamper, "trialdocs_reserved_sizes"):
        timestamper.trialdocs_reserved_sizes = {}
    return timestamper.trialdocs_reserved_sizes


class _PdfA2Signer(signers.PdfSigner):
    """A PAdES signer that keeps the document PDF 1.7, so that a PDF/A-2 document stays PDF/A-2 once signed.

    For an ECDSA key on a NIST curve (our signing keys), pyHanko declares the ISO 32002 extension, which belongs to
    PDF 2.0, and so moves the catalogue to /Version 2.0, which PDF/A-2 (based on PDF 1.7) forbids. PAdES in PDF 1.7
    is declared by the ETSI extension (ESIC), under which ECDSA is allowed (ETSI EN 319 142-1): only that one is
    declared, as pyHanko does for PAdES."""

    def init_signing_session(self, pdf_out, existing_fields_only=False):
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        sizes = _reserved_sizes_for(self.default_timestamper)
        key = (self.signer.signing_cert.sha256, self.signature_meta.embed_validation_info)
        estimate = session.estimate_signature_container_size

        async def estimate_once(validation_info, tight=False):
            if validation_info is not None:  # validation data embedded at signing: their size varies
                return await estimate(validation_info, tight=tight)
            if (key, tight) not in sizes:
                sizes[key, tight] = await estimate(validation_info, tight=tight)
            return sizes[key, tight]

        session.estimate_signature_container_size = estimate_once
        return session

    def register_extensions(self, pdf_out, *, md_algorithm: str):
        if self.signature_meta.subfilter == fields.SigSeedSubFilter.PADES:
            pdf_out.ensure_output_version(version=(1, 7))
            if pdf_out.output_version < (2, 0):
                pdf_out.register_extension(pyhanko_constants.ESIC_EXTENSION_1)
        else:
            super().register_extensions(pdf_out, md_algorithm=md_algorithm)


def run_coroutine_sync(make_coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even when an event loop is already running here.

    pyHanko's synchronous wrappers call `asyncio.run`, which fails inside a running loop; there the coroutine
    runs on a private loop in a worker thread instead (the calling loop waits, as any synchronous call makes it).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    context = contextvars.copy_context()  # the caller's context variables (`revocation_data_shared`) go along
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialdocs-pades") as pool:
        return pool.submit(context.run, lambda: asyncio.run(make_coroutine())).result()


def _pyhanko_signer(identity: SigningIdentity) -> signers.SimpleSigner:
    key_der = identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=to_asn1_certificate(identity.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([to_asn1_certificate(cert) for cert in identity.chain]),
    )


def to_asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The same certificate as pyHanko and its validator want it (asn1crypto)."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _stamp_safe(text: str) -> str:
    safe = []
    for char in "".join(_STAMP_FALLBACKS.get(c, c) for c in text):
        try:
            same = char == "\n" or encode_pdfdocencoding(char) == char.encode("cp1252")
        except UnicodeEncodeError:
            same = False
        safe.append(char if same else "?")
    return "".join(safe)
