"""Check a signed PDF: is it the very document that was signed, by whom, when, and do we trust the signer?

Used before a signed record is accepted, filed in the TMF or shown to an inspector (`/verify/`, `manage.py
verify_pdf`). The answer is a `SignatureReport`; bad input (garbage, unsigned, truncated, altered, too big to
examine) gives `valid=False` and the reasons in `problems`, never an exception.

Rules beyond pyHanko's own checks, because a record must not change by a single byte after signing:
- the last signature covers the whole file; the only later revisions accepted are PAdES validation data (B-LT:
  certificates and CRLs in the DSS, or a document timestamp), with the document information and XMP metadata
  rewritten by the writer only in their dates and producer. Anything else after the signed revision (a new field,
  visible or not, an annotation, another title in Info or XMP, objects nothing refers to, bytes after %%EOF) is
  listed in `changes_after_signing`, and the signed revision itself is still checked and reported
  (`signed_revision_intact`): the answer says what was found, not only "not valid";
- the unsigned gap of each signature holds exactly the hexadecimal CMS container followed by zero padding,
  in one letter case; inside the container, the parts no signature covers (lengths, versions, digest
  algorithms, signer identifier, unsigned attributes, carried certificates, the timestamp token's own
  container) are checked too, so that no byte outside the signed ranges can be altered unnoticed
  (every single-digit change of a B-B and a B-LT container was tried and refused);
- nothing follows the last %%EOF but an end of line.

The work is bounded (`VerificationLimits`): revisions, objects, form fields, signatures, the size of a signature
container and the certificates it carries, the bytes decoded from streams and the objects examined after the
signed revision are capped, and a file beyond any cap is refused with a message before the costly steps, so that
any file up to the upload limit is answered quickly (bench/verify_pdf_bounds.py). Our own documents are far
below every cap: one or two signatures, two or three revisions, well under a hundred objects.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field, replace

from asn1crypto import cms, core
from asn1crypto import parser as asn1_parser
from cryptography import x509 as crypto_x509
from cryptography.exceptions import InvalidSignature
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    DocumentDecodeBudget,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.pdf_utils.reader import PdfFileReader
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


@dataclass(frozen=True)
class SignatureReport:
    """What `verify_pdf` found. `valid` is the one answer to act on; the rest explains it.

    `valid` is True only when the last signature is intact and trusted and nothing follows it but validation data.
    When something was changed after signing, `signed_revision_intact` still says whether the signed revision
    itself is intact and trusted, and `changes_after_signing` lists the changes, in words. `original_sha256` is the
    SHA-256 of the file as it stood once signed (its bytes up to the end of the signed revision and of the
    validation data after it): the same as `file_sha256` when nothing else follows; `recased_sha256` the same with
    the signature container's hexadecimal digits in the other letter case (a copy where only that was rewritten).
    """

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
    signed_revision_intact: bool = False
    changes_after_signing: list[str] = field(default_factory=list)
    original_sha256: str = ""
    recased_sha256: str = ""
    beyond_limits: bool = False
    level: str = ""  # PAdES baseline level found: B-B, B-T, B-LT or B-LTA
    archival_verdict: str = ""  # the long-term (AdES LTA) validation's answer, for B-LTA files
    timestamp_expires_at: dt.datetime | None = None  # when the last document timestamp's certificate expires


def verify_pdf(pdf_bytes: bytes, *, limits: VerificationLimits = LIMITS) -> SignatureReport:
    """Verify the last signature of a PDF against our trust roots and CRLs, offline.

    `valid` means: cryptographically intact, the signer's chain leads to one of `pki.trust_roots()` (not
    revoked per `pki.crls()`), the signature covers the whole file and nothing was added after it except
    PAdES validation data. Earlier signatures, if any, must be intact and trusted as well.
    Safe inside a running event loop; async code should prefer `async_verify_pdf`.
    """
    return run_coroutine_sync(lambda: async_verify_pdf(pdf_bytes, limits=limits))


async def async_verify_pdf(pdf_bytes: bytes, *, limits: VerificationLimits = LIMITS) -> SignatureReport:
    """The coroutine behind `verify_pdf`."""
    data = bytes(pdf_bytes) if isinstance(pdf_bytes, bytes | bytearray | memoryview) else b""
    file_sha256 = hashlib.sha256(data).hexdigest()
    try:
        report = await _verify(data, file_sha256, limits)
        if report is None:  # unreadable as a whole: perhaps a readable signed original with bytes added after it
            report = await _signed_original_of_unreadable(data, file_sha256, limits)
        return report
    except BeyondLimits as exc:
        return replace(_failure(file_sha256, str(exc)), beyond_limits=True)
    except PdfDecodeLimitError:
        return replace(_failure(file_sha256, _(
            "This file holds compressed data that expands beyond what verification examines: it was not "
            "verified.")), beyond_limits=True)
    except Exception as exc:  # a verifier must answer "not valid", whatever the file does to the parser
        logger.info("PDF signature verification failed on malformed input", exc_info=True)
        return _failure(file_sha256, _("The file could not be verified (%(error)s): it is probably damaged or "
                                       "truncated.") % {"error": type(exc).__name__})


def verify_pdf_in_time(pdf_bytes: bytes, *, seconds: float | None = None,
                       limits: VerificationLimits = LIMITS) -> SignatureReport:
    """`verify_pdf` in a child process that is stopped after `seconds` (`TRIALDOCS_VERIFY_SECONDS`), for files
    from anyone (`/verify/`, `manage.py verify_pdf`).

    The caps of `VerificationLimits` refuse the known ways of making verification slow, each with its own message;
    this is the guarantee behind them: whatever a file does to the parser (pyHanko reads strings one character at
    a time, for one), the answer comes in time and the server's worker is free again. The child is forked (cheap
    on Linux: it shares the parent's memory until it writes) and touches neither the database nor any file but the
    trust anchors; where processes cannot be forked, verification runs in the calling process.
    """
    import multiprocessing

    from django.conf import settings

    seconds = settings.TRIALDOCS_VERIFY_SECONDS if seconds is None else seconds
    data = bytes(pdf_bytes) if isinstance(pdf_bytes, bytes | bytearray | memoryview) else b""
    if "fork" not in multiprocessing.get_all_start_methods():
        return verify_pdf(data, limits=limits)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_verify_in_child, args=(sender, data, limits), daemon=True)
    child.start()
    sender.close()
    try:
        report = receiver.recv() if receiver.poll(seconds) else None
    except (EOFError, OSError):  # the child died without answering
        report = None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if report is None:
        return replace(_failure(hashlib.sha256(data).hexdigest(), _(
            "Verifying this file takes longer than allowed (%(seconds)s s): its structure is too complex to "
            "examine, and it was not verified.") % {"seconds": f"{seconds:g}"}), beyond_limits=True)
    return report


def _verify_in_child(sender, data: bytes, limits: VerificationLimits) -> None:
    try:
        sender.send(verify_pdf(data, limits=limits))
    finally:
        sender.close()


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


async def _verify(data: bytes, file_sha256: str, limits: VerificationLimits) -> SignatureReport | None:
    if not data:
        return _failure(file_sha256, _("The file is empty."))
    if not data.startswith(b"%PDF-"):
        return _failure(file_sha256, _("This file is not a PDF (no %PDF- header)."))
    check_limits(data, limits)
    try:
        reader = PdfFileReader(io.BytesIO(data), decode_limits=limits.decode_limits())
        if reader.xrefs.total_revisions > limits.max_revisions:
            raise BeyondLimits(_("This file was saved %(count)s times over (revisions); verification examines "
                                 "%(max)s at most: it was not verified.") % {
                "count": reader.xrefs.total_revisions, "max": limits.max_revisions})
        _check_fields(reader, limits)
        signatures = reader.embedded_signatures
    except (BeyondLimits, PdfDecodeLimitError):
        raise
    except Exception:  # any parser failure means the same thing here
        logger.info("Unreadable PDF", exc_info=True)
        return None
    regular = [sig for sig in signatures if sig.sig_object_type == "/Sig"]
    if not regular:
        return _failure(file_sha256, _("This document holds no electronic signature."))

    problems: list[str] = []
    anchors = pki.trust_roots()
    validation_context = ValidationContext(trust_roots=anchors, crls=pki.crls(), allow_fetching=False)
    statuses, unsound = {}, set()
    try:
        for signature in signatures:
            _check_container(signature, limits)
            try:
                found = _container_problems(data, signature, anchors)
                statuses[id(signature)] = await _validate(signature, validation_context)
            except Exception as exc:  # an altered container makes pyHanko raise any of a dozen types
                logger.info("Unreadable signature %s", signature.field_name, exc_info=True)
                found = [_("Signature « %(field)s » unreadable or altered (%(error)s).") % {
                    "field": signature.field_name, "error": _brief(exc)}]
            if found:
                unsound.add(id(signature))
                problems.extend(found)
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
    intact = bool(status.intact and status.valid)
    trusted = bool(status.trusted)
    later = _after_signing(reader, data, last, limits) if coverage == SignatureCoverageLevel.ENTIRE_REVISION else None
    modified = not covers_whole_file and (later is None or bool(later.changes))
    changes = later.changes if later is not None else []
    original_end = later.original_end if later is not None else len(data)
    if not _EOF_TAIL.search(data[-64:]):
        problems.append(_("Bytes follow the end of the file (%%EOF): the file was modified after signing."))
        trailing = _bytes_after_last_eof(data)
        if trailing and not changes:
            changes = [_count_bytes_added(trailing)]

    level = _level(reader, last)
    archival = None
    if level == "B-LTA" and intact and id(last) not in unsound:
        # on a reader of its own: the checks above leave the first one's objects resolved in other revisions
        fresh = PdfFileReader(io.BytesIO(data), decode_limits=limits.decode_limits())
        archival = await _archival_validation(fresh, fresh.embedded_regular_signatures[-1], anchors)
        if archival.passed:
            trusted = True  # proven at the time of the timestamps, whatever the certificates' state now
    status_problems = _status_problems(status, intact=intact, trusted=trusted,
                                       proven=archival is not None and archival.passed)
    problems.extend(status_problems)
    if archival is not None and not archival.passed:
        problems.append(archival.problem)
    certified = _is_certification(reader, last)
    if coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        problems.append(_("The signature does not cover the whole document (non-standard signed byte range)."))
    elif modified:
        problems.append(_("The document was modified after signing (a revision was added to the signed file)."))
        if certified:
            problems.append(_("The document is certified by this signature: no change is allowed after it."))
    for other in signatures:
        if other is not last and id(other) in statuses:
            prefix = _("Other signature « %(field)s »: ") % {"field": other.field_name}
            problems.extend(prefix + problem for problem in _other_problems(statuses[id(other)]))

    timestamp = status.timestamp_validity
    signed_at = timestamp.timestamp if timestamp is not None else status.signer_reported_dt
    valid = not problems and intact and trusted and not modified
    original = data[:original_end]
    signed_revision_intact = (intact and trusted and not status_problems and id(last) not in unsound
                              and coverage >= SignatureCoverageLevel.ENTIRE_REVISION)
    return SignatureReport(
        valid=valid,
        intact=intact,
        trusted=trusted,
        covers_whole_file=covers_whole_file,
        modified_after_signing=modified or not _EOF_TAIL.search(data[-64:]),
        certified=certified,
        signer_name=_signer_name(last),
        signed_at=signed_at.astimezone(dt.UTC) if signed_at is not None else None,
        reason=str(last.sig_object.get("/Reason", "")),
        field_name=str(last.field_name or ""),
        signed_revision_sha256=last.compute_digest("sha256").hex(),
        file_sha256=file_sha256,
        problems=problems,
        signed_revision_intact=signed_revision_intact,
        changes_after_signing=_capped(changes, limits),
        original_sha256=hashlib.sha256(original).hexdigest(),
        recased_sha256=_recased_sha256(original, last),
        level=level,
        archival_verdict=archival.verdict if archival is not None else "",
        timestamp_expires_at=archival.expires_at if archival is not None else None,
    )


@dataclass(frozen=True)
class _Archival:
    passed: bool
    verdict: str
    problem: str
    expires_at: dt.datetime | None


def _level(reader: PdfFileReader, signature: EmbeddedPdfSignature) -> str:
    if not any(True for _token in _timestamp_tokens(signature.signer_info)):
        return "B-B"
    if any(sig.sig_object_type == "/DocTimeStamp" and sig.signed_revision > signature.signed_revision
           for sig in reader.embedded_signatures):
        return "B-LTA"
    return "B-LT" if "/DSS" in reader.root else "B-T"


async def _archival_validation(reader: PdfFileReader, signature: EmbeddedPdfSignature, anchors) -> _Archival:
    """PAdES long-term validation (ETSI EN 319 102-1 § 5.6.3, pyHanko's `ades_lta_validation`) at the process
    clock: the signature as of the time its timestamps prove, with the validation data in the file's DSS; the
    current status of the newest document timestamp's certificate is fetched from its CRL or OCSP responder.

    A last document timestamp whose certificate has expired proves nothing any more: "archive timestamp expired:
    renewal was due" (`renew_archive_timestamps` adds one in time)."""
    from pyhanko.sign.ades.report import AdESStatus
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        LocalKnowledge,
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    stamps = reader.embedded_timestamp_signatures
    expires_at = stamps[-1].signer_cert.not_valid_after if stamps else None
    now = dt.datetime.now(dt.UTC)
    if expires_at is not None and expires_at <= now:
        return _Archival(False, "expired", _(
            "archive timestamp expired: renewal was due (the last document timestamp's certificate expired on "
            "%(date)s; nothing proves the signature since)") % {"date": expires_at.strftime("%Y-%m-%d")},
            expires_at)
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=anchors),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH),
        local_knowledge=LocalKnowledge(known_certs=pki.known_certificates()),
    ))
    try:
        result = await ades_lta_validation(signature, spec)
    except Exception as exc:  # an unreadable DSS or timestamp chain is a failed proof, not a crash
        logger.info("AdES LTA validation failed", exc_info=True)
        return _Archival(False, "error", _("The long-term proof could not be checked (%(error)s).") % {
            "error": _brief(exc)}, expires_at)
    if result.ades_subindic.status == AdESStatus.PASSED:
        return _Archival(True, "passed", "", expires_at)
    return _Archival(False, str(result.ades_subindic.name), _(
        "The long-term proof (PAdES B-LTA) does not hold: %(indication)s.") % {
        "indication": result.ades_subindic.name}, expires_at)


def _failure(file_sha256: str, problem: str) -> SignatureReport:
    return SignatureReport(
        valid=False, intact=False, trusted=False, covers_whole_file=False, modified_after_signing=False,
        certified=False, signer_name="", signed_at=None, reason="", field_name="", signed_revision_sha256="",
        file_sha256=file_sha256, problems=[problem],
    )


async def _validate(signature: EmbeddedPdfSignature, validation_context: ValidationContext):
    """pyHanko's checks of one signature, without its difference analysis: what follows the signed revision is
    judged by `_after_signing`, which accepts only validation data (pyHanko's analysis accepts more, such as
    metadata rewritten or objects nothing refers to, and its cost grows with the square of the fields added)."""
    if signature.sig_object_type == "/Sig":
        return await async_validate_pdf_signature(signature, signer_validation_context=validation_context,
                                                  skip_diff=True)
    return await async_validate_pdf_timestamp(signature, validation_context=validation_context, skip_diff=True)


def _brief(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def _status_problems(status, *, intact: bool, trusted: bool, proven: bool = False) -> list[str]:
    """What is wrong with a signature's status now. `proven`: the long-term validation showed it valid at the
    time its timestamps prove, so the certificates' state today (expired, say) is no problem."""
    problems = []
    if proven:
        if not status.intact:
            problems.append(_("The signed content was modified: its fingerprint no longer matches the signature."))
        elif not status.valid:
            problems.append(_("The cryptographic signature is invalid."))
        return problems
    if not status.intact:
        problems.append(_("The signed content was modified: its fingerprint no longer matches the signature."))
    elif not status.valid:
        problems.append(_("The cryptographic signature is invalid."))
    if intact and not trusted:
        if status.revoked:
            problems.append(_("The signer's certificate is revoked."))
        else:
            indication = status.trust_problem_indic.name if status.trust_problem_indic else _("unknown chain")
            problems.append(_("The signer's certificate is not recognised by our trust authorities (%(why)s).")
                            % {"why": indication})
    timestamp = status.timestamp_validity
    if timestamp is not None and not (timestamp.intact and timestamp.valid and timestamp.trusted):
        problems.append(_("The signature's timestamp is invalid or issued by an authority we do not recognise."))
    return problems


def _other_problems(status) -> list[str]:
    problems = []
    if not (status.intact and status.valid):
        problems.append(_("its signed content was modified."))
    elif not status.trusted:
        problems.append(_("its certificate is not recognised by our trust authorities."))
    if status.coverage is not None and status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        problems.append(_("the document was modified in a way it does not allow."))
    return problems


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


def _as_of(resolver, trailer, key: str):
    """`trailer[key]` as it stood in the revision of `resolver` (the trailer's own references resolve to the
    latest revision; objects from the resolver resolve theirs within its revision)."""
    value = trailer.raw_get(key) if key in trailer else None
    if isinstance(value, generic.IndirectObject):
        return resolver.get_object(value.reference)
    return value


def _get(container, key: str, default=None):
    """`container[key]` dereferenced (a `get` on a PDF dictionary returns an unresolved reference), or `default`."""
    if not isinstance(container, generic.DictionaryObject) or key not in container:
        return default
    return container[key]


def _container_too_large(limits: VerificationLimits) -> str:
    return _("A signature container in this file is larger than verification examines (%(size)s KB at most): it "
             "was not verified.") % {"size": limits.max_container_bytes // 1024}


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


# --- What was changed after signing -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Later:
    changes: list[str]
    original_end: int  # where the file as signed ends: its signed revision and the validation data right after


# What a writer changes in the document information and the XMP packet whenever it saves (PAdES B-LT included).
_WRITER_INFO_KEYS = {"/ModDate", "/Producer"}
_WRITER_XMP = re.compile(
    rb"""(?:xmp:ModifyDate|xmp:MetadataDate|pdf:Producer|x:xmptk)\s{0,8}=\s{0,8}(?:"[^"]{0,512}"|'[^']{0,512}')"""
    rb"""|<(xmp:ModifyDate|xmp:MetadataDate|pdf:Producer)>[^<]{0,512}</\1>""")


def _after_signing(reader: PdfFileReader, data: bytes, last: EmbeddedPdfSignature,
                   limits: VerificationLimits) -> _Later:
    """Every revision after the signed one, in words: what it changed that is not validation data (the DSS and
    its certificates, CRLs and OCSP responses, a document timestamp, the writer's dates in Info and XMP)."""
    xrefs = reader.xrefs
    signed_end = int(last.byte_range[2]) + int(last.byte_range[3])
    original_end = signed_end  # the signed range runs to the end of the signed revision, its last end of line included
    timestamped = {signature.signed_revision for signature in reader.embedded_signatures
                   if signature.sig_object_type == "/DocTimeStamp"}
    changes: list[str] = []
    examined = 0
    for revision in range(last.signed_revision + 1, xrefs.total_revisions):
        refs = sorted(xrefs.explicit_refs_in_revision(revision), key=lambda ref: (ref.idnum, ref.generation))
        examined += len(refs)
        if examined > limits.max_changed_objects:
            changes.append(_("More than %(max)s objects were added or changed after signing; they were not examined "
                             "one by one.") % {"max": limits.max_changed_objects})
            break
        found = _revision_changes(reader, revision, refs, timestamped=revision in timestamped)
        if not found and not changes:
            info = xrefs.get_xref_container_info(revision)
            eof = data.find(b"%%EOF", info.end_location)
            if eof >= 0:
                original_end = _end_of_line(data, eof + len(b"%%EOF"))
        changes.extend(found)
    trailing = _bytes_after_last_eof(data)
    if trailing:
        changes.append(_count_bytes_added(trailing))
    return _Later(changes=changes, original_end=original_end)


_COUNTED_CHANGES = {
    "annotation added": lambda n: ngettext("%(count)s annotation was added", "%(count)s annotations were added", n),
    "annotation changed": lambda n: ngettext("%(count)s annotation was changed", "%(count)s annotations were changed",
                                             n),
    "page changed": lambda n: ngettext("%(count)s page was changed", "%(count)s pages were changed", n),
    "signature added": lambda n: ngettext("%(count)s signature value was added", "%(count)s signature values were "
                                          "added", n),
    "signature changed": lambda n: ngettext("%(count)s signature value was replaced", "%(count)s signature values "
                                            "were replaced", n),
    "object added": lambda n: ngettext("%(count)s other object was added", "%(count)s other objects were added", n),
    "object changed": lambda n: ngettext("%(count)s other object was replaced", "%(count)s other objects were "
                                         "replaced", n),
}


def _revision_changes(reader: PdfFileReader, revision: int, refs, *, timestamped: bool) -> list[str]:
    """What one revision changed, in words, leaving out validation data and the writer's own dates."""
    before = reader.get_historical_resolver(revision - 1)
    after = reader.get_historical_resolver(revision)
    trailer_before, trailer_after = before.trailer_view, after.trailer_view
    root_before, root_after = _as_of(before, trailer_before, "/Root"), _as_of(after, trailer_after, "/Root")
    # Judged as a whole above: the catalogue, the document information and the XMP packet.
    skipped = [trailer_after.raw_get("/Root"), trailer_after.raw_get("/Info") if "/Info" in trailer_after else None,
               root_after.raw_get("/Metadata") if "/Metadata" in root_after else None]
    form_ref = root_after.raw_get("/AcroForm") if "/AcroForm" in root_after else None
    validation_data = _dss_members(root_after)
    changes: list[str] = []
    counts: Counter[str] = Counter()

    info_before, info_after = _as_of(before, trailer_before, "/Info"), _as_of(after, trailer_after, "/Info")
    info_changed = sorted(_changed_keys(info_before, info_after) - _WRITER_INFO_KEYS)
    if info_changed:
        changes.append(_("the document information (Info) was changed: %(keys)s") % {
            "keys": ", ".join(key.lstrip("/") for key in info_changed)})
    if _xmp(reader, revision - 1, root_before) != _xmp(reader, revision, root_after):
        changes.append(_("the XMP metadata were changed"))
    catalogue_changed = sorted(_changed_keys(root_before, root_after) - {"/DSS", "/Extensions", "/Metadata"})
    if catalogue_changed:
        changes.append(_("the document catalogue was changed: %(keys)s") % {
            "keys": ", ".join(key.lstrip("/") for key in catalogue_changed)})

    for ref in refs:
        if _ref_key(ref) in validation_data or any(_same_ref(ref, known) for known in skipped):
            continue
        obj = after.get_object(ref)
        new = reader.xrefs.get_introducing_revision(ref) == revision
        kind = _get(obj, "/Type") if isinstance(obj, generic.DictionaryObject) else None
        if timestamped and _part_of_document_timestamp(obj, before, ref, new=new):
            continue
        if _same_ref(ref, form_ref):
            # Fields only added at the end of the list are each named below (or are a document timestamp's).
            extended = not new and _changed_keys(before.get_object(ref), obj) <= {"/Fields"} and _only_extended(
                before, ref, obj, "/Fields")
            if not extended:
                changes.append(_("the form's list of fields was changed"))
        elif isinstance(obj, generic.DictionaryObject) and _get(obj, "/FT") == "/Sig":
            name = str(_get(obj, "/T", "")) or "?"
            if new:
                changes.append((_("an invisible signature field « %(name)s » was added") if _invisible(obj)
                                else _("a signature field « %(name)s » was added")) % {"name": name})
            else:
                changes.append(_("the signature field « %(name)s » was changed") % {"name": name})
        elif kind == "/Annot" or (isinstance(obj, generic.DictionaryObject) and "/Subtype" in obj and "/Rect" in obj):
            counts["annotation added" if new else "annotation changed"] += 1
        elif kind == "/Page":
            counts["page changed"] += 1
        elif kind in ("/Sig", "/DocTimeStamp"):
            counts["signature added" if new else "signature changed"] += 1
        else:
            counts["object added" if new else "object changed"] += 1
    changes.extend(_COUNTED_CHANGES[name](count) % {"count": count} for name, count in counts.items())
    return changes


def _ref_key(value) -> tuple[int, int] | None:
    """(object number, generation) of a reference (`Reference`, or `IndirectObject` as found in a container)."""
    if isinstance(value, generic.Reference | generic.IndirectObject):
        return value.idnum, value.generation
    return None


def _same_ref(ref, other) -> bool:
    return other is not None and _ref_key(ref) == _ref_key(other)


def _same(left, right, depth: int = 0) -> bool:
    """The same PDF value, references compared by number (not by what they point at), at most four levels deep."""
    if _ref_key(left) is not None or _ref_key(right) is not None:
        return _ref_key(left) == _ref_key(right)
    if depth > 4:
        return False
    if isinstance(left, generic.DictionaryObject) and isinstance(right, generic.DictionaryObject):
        return set(left) == set(right) and all(_same(left.raw_get(k), right.raw_get(k), depth + 1) for k in left)
    if isinstance(left, generic.ArrayObject) and isinstance(right, generic.ArrayObject):
        return len(left) == len(right) and all(_same(a, b, depth + 1) for a, b in
                                               zip(left.iterate(), right.iterate(), strict=True))
    return type(left) is type(right) and left == right


def _changed_keys(before, after) -> set[str]:
    before = before if isinstance(before, generic.DictionaryObject) else generic.DictionaryObject()
    after = after if isinstance(after, generic.DictionaryObject) else generic.DictionaryObject()
    return {str(key) for key in set(before) | set(after)
            if key not in before or key not in after or not _same(before.raw_get(key), after.raw_get(key))}


def _only_extended(before, ref, obj, key: str) -> bool:
    """`obj[key]` is the array it was in the previous revision, with items added at its end only."""
    try:
        old, new = before.get_object(ref)[key], obj[key]
        old_items, new_items = list(old.iterate()), list(new.iterate())
    except (KeyError, TypeError, AttributeError):
        return False
    return len(new_items) >= len(old_items) and all(_same(a, b) for a, b in zip(old_items, new_items, strict=False))


def _part_of_document_timestamp(obj, before, ref, *, new: bool) -> bool:
    """A document timestamp's own objects: its signature value, its field (or widget), and the page listing the
    widget with nothing but that added."""
    if not isinstance(obj, generic.DictionaryObject):
        return False
    if _get(obj, "/Type") == "/DocTimeStamp":
        return True
    if _get(obj, "/FT") == "/Sig":
        value = _get(obj, "/V")
        return isinstance(value, generic.DictionaryObject) and _get(value, "/Type") == "/DocTimeStamp"
    if _get(obj, "/Type") == "/Page" and not new:
        if not _changed_keys(before.get_object(ref), obj) <= {"/Annots"}:
            return False
        if _only_extended(before, ref, obj, "/Annots"):
            return True
        # A page that had no annotation now lists only document timestamp widgets.
        annotations = _get(obj, "/Annots")
        return ("/Annots" not in before.get_object(ref) and isinstance(annotations, generic.ArrayObject)
                and all(_is_document_timestamp_field(item.get_object()) for item in annotations.iterate()))
    return False


def _is_document_timestamp_field(obj) -> bool:
    if not isinstance(obj, generic.DictionaryObject) or _get(obj, "/FT") != "/Sig":
        return False
    value = _get(obj, "/V")
    return isinstance(value, generic.DictionaryObject) and _get(value, "/Type") == "/DocTimeStamp"


def _invisible(field_dict) -> bool:
    """No area on any page, or flagged hidden or not to be viewed."""
    flags = _get(field_dict, "/F", 0)
    try:
        numbers = [float(value) for value in _get(field_dict, "/Rect", [])]
    except (TypeError, ValueError):
        numbers = []
    flat = len(numbers) != 4 or numbers[0] == numbers[2] or numbers[1] == numbers[3]
    return flat or (isinstance(flags, int) and bool(int(flags) & (2 | 32)))


def _dss_members(root) -> set[tuple[int, int]]:
    """References of the DSS (PAdES validation data) and of what it lists: certificates, CRLs, OCSP responses,
    the VRI dictionary and its entries."""
    members: set[tuple[int, int]] = set()

    def note(value):
        if _ref_key(value) is not None:
            members.add(_ref_key(value))
            return value.get_object()
        return value

    def note_array(value):
        listed = note(value)
        for item in listed.iterate() if isinstance(listed, generic.ArrayObject) else []:
            note(item)

    dss = note(root.raw_get("/DSS")) if "/DSS" in root else None
    if not isinstance(dss, generic.DictionaryObject):
        return members
    for name in ("/Certs", "/CRLs", "/OCSPs"):
        if name in dss:
            note_array(dss.raw_get(name))
    vri = note(dss.raw_get("/VRI")) if "/VRI" in dss else None
    for key in list(vri)[:64] if isinstance(vri, generic.DictionaryObject) else []:
        entry = note(vri.raw_get(key))
        for name in ("/Cert", "/CRL", "/OCSP"):
            if isinstance(entry, generic.DictionaryObject) and name in entry:
                note_array(entry.raw_get(name))
    return members


def _xmp(reader: PdfFileReader, revision: int, root) -> bytes:
    """The XMP packet of a revision without what a writer updates on every save (dates, producer) nor blanks."""
    value = root.raw_get("/Metadata") if isinstance(root, generic.DictionaryObject) and "/Metadata" in root else None
    if isinstance(value, generic.IndirectObject):
        last_change = reader.xrefs.get_last_change(value.reference)
        value = reader.get_object(value.reference, revision=None if last_change <= revision else revision,
                                  as_metadata_stream=True)
    data = value.data if isinstance(value, generic.StreamObject) else b""
    return _xmp_properties(data) or re.sub(rb"\s+", b"", _WRITER_XMP.sub(b"", data))


_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_WRITER_XMP_PROPERTIES = {"{http://ns.adobe.com/xap/1.0/}ModifyDate", "{http://ns.adobe.com/xap/1.0/}MetadataDate",
                          "{http://ns.adobe.com/pdf/1.3/}Producer"}


def _xmp_properties(data: bytes) -> bytes:
    """The properties an XMP packet states, namespaces resolved, in a canonical order (b"" if it is not XML).

    Two writers, or one writer twice (pyHanko re-serialises the packet at each incremental update, PDF/A files
    have one), may write the same properties as attributes or as elements, with namespace declarations in other
    places: the same metadata compares equal. The writer's own dates and producer are left out."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return b""
    if root is None:
        return b""

    def node(element) -> tuple:
        attributes = tuple(sorted((str(k), v) for k, v in element.attrib.items() if k != f"{_RDF}about"))
        children = tuple(node(child) for child in element if isinstance(child.tag, str))
        if not attributes and not children:  # <pdf:Producer>x</pdf:Producer> states what pdf:Producer="x" does
            return (str(element.tag), (element.text or "").strip())
        return (str(element.tag), attributes, (element.text or "").strip(), children)

    statements = []
    for description in root.iter(f"{_RDF}Description"):
        statements += [(str(k), v) for k, v in description.attrib.items()
                       if k != f"{_RDF}about" and k not in _WRITER_XMP_PROPERTIES]
        statements += [node(child) for child in description
                       if isinstance(child.tag, str) and child.tag not in _WRITER_XMP_PROPERTIES]
    return repr(sorted(statements, key=repr)).encode()


def _end_of_line(data: bytes, position: int) -> int:
    for eol in (b"\r\n", b"\n", b"\r"):
        if data.startswith(eol, position):
            return position + len(eol)
    return position


def _bytes_after_last_eof(data: bytes) -> int:
    eof = data.rfind(b"%%EOF")
    return 0 if eof < 0 else len(data) - _end_of_line(data, eof + len(b"%%EOF"))


def _count_bytes_added(count: int) -> str:
    return ngettext("%(count)s byte was added after the end of the file (%(marker)s)",
                    "%(count)s bytes were added after the end of the file (%(marker)s)", count) % {
        "count": count, "marker": "%%EOF"}


def _capped(changes: list[str], limits: VerificationLimits) -> list[str]:
    if len(changes) <= limits.max_listed_changes:
        return changes
    rest = len(changes) - limits.max_listed_changes + 1
    return [*changes[:limits.max_listed_changes - 1],
            ngettext("and %(count)s other change", "and %(count)s other changes", rest) % {"count": rest}]


def _recased_sha256(original: bytes, signature: EmbeddedPdfSignature) -> str:
    """The SHA-256 of `original` with the signature container's digits in the other letter case, or "" when that
    changes nothing (only digits, or mixed case)."""
    start, end = int(signature.byte_range[1]), int(signature.byte_range[2])
    gap = original[start:end]
    other = gap.lower() if gap == gap.upper() else gap.upper() if gap == gap.lower() else gap
    return "" if other == gap else hashlib.sha256(original[:start] + other + original[end:]).hexdigest()


_BYTE_RANGE = re.compile(
    rb"/ByteRange\s{0,8}\[\s{0,8}(\d{1,12})\s{1,8}(\d{1,12})\s{1,8}(\d{1,12})\s{1,8}(\d{1,12})\s{0,8}\]")


async def _signed_original_of_unreadable(data: bytes, file_sha256: str, limits: VerificationLimits) -> SignatureReport:
    """A file pyHanko cannot read as a whole may still hold a readable signed original followed by bytes that are
    no proper revision (objects appended by hand, a broken cross-reference): that original is checked on its own."""
    unreadable = _failure(file_sha256, _("The PDF is unreadable or truncated: its structure cannot be read."))
    found = [int(m.group(3)) + int(m.group(4))
             for _n, m in zip(range(limits.max_signatures), _BYTE_RANGE.finditer(data), strict=False)]
    ends = sorted(end for end in found if 0 < end < len(data))
    if not ends:
        return unreadable
    original = data[:ends[-1]]
    report = await _verify(original, hashlib.sha256(original).hexdigest(), limits)
    if report is None or not report.valid:
        return unreadable
    added = len(data) - len(original)
    return replace(
        report, valid=False, covers_whole_file=False, modified_after_signing=True, file_sha256=file_sha256,
        problems=[_("The document was modified after signing (a revision was added to the signed file).")],
        signed_revision_intact=True, original_sha256=report.file_sha256,
        changes_after_signing=[ngettext(
            "%(count)s byte was added after the signed revision; it does not form a readable PDF revision",
            "%(count)s bytes were added after the signed revision; they do not form a readable PDF revision",
            added) % {"count": added}])


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
