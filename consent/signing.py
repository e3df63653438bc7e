"""PAdES signatures on the PDFs TrialDocs issues: signed master documents (sponsor) and consent records (sites).

A signature binds the signer to the exact bytes of a record (21 CFR 11.70) and shows who signed, when and
why (11.50). Signing is an incremental update: the bytes given are kept verbatim at the start of the output,
so a hash taken of the rendered document before signing still identifies what was signed.

Certificates and keys come from `consent.pki` (`load_identity`); checking a signed file is
`consent.verification.verify_pdf`.
"""

from __future__ import annotations

import asyncio
import io
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
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

T = TypeVar("T")

STAMP_TEXT = "Signé électroniquement par\n%(signer)s\nle %(ts)s\nMotif : %(reason)s\nLieu : %(location)s"
STAMP_TIME_FORMAT = "%d/%m/%Y %H:%M:%S %Z"

# The stamp font is the standard Courier (WinAnsi), while pyHanko writes text as PDFDocEncoding: only
# characters encoded alike in both are drawn as themselves. Common typography is spelled out instead.
_STAMP_FALLBACKS = {"—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "≥": ">=",
                    "≤": "<=", "Œ": "OE", "€": "EUR", "\u202f": " "}


class SigningError(Exception):
    """A signature could not be produced; the message says why, in French."""


class SigningUnavailable(SigningError):
    """No signing identity is configured for this role or site."""


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

    Without a timestamper and without `TRIALDOCS_TSA_URL` the signature is PAdES B-B. With either, it is
    timestamped (B-T) and its validation data (chain and CRLs) is embedded in a following revision (B-LT), so
    it can still be checked offline once the certificates have expired. `timestamper` is a pyHanko
    `TimeStamper` (tests use the in-process `DummyTimeStamper`); an explicit one wins over the setting.
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
    if timestamper is None and settings.TRIALDOCS_TSA_URL:
        timestamper = HTTPTimeStamper(settings.TRIALDOCS_TSA_URL)
    validation_context = _validation_context() if timestamper is not None else None
    text_params = {
        "signer": _stamp_safe(identity.display_name or _common_name(identity.certificate)),
        "reason": _stamp_safe(request.reason),
        "location": _stamp_safe(request.location),
    }
    try:
        pdf_signer = _pdf_signer(identity, request, timestamper=timestamper, validation_context=validation_context)
        writer = IncrementalPdfFileWriter(io.BytesIO(bytes(pdf_bytes)))
        output = await pdf_signer.async_sign_pdf(writer, appearance_text_params=text_params, output=io.BytesIO())
    except SigningError:
        raise
    except Exception as exc:  # pyHanko raises a dozen types; callers need one, the cause stays chained
        raise SigningError(f"La signature du document a échoué : {exc}") from exc
    finally:
        if validation_context is not None:
            await validation_context.aclose()
    return output.getvalue()


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
    return signers.PdfSigner(
        meta,
        signer=_pyhanko_signer(identity),
        timestamper=timestamper,
        stamp_style=stamp_style,
        new_field_spec=fields.SigFieldSpec(request.field_name, on_page=-1, box=request.visible_box),
    )


def run_coroutine_sync(make_coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even when an event loop is already running here.

    pyHanko's synchronous wrappers call `asyncio.run`, which fails inside a running loop; there the coroutine
    runs on a private loop in a worker thread instead (the calling loop waits, as any synchronous call makes it).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialdocs-pades") as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


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


def _validation_context():
    """Trust anchors and CRLs to embed for B-LT. Only production certificates may fetch revocation data."""
    from consent import pki  # pki builds SigningIdentity objects, so it imports this module

    return ValidationContext(trust_roots=pki.trust_roots(), crls=pki.crls(), allow_fetching=pki.production_mode())


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
