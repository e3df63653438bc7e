"""The unsigned parts of each signature, which no signature covers: the gap holding the hexadecimal CMS container,
and inside the container its encoding, versions, digest algorithms, signer identifier and carried certificates."""

from __future__ import annotations

import hashlib
import re

from asn1crypto import cms, core
from asn1crypto import parser as asn1_parser
from cryptography import x509 as crypto_x509
from cryptography.exceptions import InvalidSignature
from django.utils.translation import gettext as _
from pyhanko.sign.validation import EmbeddedPdfSignature

_HEX_GAP = re.compile(rb"^<([0-9a-fA-F]*)>$")
_DIGESTS = {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"}


def _container_problems(data: bytes, signature: EmbeddedPdfSignature, anchors) -> list[str]:
    """Nothing in the unsigned gap of a signature may be altered, even where validation would not look.

    The gap must hold the hexadecimal CMS container, in one letter case, then zero padding; the container must
    be canonical DER with coherent versions and digest algorithms; every certificate it carries (and its
    timestamp token carries) must be the very certificate its issuer signed, or byte for byte our trust anchor.
    """
    byte_range = [int(n) for n in signature.byte_range]
    prefix = _("Signature « %(field)s »: ") % {"field": signature.field_name}
    if len(byte_range) != 4 or byte_range[0] != 0 or byte_range[2] < byte_range[1]:
        return [prefix + _("non-standard signed byte range.")]
    match = _HEX_GAP.match(data[byte_range[1]:byte_range[2]])
    if match is None:
        return [prefix + _("the signature area was altered (unexpected characters).")]
    digits = match.group(1)
    if digits not in (digits.lower(), digits.upper()):
        return [prefix + _("the signature area was altered (mixed letter case).")]
    contents = bytes.fromhex(digits.decode("ascii"))
    header, body, trailer = asn1_parser.parse(contents)[3:]
    used = len(header) + len(body) + len(trailer)
    if any(contents[used:]):
        return [prefix + _("bytes were added after the signature container.")]
    if not _exactly_one_signed_data(body):
        return [prefix + _("the signature container was altered (inconsistent length).")]
    signed_data = cms.ContentInfo.load(contents[:used])["content"]
    tokens = [token["content"] for token in _timestamp_tokens(signed_data["signer_infos"][0])]
    if not all(_coherent(part) for part in (signed_data, *tokens)):
        return [prefix + _("the signature container was altered (inconsistent encoding).")]
    if not all(_signer_identified_exactly(part) for part in (signed_data, *tokens)):
        return [prefix + _("the signer's identifier in the container was altered.")]
    if not _carried_certificates_genuine(signature, anchors):
        return [prefix + _("a certificate carried with the signature was altered, or its issuer is unknown.")]
    return []


def _exactly_one_signed_data(content_info: bytes) -> bool:
    """ContentInfo holds a content type and one [0] EXPLICIT element, with nothing before, between or after.

    A length changed in the header would otherwise swallow zero padding that the parser then ignores.
    """
    if _element_count(content_info) != 2:
        return False
    _, _, _, header, body, trailer = asn1_parser.parse(content_info)
    explicit = asn1_parser.parse(content_info[len(header) + len(body) + len(trailer):])
    return _element_count(explicit[4]) == 1


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


def _recased_sha256(original: bytes, signature: EmbeddedPdfSignature) -> str:
    """The SHA-256 of `original` with the signature container's digits in the other letter case, or "" when that
    changes nothing (only digits, or mixed case)."""
    start, end = int(signature.byte_range[1]), int(signature.byte_range[2])
    gap = original[start:end]
    other = gap.lower() if gap == gap.upper() else gap.upper() if gap == gap.lower() else gap
    return "" if other == gap else hashlib.sha256(original[:start] + other + original[end:]).hexdigest()
