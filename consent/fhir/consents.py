"""A consent record as a Consent: who decided (the grantor), what the decision covers (its provisions, withdrawals
included), who obtained and verified it, and the signed PDF as its source attachment (size and hashes only)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from consent.models import ConsentRecord, Participant

from .common import (
    ACT_REASON,
    CONSENT_ACTION,
    CONSENT_SCOPE,
    ENDED,
    LOINC,
    NOT_A_DECISION,
    R4B,
    R5,
    WITHDRAWAL_SCOPE_ACTION,
    WITHDRAWAL_SCOPE_DISPLAY,
    coding,
    consent_id,
    consent_system,
    form_system,
    identifier_base,
    instant,
    local_date,
    organization_ref,
    participant_ref,
    sha256_extension_url,
    withdrawal_scope_system,
)


def consent(record: ConsentRecord, *, nct: str, version: str = R5) -> dict:
    """`record` with its participant, the participant's site and its form version loaded (select_related)."""
    participant, site, form = record.participant, record.participant.site, record.version
    contained: list[dict] = []
    grantor = _grantor(record, nct, contained)
    contained.append({"resourceType": "PractitionerRole", "id": "obtainer",
                      "code": [{"text": record.obtained_by_role or "investigator"}],
                      "organization": organization_ref(site, nct)})
    kind_coding = coding(f"{identifier_base()}:consent-kind", record.kind)
    form_key = f"{form.kind}-{form.language}-{form.version_number}"
    form_display = f"{form_label(form)} ({form.version_date.isoformat()})"
    consented = record.outcome == ConsentRecord.Outcome.CONSENTED
    data = {
        "resourceType": "Consent",
        "id": consent_id(record, nct),
        "meta": {"lastUpdated": instant(record.recorded_at)},
        "contained": contained,
        "identifier": [{"system": consent_system(nct), "value": f"{participant.code}-{record.sequence}"}],
        "status": consent_status(record, version),
    }
    research = {"coding": [coding(CONSENT_SCOPE, "research", "Research")]}
    document = {"coding": [coding(LOINC, "59284-0", "Consent Document")]}
    # Verified with whoever signed: the participant, or the surrogate (a RelatedPerson); for an emergency inclusion,
    # where the investigator is the grantor, with the participant.
    signed_by_relative = contained[0]["resourceType"] == "RelatedPerson"
    verified_with = {"reference": "#grantor"} if signed_by_relative else participant_ref(participant, nct)
    # Verified once the ceremony is complete: not while it awaits the investigator's countersignature, nor when a
    # signer declined; dated by the countersignature when there was one, else by the signature.
    verified = record.outcome not in NOT_A_DECISION
    verified_at = record.countersigned_at or record.signed_at
    verification = {"verified": verified, "verifiedWith": verified_with}
    if version == R5:
        data |= {
            "category": [research, document, {"coding": [kind_coding]}],
            "subject": participant_ref(participant, nct),
            "date": local_date(record.signed_at),
            "period": {"start": instant(record.signed_at)},
            "grantor": [grantor],
            "grantee": [organization_ref(site, nct)],
            "sourceAttachment": [_attachment(record, nct, version)],
            "policyBasis": {"reference": {"identifier": {"system": form_system(nct), "value": form_key},
                                          "display": form_display},
                            "url": f"{form_system(nct)}:{form_key}"},
            "verification": [verification | {
                "verificationType": {"coding": [coding(_signer_role_system(), "obtained-by",
                                                       "Consent obtained and countersigned")],
                                     "text": record.obtained_by_role},
                "verifiedBy": {"reference": "#obtainer"}} | (
                {"verificationDate": [instant(verified_at)]} if verified else {})],
            "decision": "permit" if consented else "deny",
            "provision": [_provisions(record, version)],
        }
        if record.outcome in NOT_A_DECISION:
            del data["decision"]
        if consented and participant.ended_at and participant.status in ENDED:
            data["period"]["end"] = instant(participant.ended_at)
    else:
        data |= {
            "scope": research,
            "category": [document, {"coding": [kind_coding]}],
            "patient": participant_ref(participant, nct),
            "dateTime": instant(record.signed_at),
            "performer": [grantor],
            "organization": [organization_ref(site, nct)],
            "sourceAttachment": _attachment(record, nct, version),
            "policy": [{"uri": f"{form_system(nct)}:{form_key}"}],
            "verification": [verification | ({"verificationDate": instant(verified_at)} if verified else {})],
            "provision": _provisions(record, version),
        }
    return data


def consent_status(record: ConsentRecord, version: str = R5) -> str:
    if record.outcome == ConsentRecord.Outcome.PENDING:
        return "draft"
    if record.outcome == ConsentRecord.Outcome.DECLINED:
        return "not-done" if version == R5 else "rejected"
    if record.outcome == ConsentRecord.Outcome.REFUSED:
        return "active"
    return "inactive" if record.participant.status in ENDED else "active"


def _grantor(record: ConsentRecord, nct: str, contained: list) -> dict:
    """Who consented (or refused): the participant, by code; a surrogate or a representative as a RelatedPerson
    with the relationship only (no name); the investigator of an emergency inclusion as a PractitionerRole."""
    participant, site = record.participant, record.participant.site
    role = record.signer_role
    role_coding = coding(_signer_role_system(), role)
    if role == ConsentRecord.SignerRole.PARTICIPANT:
        return participant_ref(participant, nct)
    if role in (ConsentRecord.SignerRole.SURROGATE, ConsentRecord.SignerRole.REPRESENTATIVE):
        relationship = {"coding": [role_coding]}
        if record.surrogate_relationship:
            relationship["text"] = record.surrogate_relationship
        contained.append({"resourceType": "RelatedPerson", "id": "grantor",
                          "patient": participant_ref(participant, nct), "relationship": [relationship]})
    else:
        contained.append({"resourceType": "PractitionerRole", "id": "grantor", "code": [{"coding": [role_coding]}],
                          "organization": organization_ref(site, nct)})
    return {"reference": "#grantor"}


def _signer_role_system() -> str:
    return f"{identifier_base()}:consent-signer-role"


def _attachment(record: ConsentRecord, nct: str, version: str) -> dict:
    form = record.version
    attachment = {
        "contentType": "application/pdf",
        "language": form.language,
        "title": f"{record.participant.code} — {form_label(form)} ({record.sequence})",
        "creation": instant(record.signed_at),
    }
    facts = pdf_facts(record)
    if facts is not None:
        attachment["size"] = facts.size
        attachment["hash"] = facts.sha1_b64
    attachment["extension"] = [{"url": sha256_extension_url(),
                                "valueString": facts.sha256_hex if facts else record.pdf_sha256}]
    return attachment


def form_label(form) -> str:
    """The form's title with its version number (once: many titles already carry it)."""
    if form.version_number in form.title:
        return form.title
    return f"{form.title} v{form.version_number}"


@dataclass(frozen=True)
class PdfFacts:
    size: int
    sha1_b64: str
    sha256_hex: str


def pdf_facts(record: ConsentRecord) -> PdfFacts | None:
    """Size, SHA-1 (base64, as FHIR's Attachment.hash) and SHA-256 of the signed PDF as stored, read in chunks; None
    when the file cannot be read (the attachment then keeps the SHA-256 recorded at signing only)."""
    sha1, sha256, size = hashlib.sha1(usedforsecurity=False), hashlib.sha256(), 0
    try:
        with record.pdf.open("rb") as handle:
            for chunk in iter(lambda: handle.read(65536), b""):
                sha1.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
    except (OSError, ValueError):
        return None
    return PdfFacts(size, base64.b64encode(sha1.digest()).decode("ascii"), sha256.hexdigest())


def _provisions(record: ConsentRecord, version: str) -> dict:
    """What the decision covers: research participation from the signature (purpose HRESCH); once the participant
    has withdrawn, the period closes and a nested provision denies collecting more data from then, and a recorded
    objection denies using the data already collected (EU CTR art. 28(3), 35(3))."""
    participant = record.participant
    provision = {"period": {"start": instant(record.signed_at)},
                 "purpose": [coding(ACT_REASON, "HRESCH", "healthcare research")]}
    nested = []
    consented = record.outcome == ConsentRecord.Outcome.CONSENTED
    if consented and participant.status == Participant.Status.WITHDRAWN and participant.ended_at:
        provision["period"]["end"] = instant(participant.ended_at)
    withdrawals = list(participant.withdrawals.all())
    if consented and withdrawals:
        # One denying provision per scope withdrawn (study treatment, follow-up visits, further data collection,
        # use of the data already collected), each from its date; the data scopes carry their consent action.
        for withdrawal in withdrawals:
            item = {"code": [{"coding": [coding(withdrawal_scope_system(), withdrawal.scope,
                                                WITHDRAWAL_SCOPE_DISPLAY[withdrawal.scope])]}]}
            if withdrawal.scope != "data_use":  # the objection concerns the data collected before it too
                item["period"] = {"start": instant(withdrawal.at)}
            if withdrawal.scope in WITHDRAWAL_SCOPE_ACTION:
                action = WITHDRAWAL_SCOPE_ACTION[withdrawal.scope]
                item["action"] = [{"coding": [coding(CONSENT_ACTION, action, action.capitalize())]}]
            nested.append(item)
    elif consented:  # a withdrawal recorded before scopes existed (kept by migration 0013, in case)
        if participant.status == Participant.Status.WITHDRAWN and participant.ended_at:
            nested.append({"period": {"start": instant(participant.ended_at)},
                           "action": [{"coding": [coding(CONSENT_ACTION, "collect", "Collect")]}]})
        objects = record.objects_to_data_use if record.objects_to_data_use is not None else \
            participant.objects_to_data_use
        if objects:
            nested.append({"action": [{"coding": [coding(CONSENT_ACTION, "use", "Use")]}]})
    if version == R4B and record.outcome not in NOT_A_DECISION:  # R5 leaves `decision` out likewise
        provision["type"] = "permit" if consented else "deny"
        for item in nested:
            item["type"] = "deny"
    if nested:
        provision["provision"] = nested
    return provision
