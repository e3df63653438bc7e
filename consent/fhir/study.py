"""The trial as a ResearchStudy, its sites as Organizations, its participants as ResearchSubjects (known by their
code only)."""

from __future__ import annotations

from consent.models import ConsentRecord, Participant
from regulatory.models import InvestigationalSite, TrialPage

from .common import (
    EU_CT_SYSTEM,
    NCT_SYSTEM,
    ORGANIZATION_TYPE,
    PHASES,
    R5,
    STUDY_PARTY_ROLE,
    STUDY_PHASE,
    STUDY_STATUS,
    STUDY_STATUSES,
    SUBJECT_STATE,
    SUBJECT_STATE_TYPE,
    SUBJECT_STATES,
    coding,
    identifier_base,
    instant,
    organization_id,
    organization_ref,
    participant_ref,
    participant_system,
    site_system,
    study_id,
    subject_id,
)


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
