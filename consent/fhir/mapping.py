"""Consent records, participants, the trial and its sites as HL7 FHIR resources (R5, or R4B on request).

Each function builds the resource as a plain dictionary from the records, then `validated` checks it with the models
of `fhir.resources` (R5 at `fhir.resources.*`, R4B at `fhir.resources.R4B.*`) and returns the library's own JSON, so
what leaves is what the library accepted, in the library's order of fields (the same records give the same bytes).

What never leaves: participants' names and dates of birth (the product holds none; participants are known by their
pseudonymised code), the names of the staff who obtained consent or of witnesses, the signature images, the
statements' free answers. The field-by-field table is docs/FHIR.md.

The parts: `study` (Organization, ResearchStudy, ResearchSubject), `consents` (Consent), and `common` (what they
are built from: versions, code systems, identifier systems, resource ids, small elements, and `validated`).
"""

from .common import (
    CONSENT_SCOPE,
    CONSENT_STATUSES,
    ENDED,
    EU_CT_SYSTEM,
    FHIR_VERSION,
    NCT_SYSTEM,
    R4B,
    R5,
    SUBJECT_STATES,
    VERSIONS,
    consent_id,
    organization_id,
    participant_system,
    site_system,
    study_id,
    subject_id,
    validated,
)
from .consents import consent, consent_status
from .study import organization, research_study, research_subject

__all__ = [
    "CONSENT_SCOPE",
    "CONSENT_STATUSES",
    "ENDED",
    "EU_CT_SYSTEM",
    "FHIR_VERSION",
    "NCT_SYSTEM",
    "R4B",
    "R5",
    "SUBJECT_STATES",
    "VERSIONS",
    "consent",
    "consent_id",
    "consent_status",
    "organization",
    "organization_id",
    "participant_system",
    "research_study",
    "research_subject",
    "site_system",
    "study_id",
    "subject_id",
    "validated",
]
