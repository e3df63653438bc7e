"""What the FHIR resources are built from: the FHIR versions, the code systems and codes, this installation's
identifier systems, the resources' ids, small elements (instants, codings, references), and `validated`, the check
of a resource by `fhir.resources`."""

from __future__ import annotations

import datetime
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
