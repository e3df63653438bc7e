"""The CapabilityStatement (`/fhir/{version}/metadata`, no token needed): what this server serves and how it is
searched."""

from __future__ import annotations

from . import mapping
from .resources import RESOURCE_TYPES
from .search import DEFAULT_COUNT, MAX_COUNT

SEARCH_PARAMS = {
    "Consent": [("_id", "token"), ("subject:identifier", "token"), ("patient:identifier", "token"),
                ("status", "token"), ("date", "date"), ("study", "reference")],
    "ResearchSubject": [("_id", "token"), ("identifier", "token"), ("subject:identifier", "token"),
                        ("patient:identifier", "token"), ("status", "token"), ("subject_state", "token"),
                        ("study", "reference")],
    "ResearchStudy": [("_id", "token"), ("identifier", "token")],
    "Organization": [("_id", "token"), ("identifier", "token")],
}
RELEASED = "2026-12-03"


def capability_statement(version: str, base: str) -> str:
    resources = []
    for name in RESOURCE_TYPES:
        params: dict[str, str] = {}
        for param, kind in SEARCH_PARAMS[name]:  # subject:identifier is the `subject` parameter with a modifier
            params.setdefault(param.split(":")[0], kind)
        entry = {"type": name, "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": param, "type": kind} for param, kind in sorted(params.items())]}
        resources.append(entry)
    data = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": RELEASED,
        "publisher": "TrialDocs",
        "kind": "instance",
        "software": {"name": "TrialDocs", "version": "0.1.0"},
        "implementation": {"description": "TrialDocs read-only FHIR API (consent records)", "url": base},
        "fhirVersion": mapping.FHIR_VERSION[version],
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": (f"Read-only. Authorization: Bearer <token> (manage.py issue_api_token). "
                              f"_count at most {MAX_COUNT} (default {DEFAULT_COUNT}), _offset for paging. "
                              "subject:identifier / patient:identifier take the participant's code."),
            "security": {"cors": False, "description": "Bearer API token scoped to one trial or one site, read-only, "
                                                       "expiring, revocable; every call audited."},
            "resource": resources,
        }],
    }
    return mapping.validated(version, data)
