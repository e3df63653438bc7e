"""How much of a file verification examines (`VerificationLimits`), and the checks that refuse a file beyond a
cap with a message before the costly steps: on the raw bytes, on the form's fields, on each signature container."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    DocumentDecodeBudget,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import EmbeddedPdfSignature

from .container import _timestamp_tokens
from .objects import _get

MiB = 1024 * 1024


@dataclass(frozen=True)
class VerificationLimits:
    """How much of a file verification examines. Beyond any of these, the file is refused with a message, unread.

    The caps sit far above what this system produces (one signature, or one and a document timestamp; two or three
    revisions; a few dozen objects) and far below what would take seconds to examine.
    """

    max_bytes: int = 20 * MiB  # the upload limit of /verify/
    max_revisions: int = 8  # incremental updates, counted by their `startxref`
    max_objects: int = 20_000  # cross-reference entries, all revisions together (also as declared by /Size, /Index)
    max_fields: int = 64  # form fields walked, signature fields or not
    max_signatures: int = 8  # signature fields, filled or empty
    max_changed_objects: int = 400  # objects examined in the revisions after the signed one
    max_container_bytes: int = 64 * 1024  # one signature's CMS container (DER)
    max_certificates: int = 16  # certificates carried in one container (each is checked against the others)
    max_listed_changes: int = 12  # lines of `changes_after_signing`; the rest are counted

    def decode_limits(self) -> DecodeLimits:
        """pyHanko's bounds on decompressed stream data (a flate bomb is refused, not expanded)."""
        return DecodeLimits(
            per_stream=StreamDecodeLimits(max_ratio=1100, ratio_floor=MiB, max_output_size=32 * MiB),
            per_purpose={**DEFAULT_PURPOSE_LIMITS,
                         DecodePurpose.OBJECT_STREAM: StreamDecodeLimits(max_ratio=100, ratio_floor=MiB,
                                                                         max_output_size=8 * MiB),
                         DecodePurpose.XREF_STREAM: StreamDecodeLimits(max_ratio=100, ratio_floor=MiB,
                                                                       max_output_size=4 * MiB),
                         DecodePurpose.XMP_METADATA: StreamDecodeLimits(max_ratio=100, ratio_floor=MiB,
                                                                        max_output_size=MiB)},
            document_budget=DocumentDecodeBudget(base_allowance=48 * MiB, max_ratio=3),
        )


LIMITS = VerificationLimits()


class BeyondLimits(Exception):
    """The file exceeds a `VerificationLimits` cap; the message says which, for the person who sent it."""


def check_limits(data: bytes, limits: VerificationLimits = LIMITS) -> None:
    """Refuse (`BeyondLimits`) a file whose structure declares more than verification examines, before pyHanko
    reads it: pyHanko reads every cross-reference entry of every revision as it opens a file (some ten
    microseconds each), so a 20 MB file of tiny objects would take seconds before any check could run.
    Counts made on the raw bytes, at C speed, stopping as soon as a cap is passed."""
    if len(data) > limits.max_bytes:
        raise BeyondLimits(_("This file is too large to verify (%(size)s MB at most).")
                           % {"size": limits.max_bytes // MiB})
    revisions = data.count(b"startxref")
    if revisions > limits.max_revisions:
        raise BeyondLimits(_("This file was saved %(count)s times over (revisions); verification examines "
                             "%(max)s at most: it was not verified.") % {"count": revisions,
                                                                         "max": limits.max_revisions})
    entries = 0
    for _match in _XREF_ENTRY_END.finditer(data):
        entries += 1
        if entries > limits.max_objects:
            break
    declared = max((int(size) for size in _SIZE.findall(data)), default=0)
    indexed = sum(sum(int(count) for count in numbers.split()[1::2]) for numbers in _INDEX.findall(data))
    objects = max(entries, declared, indexed)
    if objects > limits.max_objects:
        raise BeyondLimits(_("This file declares more than %(max)s objects; verification examines %(max)s at "
                             "most: it was not verified.") % {"max": limits.max_objects})
    for number, match in enumerate(_CONTENTS_HEX.finditer(data)):
        if number > limits.max_fields:
            break
        closing = data.find(b">", match.end(), match.end() + 2 * limits.max_container_bytes + 2)
        if closing < 0:
            raise BeyondLimits(_container_too_large(limits))


# The end of one cross-reference table entry ("0000000017 00000 n" and its two-character end of line).
_XREF_ENTRY_END = re.compile(rb" [nf](?: \r| \n|\r\n|\n)")
_SIZE = re.compile(rb"/Size\s{0,8}(\d{1,12})")
_INDEX = re.compile(rb"/Index\s{0,8}\[([\d\s]{0,4096})\]")
_CONTENTS_HEX = re.compile(rb"/Contents\s{0,8}<")


def _check_fields(reader: PdfFileReader, limits: VerificationLimits) -> None:
    """Walk the form's field tree (kids included, a cycle counts until the cap) before pyHanko does: a file with
    hundreds of signature fields pointing at one real signature had pyHanko check that signature once per field."""
    form = _get(reader.root, "/AcroForm")
    fields = _get(form, "/Fields") if isinstance(form, generic.DictionaryObject) else None
    pending = list(fields.iterate()) if isinstance(fields, generic.ArrayObject) else []
    walked = signature_fields = 0
    while pending:
        node = pending.pop()
        walked += 1
        if walked > limits.max_fields:
            raise BeyondLimits(_("This file has more than %(max)s form fields; verification examines %(max)s at "
                                 "most: it was not verified.") % {"max": limits.max_fields})
        node = node.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        if _get(node, "/FT") == "/Sig":
            signature_fields += 1
        kids = _get(node, "/Kids")
        if isinstance(kids, generic.ArrayObject):
            pending.extend(kids.iterate())
    if signature_fields > limits.max_signatures:
        raise BeyondLimits(_("This file has %(count)s signature fields; a document signed here has one or two, and "
                             "verification examines %(max)s at most: it was not verified.") % {
            "count": signature_fields, "max": limits.max_signatures})


def _check_container(signature: EmbeddedPdfSignature, limits: VerificationLimits) -> None:
    """Each carried certificate is checked against every other one (`_carried_certificates_genuine`)."""
    if len(signature.pkcs7_content) > limits.max_container_bytes:
        raise BeyondLimits(_container_too_large(limits))
    carried = len(signature.signed_data["certificates"] or [])
    if signature.sig_object_type == "/Sig":
        carried += sum(len(token["content"]["certificates"] or [])
                       for token in _timestamp_tokens(signature.signer_info))
    if carried > limits.max_certificates:
        raise BeyondLimits(_("A signature in this file carries %(count)s certificates; verification examines "
                             "%(max)s at most: it was not verified.") % {"count": carried,
                                                                         "max": limits.max_certificates})


def _container_too_large(limits: VerificationLimits) -> str:
    return _("A signature container in this file is larger than verification examines (%(size)s KB at most): it "
             "was not verified.") % {"size": limits.max_container_bytes // 1024}
