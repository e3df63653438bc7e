"""Consent records, participants, the trial and its sites as HL7 FHIR resources (R5, or R4B on request).

Each function builds the resource as a plain dictionary from the records, then `validated` checks it with the models
of `fhir.resources` (R5 at `fhir.resources.*`, R4B at `fhir.resources.R4B.*`) and returns the library's own JSON, so
what leaves is what the library accepted, in the library's order of fields (the same records give the same bytes).

What never leaves: participants' names and dates of birth (the product holds none; participants are known by their
pseudonymised code), the names of the staff who obtained consent or of witnesses, the signature images, the
statements' free answers. The field-by-field table is docs/FHIR.md.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils import timezone

from consent.models import ConsentRecord, Participant
from regulatory.models import InvestigationalSite, TrialPage

R5, R4B = "R5", "R4B"
VERSIONS = (R5, R4B)
FHIR_VERSION = {R5: "5.0.0", R4B: "4.3.0"}

# Code systems of HL7 terminology (THO) and of FHIR itself.
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
SUBJECT_STATE = "http://terminology.hl7.org/CodeSystem/research-subject-state"
SUBJECT_STATE_TYPE = "http://terminology.hl7.org/CodeSystem/research-subject-state-type"
STUDY_PHASE = "http://terminology.hl7.org/CodeSystem/research-study-phase"
STUDY_STATUS = "http://hl7.org/fhir/research-study-status"
STUDY_PARTY_ROLE = "http://hl7.org/fhir/research-study-party-role"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
NCT_SYSTEM = "http://clinicaltrials.gov"
EU_CT_SYSTEM = "https://euclinicaltrials.eu"

PHASES = {"EARLY_PHASE1": "early-phase-1", "PHASE1": "phase-1", "PHASE1_PHASE2": "phase-1-phase-2",
          "PHASE2": "phase-2", "PHASE2_PHASE3": "phase-2-phase-3", "PHASE3": "phase-3", "PHASE4": "phase-4",
          "NA": "n-a"}
STUDY_STATUSES = {"NOT_YET_RECRUITING": "approved", "RECRUITING": "active",
                  "ACTIVE_NOT_RECRUITING": "closed-to-accrual", "SUSPENDED": "temporarily-closed-to-accrual",
                  "COMPLETED": "completed", "TERMINATED": "administratively-completed", "WITHDRAWN": "withdrawn"}
SUBJECT_STATES = {Participant.Status.SCREENING: "screening", Participant.Status.INCLUDED: "on-study",
                  Participant.Status.WITHDRAWN: "withdrawn", Participant.Status.COMPLETED: "off-study",
                  Participant.Status.DECEASED: "off-study", Participant.Status.SCREEN_FAILURE: "ineligible",
                  Participant.Status.REGISTERED_IN_ERROR: "not-registered"}
# A consent record's FHIR status: "active" while the participant takes part, and for a refusal always (a recorded
# decision, `deny`, still to be enforced though it ended the participation), "inactive" once participation has
# ended (withdrawn, completed, deceased).
ENDED = (Participant.Status.WITHDRAWN, Participant.Status.COMPLETED, Participant.Status.DECEASED)
CONSENT_STATUSES = ("active", "inactive", "draft", "not-done", "rejected")
# A ceremony awaiting the countersignature (draft) or ended by a signer's decline (R5 not-done, R4B rejected): no
# decision, never counted as a consent.
NOT_A_DECISION = (ConsentRecord.Outcome.PENDING, ConsentRecord.Outcome.DECLINED)


def identifier_base() -> str:
    """Root of this installation's identifier systems and extension URLs (`TRIALDOCS_FHIR_SYSTEM_BASE`)."""
    return getattr(settings, "TRIALDOCS_FHIR_SYSTEM_BASE", "urn:trialdocs").rstrip(":/")


def participant_system(nct: str) -> str:
    return f"{identifier_base()}:{nct}:participant"


def site_system(nct: str) -> str:
    return f"{identifier_base()}:{nct}:site"


def consent_system(nct: str) -> str:
    return f"{identifier_base()}:{nct}:consent"


def form_system(nct: str) -> str:
    return f"{identifier_base()}:{nct}:consent-form"


def withdrawal_scope_system() -> str:
    """This installation's code system of withdrawal scopes (`consent.models.Withdrawal.Scope`)."""
    return f"{identifier_base()}:withdrawal-scope"


WITHDRAWAL_SCOPE_DISPLAY = {"treatment": "Study treatment", "follow_up": "Follow-up visits",
                            "data_collection": "Further data collection",
                            "data_use": "Use of the data already collected"}
WITHDRAWAL_SCOPE_ACTION = {"data_collection": "collect", "data_use": "use"}


def sha256_extension_url() -> str:
    return f"{identifier_base()}:fhir:StructureDefinition:attachment-sha256"


# --- Resource ids: stable, made of the records' public codes (never a database key) --------------------------------

def study_id(trial: TrialPage) -> str:
    return trial.nct_number


def organization_id(site: InvestigationalSite, nct: str) -> str:
    return f"{nct}-{site.code}"


def subject_id(participant: Participant, nct: str) -> str:
    return f"{nct}-{participant.code}"


def consent_id(record: ConsentRecord, nct: str) -> str:
    return f"{nct}-{record.participant.code}-{record.sequence}"


# --- Validation by the library ------------------------------------------------------------------------------------

@cache
def model_class(version: str, resource_type: str):
    if version == R5:
        from fhir.resources import get_fhir_model_class
    elif version == R4B:
        from fhir.resources.R4B import get_fhir_model_class
    else:
        raise ValueError(version)
    return get_fhir_model_class(resource_type)


def validated(version: str, data: dict) -> str:
    """The resource checked by `fhir.resources` (pydantic raises on any structural error), as the library's JSON."""
    return model_class(version, data["resourceType"]).model_validate(data).model_dump_json()


# --- Small pieces --------------------------------------------------------------------------------------------------

def instant(moment) -> str:
    """A stored UTC time as FHIR writes it (seconds, explicit offset)."""
    return timezone.localtime(moment, datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def local_date(moment) -> str:
    return timezone.localtime(moment).date().isoformat()


def coding(system: str, code: str, display: str = "") -> dict:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def participant_ref(participant: Participant, nct: str) -> dict:
    """The participant as a logical reference: a Patient known by its pseudonymised code, never a resource."""
    return {"type": "Patient", "identifier": {"system": participant_system(nct), "value": participant.code}}


def organization_ref(site: InvestigationalSite, nct: str) -> dict:
    return {"reference": f"Organization/{organization_id(site, nct)}", "display": site.name}


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


# --- Organization --------------------------------------------------------------------------------------------------

def organization(site: InvestigationalSite, *, nct: str, version: str = R5) -> dict:
    return {
        "resourceType": "Organization",
        "id": organization_id(site, nct),
        "identifier": [{"system": site_system(nct), "value": site.code}],
        "active": site.status != InvestigationalSite.Status.CLOSED,
        "type": [{"coding": [coding(ORGANIZATION_TYPE, "prov", "Healthcare Provider")]}],
        "name": site.name,
        ("contact" if version == R5 else "address"): (
            [{"address": {"city": site.city, "country": site.country}}] if version == R5
            else [{"city": site.city, "country": site.country}]),
    }


# --- ResearchStudy -------------------------------------------------------------------------------------------------

def research_study(trial: TrialPage, sites, *, version: str = R5) -> dict:
    nct = trial.nct_number
    identifiers = [{"system": NCT_SYSTEM, "value": nct}]
    if trial.eu_ct_number:
        identifiers.append({"system": EU_CT_SYSTEM, "value": trial.eu_ct_number})
    if trial.org_study_id:
        identifiers.append({"system": f"{identifier_base()}:sponsor-study-id", "value": trial.org_study_id})
    period = {"start": trial.start_date.isoformat()}
    if trial.completion_date:
        period["end"] = trial.completion_date.isoformat()
    data = {"resourceType": "ResearchStudy", "id": study_id(trial), "identifier": identifiers, "title": trial.title,
            "period": period}
    phase = PHASES.get(trial.phase)
    if phase:
        data["phase"] = {"coding": [coding(STUDY_PHASE, phase)]}
    if trial.condition:
        data["condition"] = [{"text": trial.condition}]
    state = STUDY_STATUSES.get(trial.status, "active")
    if version == R5:
        data["status"] = "active"
        data["progressStatus"] = [{"state": {"coding": [coding(STUDY_STATUS, state)]}, "actual": True}]
        data["site"] = [organization_ref(site, nct) for site in sites]
        data["associatedParty"] = [{"name": trial.sponsor_name,
                                    "role": {"coding": [coding(STUDY_PARTY_ROLE, "sponsor", "sponsor")]}}]
        if trial.target_enrolment:
            data["recruitment"] = {"targetNumber": trial.target_enrolment}
    else:
        data["status"] = state
        data["sponsor"] = {"display": trial.sponsor_name}
        # R4B names sites as Locations; each is given by the site's code (its Organization is in the same export).
        data["site"] = [{"type": "Location", "identifier": {"system": site_system(nct), "value": site.code},
                         "display": site.name} for site in sites]
    return data


# --- ResearchSubject -----------------------------------------------------------------------------------------------

def research_subject(participant: Participant, consents, *, nct: str, version: str = R5) -> dict:
    """`consents`: the participant's consent records in sequence order (only `sequence` and `outcome` are read)."""
    state = SUBJECT_STATES[participant.status]
    start = participant.included_at or participant.created_at
    period = {"start": instant(start)}
    if participant.ended_at:
        period["end"] = instant(participant.ended_at)
    data = {
        "resourceType": "ResearchSubject",
        "id": subject_id(participant, nct),
        "identifier": [{"system": participant_system(nct), "value": participant.code}],
        "period": period,
        "study": {"reference": f"ResearchStudy/{nct}"},
    }

    def consent_ref(record):
        return {"reference": f"Consent/{nct}-{participant.code}-{record.sequence}"}

    if version == R5:
        data["status"] = "active"
        progress = {"type": {"coding": [coding(SUBJECT_STATE_TYPE, "Enrollment")]},
                    "subjectState": {"coding": [coding(SUBJECT_STATE, state)]}, "startDate": period["start"]}
        if "end" in period:
            progress["endDate"] = period["end"]
        data["progress"] = [progress]
        data["subject"] = participant_ref(participant, nct)
        if consents:
            data["consent"] = [consent_ref(record) for record in consents]
    else:
        data["status"] = state
        data["individual"] = participant_ref(participant, nct)
        consented = [record for record in consents if record.outcome == ConsentRecord.Outcome.CONSENTED]
        latest = (consented or list(consents))[-1:]
        if latest:
            data["consent"] = consent_ref(latest[0])
    return data


# --- Consent -------------------------------------------------------------------------------------------------------

def _signer_role_system() -> str:
    return f"{identifier_base()}:consent-signer-role"


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


def form_label(form) -> str:
    """The form's title with its version number (once: many titles already carry it)."""
    if form.version_number in form.title:
        return form.title
    return f"{form.title} v{form.version_number}"


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


def consent_status(record: ConsentRecord, version: str = R5) -> str:
    if record.outcome == ConsentRecord.Outcome.PENDING:
        return "draft"
    if record.outcome == ConsentRecord.Outcome.DECLINED:
        return "not-done" if version == R5 else "rejected"
    if record.outcome == ConsentRecord.Outcome.REFUSED:
        return "active"
    return "inactive" if record.participant.status in ENDED else "active"


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
