"""The entry points, `verify_pdf` (and its coroutine) and `verify_pdf_in_time` for files from anyone, and the
verdict: what each check found, put together into one `SignatureReport`."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
from dataclasses import replace

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from consent import pki
from consent.revocation import async_revocation_status
from consent.signing import run_coroutine_sync

from .container import _container_problems, _recased_sha256
from .limits import LIMITS, BeyondLimits, VerificationLimits, _check_container, _check_fields, check_limits
from .report import SignatureReport, _failure
from .revisions import _after_signing, _bytes_after_last_eof, _capped, _count_bytes_added
from .validation import (
    _archival_validation,
    _brief,
    _is_certification,
    _level,
    _other_problems,
    _signer_name,
    _status_problems,
    _validate,
)

logger = logging.getLogger(__package__)  # "consent.verification", for the whole package

_EOF_TAIL = re.compile(rb"%%EOF(\r\n|\r|\n)?\Z")


def verify_pdf(pdf_bytes: bytes, *, limits: VerificationLimits = LIMITS) -> SignatureReport:
    """Verify the last signature of a PDF against our trust roots and CRLs.

    `valid` means: cryptographically intact, the signer's chain leads to one of `pki.trust_roots()` (not
    revoked per `pki.crls()`), the signature covers the whole file and nothing was added after it except
    PAdES validation data. Earlier signatures, if any, must be intact and trusted as well.

    A B-LTA file is checked with the validation data it holds (the long-term proof), and the signer's status is
    fetched online as well, where it can be: a revocation dated before the signature timestamp and published after
    the completion (a key compromise found later) makes it not valid; no answer leaves the long-term proof's
    verdict. A file with none yet (B-T:
    archival completion pending; B-B) is not: the signer's revocation status is fetched online from the OCSP
    responder or CRL its certificate names (`_online_revocation`), as of the time its signature timestamp proves,
    within `ONLINE_REVOCATION_SECONDS`; "revoked" makes it not valid. When that status cannot be had (no answer in
    time, responder down), the verdict is the one of the offline checks, as before: the signature is intact and
    from a trusted certificate, the report says B-T, and the completion to B-LTA, which requires the status and
    refuses a certificate revoked before the timestamp, is what proves it for the long term; calling every B-T
    file "not valid" while a responder is down would say less than that.
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
    archival, revoked = None, False
    if level in ("B-B", "B-T") and intact and trusted and id(last) not in unsound:
        revocation = await _online_revocation(last, status)
        if revocation.state == "revoked":
            revoked = True
            when = f"{revocation.revoked_at:%Y-%m-%d %H:%M} UTC, " if revocation.revoked_at else ""
            problems.append(_("The signer's certificate is revoked.") + f" ({when}{revocation.reason})")
    if level == "B-LTA" and intact and id(last) not in unsound:
        # on a reader of its own: the checks above leave the first one's objects resolved in other revisions
        fresh = PdfFileReader(io.BytesIO(data), decode_limits=limits.decode_limits())
        archival = await _archival_validation(fresh, fresh.embedded_regular_signatures[-1], anchors)
        if archival.passed:
            trusted = True  # proven at the time of the timestamps, whatever the certificates' state now
            # The validation data embedded were gathered at the completion: a revocation dated before the
            # signature but published since (a key compromise found later) is learnt online, where it can be.
            revocation = await _online_revocation(last, status)
            if revocation.state == "revoked":
                revoked = True
                when = f"{revocation.revoked_at:%Y-%m-%d %H:%M} UTC, " if revocation.revoked_at else ""
                problems.append(_("The signer's certificate was revoked before the signature, as its PKI now "
                                  "publishes.") + f" ({when}{revocation.reason})")
    status_problems = _status_problems(status, intact=intact, trusted=trusted,
                                       proven=archival is not None and archival.passed)
    problems.extend(status_problems)
    trusted = trusted and not revoked  # said above, not again as an unknown chain
    if archival is not None and not archival.passed:
        problems.append(archival.problem)
    certified = _is_certification(reader, last)
    if coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        problems.append(_("The signature does not cover the whole document (non-standard signed byte range)."))
    elif modified:
        problems.append(_("The document was modified after signing (a revision was added to the signed file)."))
        if certified:
            problems.append(_("The document is certified by this signature: no change is allowed after it."))
    timestamps_proven = archival is not None and archival.passed and archival.timestamps_proven
    for other in signatures:
        if other is not last and id(other) in statuses:
            prefix = _("Other signature « %(field)s »: ") % {"field": other.field_name}
            # The document timestamps after the signature carry its long-term proof: checked here as of today, the
            # earlier ones fail once their TSA's certificate has expired (which is why they were renewed), the last
            # once the local CRL is old; the long-term validation proved them at the times that count.
            proven = (timestamps_proven and other.sig_object_type == "/DocTimeStamp"
                      and other.signed_revision > last.signed_revision)
            problems.extend(prefix + problem for problem in _other_problems(statuses[id(other)], proven=proven))

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


# The online revocation check of a file without validation data: a fraction of `TRIALDOCS_VERIFY_SECONDS` (1.5 s
# in production), so that the answer still comes in time when the responder is slow.
ONLINE_REVOCATION_SECONDS = 0.75


async def _online_revocation(signature, status):
    """The signer certificate's revocation status, fetched from the OCSP responder or CRL it names, as of the time
    the signature's timestamp proves (now without one): see `verify_pdf`."""
    timestamp = status.timestamp_validity
    moment = timestamp.timestamp if timestamp is not None and timestamp.intact and timestamp.valid else None
    others = [cert for cert in signature.signed_data["certificates"] or ()
              if cert.name == "certificate" and cert.chosen != signature.signer_cert]
    found = await async_revocation_status(signature.signer_cert, [cert.chosen for cert in others], moment=moment,
                                          crls=pki.crls(), seconds=ONLINE_REVOCATION_SECONDS)
    if found.state == "unknown":
        logger.info("Revocation status of %s not obtained online: %s", signature.field_name, found.detail)
    return found


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
