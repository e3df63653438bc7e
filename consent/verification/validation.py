"""pyHanko's checks of each signature (intact, trusted, its timestamp), the long-term (AdES LTA) validation of a
PAdES B-LTA file, and what they found wrong, in words."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.utils.translation import gettext as _
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    SignatureCoverageLevel,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko_certvalidator import ValidationContext

from consent import pki

from .container import _timestamp_tokens

logger = logging.getLogger(__package__)  # "consent.verification", for the whole package


async def _validate(signature: EmbeddedPdfSignature, validation_context: ValidationContext):
    """pyHanko's checks of one signature, without its difference analysis: what follows the signed revision is
    judged by `_after_signing`, which accepts only validation data (pyHanko's analysis accepts more, such as
    metadata rewritten or objects nothing refers to, and its cost grows with the square of the fields added)."""
    if signature.sig_object_type == "/Sig":
        return await async_validate_pdf_signature(signature, signer_validation_context=validation_context,
                                                  skip_diff=True)
    return await async_validate_pdf_timestamp(signature, validation_context=validation_context, skip_diff=True)


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


def _other_problems(status, *, proven: bool = False) -> list[str]:
    """What is wrong with a signature other than the last. `proven`: a document timestamp that the long-term
    validation proved (it validates the whole chain of document timestamps: the last one at the current time, each
    earlier one at the time the next proves), so the state of its certificate today (expired, say) is no problem."""
    problems = []
    if not (status.intact and status.valid):
        problems.append(_("its signed content was modified."))
    elif not status.trusted and not proven:
        problems.append(_("its certificate is not recognised by our trust authorities."))
    if status.coverage is not None and status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        problems.append(_("the document was modified in a way it does not allow."))
    return problems


def _brief(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def _level(reader: PdfFileReader, signature: EmbeddedPdfSignature) -> str:
    if not any(True for _token in _timestamp_tokens(signature.signer_info)):
        return "B-B"
    if any(sig.sig_object_type == "/DocTimeStamp" and sig.signed_revision > signature.signed_revision
           for sig in reader.embedded_signatures):
        return "B-LTA"
    return "B-LT" if "/DSS" in reader.root else "B-T"


@dataclass(frozen=True)
class _Archival:
    passed: bool
    verdict: str
    problem: str
    expires_at: dt.datetime | None
    # pyHanko validated the chain of document timestamps after the signature (its evidence record) as well: the last
    # one at the current time, each earlier one in the past, as of the time the next one proves
    timestamps_proven: bool = False


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
        # `oldest_evidence_record_timestamp` is set only once every document timestamp has been validated (pyHanko
        # goes on without them, and says so only in its log, when one fails)
        return _Archival(True, "passed", "", expires_at,
                         timestamps_proven=result.oldest_evidence_record_timestamp is not None)
    return _Archival(False, str(result.ades_subindic.name), _(
        "The long-term proof (PAdES B-LTA) does not hold: %(indication)s.") % {
        "indication": result.ades_subindic.name}, expires_at)


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
