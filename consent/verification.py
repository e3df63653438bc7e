"""Check a signed PDF: is it the very document that was signed, by whom, when, and do we trust the signer?

Used before a signed record is accepted, filed in the TMF or shown to an inspector. The answer is a
`SignatureReport`; bad input (garbage, unsigned, truncated, altered) gives `valid=False` and the reasons in
`problems`, never an exception.

Rules beyond pyHanko's own checks, because a record must not change by a single byte after signing:
- the last signature covers the whole file; the only later revision accepted is PAdES validation data
  (B-LT: certificates and CRLs in the DSS, or a document timestamp), which changes nothing in the document;
- the unsigned gap of each signature holds exactly the hexadecimal CMS container followed by zero padding,
  in one letter case; inside the container, the parts no signature covers (lengths, versions, digest
  algorithms, signer identifier, unsigned attributes, carried certificates, the timestamp token's own
  container) are checked too, so that no byte outside the signed ranges can be altered unnoticed
  (every single-digit change of a B-B and a B-LT container was tried and refused);
- nothing follows the last %%EOF but an end of line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field, replace

from asn1crypto import cms, core
from asn1crypto import parser as asn1_parser
from cryptography import x509 as crypto_x509
from cryptography.exceptions import InvalidSignature
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    SignatureCoverageLevel,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko_certvalidator import ValidationContext

from consent import pki
from consent.signing import run_coroutine_sync

logger = logging.getLogger(__name__)

_HEX_GAP = re.compile(rb"^<([0-9a-fA-F]*)>$")
_EOF_TAIL = re.compile(rb"%%EOF(\r\n|\r|\n)?\Z")
_DIGESTS = {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"}


@dataclass(frozen=True)
class SignatureReport:
    """What `verify_pdf` found. `valid` is the one answer to act on; the rest explains it."""

    valid: bool
    intact: bool
    trusted: bool
    covers_whole_file: bool
    modified_after_signing: bool
    certified: bool
    signer_name: str
    signed_at: dt.datetime | None
    reason: str
    field_name: str
    signed_revision_sha256: str
    file_sha256: str
    problems: list[str] = field(default_factory=list)


def verify_pdf(pdf_bytes: bytes) -> SignatureReport:
    """Verify the last signature of a PDF against our trust roots and CRLs, offline.

    `valid` means: cryptographically intact, the signer's chain leads to one of `pki.trust_roots()` (not
    revoked per `pki.crls()`), the signature covers the whole file and nothing was added after it except
    PAdES validation data. Earlier signatures, if any, must be intact and trusted as well.
    Safe inside a running event loop; async code should prefer `async_verify_pdf`.
    """
    return run_coroutine_sync(lambda: async_verify_pdf(pdf_bytes))


async def async_verify_pdf(pdf_bytes: bytes) -> SignatureReport:
    """The coroutine behind `verify_pdf`."""
    data = bytes(pdf_bytes) if isinstance(pdf_bytes, bytes | bytearray | memoryview) else b""
    file_sha256 = hashlib.sha256(data).hexdigest()
    try:
        return await _verify(data, file_sha256)
    except Exception as exc:  # a verifier must answer "not valid", whatever the file does to the parser
        logger.info("PDF signature verification failed on malformed input", exc_info=True)
        return _failure(file_sha256, f"Le fichier n'a pas pu être vérifié ({type(exc).__name__}) : il est "
                                     "probablement endommagé ou tronqué.")


async def _verify(data: bytes, file_sha256: str) -> SignatureReport:
    if not data:
        return _failure(file_sha256, "Le fichier est vide.")
    if not data.startswith(b"%PDF-"):
        return _failure(file_sha256, "Ce fichier n'est pas un PDF (en-tête %PDF- absent).")
    try:
        reader = PdfFileReader(io.BytesIO(data))
        signatures = reader.embedded_signatures
    except Exception:  # any parser failure means the same thing here
        logger.info("Unreadable PDF", exc_info=True)
        return _failure(file_sha256, "Le PDF est illisible ou tronqué : sa structure ne peut pas être lue.")
    regular = [sig for sig in signatures if sig.sig_object_type == "/Sig"]
    if not regular:
        return _failure(file_sha256, "Aucune signature électronique dans ce document.")

    problems: list[str] = []
    if not _EOF_TAIL.search(data[-64:]):
        problems.append("Des octets suivent la fin du fichier (%%EOF) : le fichier a été modifié après signature.")

    anchors = pki.trust_roots()
    validation_context = ValidationContext(trust_roots=anchors, crls=pki.crls(), allow_fetching=False)
    statuses = {}
    try:
        for signature in signatures:
            try:
                problems.extend(_container_problems(data, signature, anchors))
                statuses[id(signature)] = await _validate(signature, validation_context)
            except Exception as exc:  # an altered container makes pyHanko raise any of a dozen types
                logger.info("Unreadable signature %s", signature.field_name, exc_info=True)
                problems.append(f"Signature « {signature.field_name} » illisible ou altérée ({_brief(exc)}).")
    finally:
        await validation_context.aclose()

    last = regular[-1]
    status = statuses.get(id(last))
    if status is None:
        return replace(
            _failure(file_sha256, problems[0]), problems=problems, field_name=str(last.field_name or ""),
            reason=str(last.sig_object.get("/Reason", "")),
        )
    coverage = status.coverage
    covers_whole_file = coverage == SignatureCoverageLevel.ENTIRE_FILE
    modified = not (covers_whole_file or _only_validation_data_after(status))
    intact = bool(status.intact and status.valid)
    trusted = bool(status.trusted)

    problems.extend(_status_problems(status, intact=intact, trusted=trusted))
    if coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        problems.append("La signature ne couvre pas le document entier (plage d'octets signée non standard).")
    elif modified:
        problems.append("Le document a été modifié après la signature (révision ajoutée au fichier signé).")
    for other in signatures:
        if other is not last and id(other) in statuses:
            prefix = f"Autre signature « {other.field_name} » : "
            problems.extend(prefix + problem for problem in _other_problems(statuses[id(other)]))

    timestamp = status.timestamp_validity
    signed_at = timestamp.timestamp if timestamp is not None else status.signer_reported_dt
    valid = not problems and intact and trusted and not modified
    return SignatureReport(
        valid=valid,
        intact=intact,
        trusted=trusted,
        covers_whole_file=covers_whole_file,
        modified_after_signing=modified,
        certified=_is_certification(reader, last),
        signer_name=_signer_name(last),
        signed_at=signed_at.astimezone(dt.UTC) if signed_at is not None else None,
        reason=str(last.sig_object.get("/Reason", "")),
        field_name=str(last.field_name or ""),
        signed_revision_sha256=last.compute_digest("sha256").hex(),
        file_sha256=file_sha256,
        problems=problems,
    )


def _failure(file_sha256: str, problem: str) -> SignatureReport:
    return SignatureReport(
        valid=False, intact=False, trusted=False, covers_whole_file=False, modified_after_signing=False,
        certified=False, signer_name="", signed_at=None, reason="", field_name="", signed_revision_sha256="",
        file_sha256=file_sha256, problems=[problem],
    )


async def _validate(signature: EmbeddedPdfSignature, validation_context: ValidationContext):
    if signature.sig_object_type == "/Sig":
        return await async_validate_pdf_signature(signature, signer_validation_context=validation_context)
    return await async_validate_pdf_timestamp(signature, validation_context=validation_context)


def _brief(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def _only_validation_data_after(status) -> bool:
    """True when the revisions after the signed one only add PAdES validation data or document timestamps."""
    return (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and isinstance(status.diff_result, DiffResult)
        and status.diff_result.modification_level <= ModificationLevel.LTA_UPDATES
    )


def _status_problems(status, *, intact: bool, trusted: bool) -> list[str]:
    problems = []
    if not status.intact:
        problems.append("Le contenu signé a été modifié : son empreinte ne correspond plus à la signature.")
    elif not status.valid:
        problems.append("La signature cryptographique est invalide.")
    if intact and not trusted:
        if status.revoked:
            problems.append("Le certificat du signataire est révoqué.")
        else:
            indication = status.trust_problem_indic.name if status.trust_problem_indic else "chaîne inconnue"
            problems.append(
                "Le certificat du signataire n'est pas reconnu par nos autorités de confiance "
                f"({indication})."
            )
    timestamp = status.timestamp_validity
    if timestamp is not None and not (timestamp.intact and timestamp.valid and timestamp.trusted):
        problems.append("L'horodatage de la signature est invalide ou émis par une autorité non reconnue.")
    if status.docmdp_ok is False:
        problems.append("Les modifications faites après la signature sont interdites par le document certifié.")
    return problems


def _other_problems(status) -> list[str]:
    problems = []
    if not (status.intact and status.valid):
        problems.append("son contenu signé a été modifié.")
    elif not status.trusted:
        problems.append("son certificat n'est pas reconnu par nos autorités de confiance.")
    if status.docmdp_ok is False or (
        status.coverage is not None and status.coverage < SignatureCoverageLevel.ENTIRE_REVISION
    ):
        problems.append("le document a été modifié d'une manière qu'elle n'autorise pas.")
    return problems


def _container_problems(data: bytes, signature: EmbeddedPdfSignature, anchors) -> list[str]:
    """Nothing in the unsigned gap of a signature may be altered, even where validation would not look.

    The gap must hold the hexadecimal CMS container, in one letter case, then zero padding; the container must
    be canonical DER with coherent versions and digest algorithms; every certificate it carries (and its
    timestamp token carries) must be the very certificate its issuer signed, or byte for byte our trust anchor.
    """
    byte_range = [int(n) for n in signature.byte_range]
    prefix = f"Signature « {signature.field_name} » : "
    if len(byte_range) != 4 or byte_range[0] != 0 or byte_range[2] < byte_range[1]:
        return [prefix + "plage d'octets signée non standard."]
    match = _HEX_GAP.match(data[byte_range[1]:byte_range[2]])
    if match is None:
        return [prefix + "la zone de la signature a été altérée (caractères inattendus)."]
    digits = match.group(1)
    if digits not in (digits.lower(), digits.upper()):
        return [prefix + "la zone de la signature a été altérée (casse mélangée)."]
    contents = bytes.fromhex(digits.decode("ascii"))
    _, _, _, header, body, trailer = asn1_parser.parse(contents)
    used = len(header) + len(body) + len(trailer)
    if any(contents[used:]):
        return [prefix + "des octets ont été ajoutés après le conteneur de signature."]
    if not _exactly_one_signed_data(body):
        return [prefix + "le conteneur de signature a été altéré (longueur incohérente)."]
    signed_data = cms.ContentInfo.load(contents[:used])["content"]
    tokens = [token["content"] for token in _timestamp_tokens(signed_data["signer_infos"][0])]
    if not all(_coherent(part) for part in (signed_data, *tokens)):
        return [prefix + "le conteneur de signature a été altéré (encodage incohérent)."]
    if not all(_signer_identified_exactly(part) for part in (signed_data, *tokens)):
        return [prefix + "l'identifiant du signataire dans le conteneur a été altéré."]
    if not _carried_certificates_genuine(signature, anchors):
        return [prefix + "un certificat joint à la signature a été altéré ou son émetteur est inconnu."]
    return []


def _coherent(signed_data) -> bool:
    """One signer; known versions, digests and unsigned attributes; no element added, re-tagged or re-encoded.

    Signed attributes and the signature value are covered by the signature, certificates by their issuers'
    signatures and timestamp tokens by the same checks (recursively); this covers the rest, which is small.
    """
    signer_infos = signed_data["signer_infos"]
    if signed_data["version"].native not in ("v1", "v3") or len(signer_infos) != 1:
        return False
    signer_info = signer_infos[0]
    if _element_count(signed_data.contents) != 4 + _present(signed_data, "certificates", "crls"):
        return False
    if _element_count(signer_info.contents) != 5 + _present(signer_info, "signed_attrs", "unsigned_attrs"):
        return False
    unsigned_parts = (
        signed_data["version"], signed_data["digest_algorithms"], signed_data["encap_content_info"],
        signer_info["version"], signer_info["sid"], signer_info["digest_algorithm"], signer_info["signature_algorithm"],
    )
    if not all(_canonical(part) for part in unsigned_parts):
        return False
    unsigned_types = [attribute["type"].native for attribute in signer_info["unsigned_attrs"] or []]
    digests = [algorithm["algorithm"].native for algorithm in signed_data["digest_algorithms"]]
    expected_version = "v1" if signer_info["sid"].name == "issuer_and_serial_number" else "v3"
    return (
        signer_info["version"].native == expected_version
        and signer_info["digest_algorithm"]["algorithm"].native in digests
        and all(name in _DIGESTS for name in digests)
        and all(algorithm["parameters"].native is None for algorithm in signed_data["digest_algorithms"])
        and all(kind == "signature_time_stamp_token" for kind in unsigned_types)
        and all(len(attribute["values"]) == 1 for attribute in signer_info["unsigned_attrs"] or [])
    )


def _exactly_one_signed_data(content_info: bytes) -> bool:
    """ContentInfo holds a content type and one [0] EXPLICIT element, with nothing before, between or after.

    A length changed in the header would otherwise swallow zero padding that the parser then ignores.
    """
    if _element_count(content_info) != 2:
        return False
    _, _, _, header, body, trailer = asn1_parser.parse(content_info)
    explicit = asn1_parser.parse(content_info[len(header) + len(body) + len(trailer):])
    return _element_count(explicit[4]) == 1


def _present(sequence, *names: str) -> int:
    return sum(not isinstance(sequence[name], core.Void) for name in names)


def _element_count(contents: bytes) -> int:
    """How many elements the contents of a DER SEQUENCE hold (asn1crypto keeps ones it cannot place)."""
    remaining, count = contents, 0
    while remaining:
        _, _, _, header, body, trailer = asn1_parser.parse(remaining)
        remaining = remaining[len(header) + len(body) + len(trailer):]
        count += 1
    return count


def _canonical(value) -> bool:
    """Re-encoding gives back the very bytes: nothing re-tagged, padded or left over by the parser."""
    original = value.dump()
    value.native  # parse every level, so the re-encoding below is complete  # noqa: B018
    return value.dump(force=True) == original


def _timestamp_tokens(signer_info):
    for attribute in signer_info["unsigned_attrs"] or []:
        if attribute["type"].native == "signature_time_stamp_token":
            yield from attribute["values"]


def _signer_identified_exactly(signed_data) -> bool:
    """The signer identifier is unsigned; name matching forgives case, so compare it byte for byte."""
    sid = signed_data["signer_infos"][0]["sid"]
    certificates = [choice.chosen for choice in signed_data["certificates"] or [] if choice.name == "certificate"]
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].dump()
        return any(
            cert.issuer.dump() == issuer and cert["tbs_certificate"]["serial_number"].dump() == serial
            for cert in certificates
        )
    return any(cert.key_identifier_value and cert.key_identifier_value.dump() == sid.chosen.dump()
               for cert in certificates)


def _carried_certificates_genuine(signature: EmbeddedPdfSignature, anchors) -> bool:
    """Validation builds the path from our copy of the root, so an altered carried copy would go unnoticed."""
    carried = list(_carried_certificates(signature.signed_data))
    for token in _timestamp_tokens(signature.signer_info):
        carried.extend(_carried_certificates(token["content"]))
    roots = [crypto_x509.load_der_x509_certificate(anchor.dump()) for anchor in anchors]
    for certificate in carried:
        twin = [root for root in roots if root.subject == certificate.subject
                and root.public_key() == certificate.public_key()]
        if twin:
            if certificate not in twin:
                return False
            continue
        issuers = [candidate for candidate in (*carried, *roots) if candidate.subject == certificate.issuer]
        if not any(_issued_by(certificate, issuer) for issuer in issuers):
            return False
    return True


def _carried_certificates(signed_data):
    for choice in signed_data["certificates"] or []:
        if choice.name == "certificate":
            yield crypto_x509.load_der_x509_certificate(choice.chosen.dump())


def _issued_by(certificate, issuer) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_certification(reader: PdfFileReader, signature: EmbeddedPdfSignature) -> bool:
    """Certification (DocMDP) signature: the one the catalogue's /Perms /DocMDP points to."""
    try:
        certification = reader.root["/Perms"].raw_get("/DocMDP")
        value = signature.sig_field.raw_get("/V")
    except KeyError:
        return False
    certification_ref = getattr(certification, "reference", None)
    return certification_ref is not None and certification_ref == getattr(value, "reference", None)


def _signer_name(signature: EmbeddedPdfSignature) -> str:
    subject = signature.signer_cert.subject
    return str(subject.native.get("common_name") or subject.human_friendly)
