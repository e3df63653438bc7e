"""FHIR export of a trial, a site or one participant: one Bundle (JSON) or NDJSON files per resource type (the FHIR
Bulk Data layout), streamed record by record (the database is read in chunks, each resource is validated and written
before the next one is built), byte for byte the same for the same records.

Order: the Organizations (sites, by code), the ResearchStudy, the ResearchSubjects (by site and number), the Consents
(by site, participant number and sequence). Nothing carries the export's own time, so two exports of the same records
are identical; the audit trail says when each was made.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Prefetch, QuerySet

from consent.models import ConsentRecord, Participant
from regulatory import audit
from regulatory.models import InvestigationalSite, TrialPage

from . import mapping
from .mapping import R5

CHUNK = 500
RESOURCE_TYPES = ("Organization", "ResearchStudy", "ResearchSubject", "Consent")


@dataclass(frozen=True)
class Scope:
    """What an export or an API call reads: one trial, some of its sites, optionally one participant."""

    trial: TrialPage
    sites: QuerySet  # of InvestigationalSite, all of `trial`
    participant_code: str = ""

    @property
    def nct(self) -> str:
        return self.trial.nct_number

    def site_list(self) -> list[InvestigationalSite]:
        return list(self.sites.order_by("code"))

    def participants(self) -> QuerySet[Participant]:
        found = Participant.objects.filter(site__in=self.sites.values("pk"), site__trial=self.trial)
        if self.participant_code:
            found = found.filter(code=self.participant_code)
        return found

    def consents(self) -> QuerySet[ConsentRecord]:
        found = ConsentRecord.objects.filter(participant__site__in=self.sites.values("pk"),
                                             participant__site__trial=self.trial)
        if self.participant_code:
            found = found.filter(participant__code=self.participant_code)
        return found


def consent_rows(queryset: QuerySet[ConsentRecord]) -> QuerySet[ConsentRecord]:
    """What `mapping.consent` reads, in one query, in export order."""
    return (queryset.select_related("participant__site", "version").prefetch_related("participant__withdrawals")
            .order_by("participant__site__code", "participant__number", "sequence"))


def subject_rows(queryset: QuerySet[Participant]) -> QuerySet[Participant]:
    """What `mapping.research_subject` reads: the participant with its site, and its consents' sequence and outcome
    (one more query per chunk)."""
    records = ConsentRecord.objects.only("pk", "participant_id", "sequence", "outcome").order_by("sequence")
    return (queryset.select_related("site").prefetch_related(Prefetch("consents", queryset=records))
            .order_by("site__code", "number"))


def iter_resources(scope: Scope, *, version: str = R5) -> Iterator[tuple[str, str, str]]:
    """(resource type, id, validated JSON) of every resource of the scope, in export order."""
    nct = scope.nct
    sites = scope.site_list()
    for site in sites:
        yield "Organization", mapping.organization_id(site, nct), mapping.validated(
            version, mapping.organization(site, nct=nct, version=version))
    yield "ResearchStudy", mapping.study_id(scope.trial), mapping.validated(
        version, mapping.research_study(scope.trial, sites, version=version))
    for participant in subject_rows(scope.participants()).iterator(chunk_size=CHUNK):
        yield "ResearchSubject", mapping.subject_id(participant, nct), mapping.validated(
            version, mapping.research_subject(participant, list(participant.consents.all()), nct=nct,
                                              version=version))
    for record in consent_rows(scope.consents()).iterator(chunk_size=CHUNK):
        yield "Consent", mapping.consent_id(record, nct), mapping.validated(
            version, mapping.consent(record, nct=nct, version=version))


def bundle_id(scope: Scope) -> str:
    parts = [scope.nct, *(site.code for site in scope.site_list())]
    if scope.participant_code:
        parts.append(scope.participant_code)
    return "-".join(parts)[:64]


def iter_bundle(scope: Scope, *, version: str = R5, base_url: str, counts: dict | None = None) -> Iterator[str]:
    """A `collection` Bundle of the scope, as pieces of JSON text (the envelope, then one entry at a time); `counts`,
    when given, counts the resources by type."""
    envelope = mapping.validated(version, {"resourceType": "Bundle", "id": bundle_id(scope), "type": "collection"})
    yield envelope[:-1] + ',"entry":['
    first = True
    for resource_type, resource_id, text in iter_resources(scope, version=version):
        full_url = json.dumps(f"{base_url.rstrip('/')}/{resource_type}/{resource_id}")
        yield ("" if first else ",") + '{"fullUrl":' + full_url + ',"resource":' + text + "}"
        first = False
        if counts is not None:
            counts[resource_type] = counts.get(resource_type, 0) + 1
    yield "]}"


@dataclass
class Written:
    paths: list[Path]
    counts: dict[str, int]


def _atomic_write(path: Path):
    """A temporary file beside `path`, renamed over it when complete (never a half-written export)."""
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,  # noqa: SIM115 (closed by _finish)
                                         prefix=f".{path.name}.", delete=False, newline="\n")
    return handle


def _finish(handle, path: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(handle.name, path)


def write_bundle(scope: Scope, out: Path, *, version: str = R5, base_url: str) -> Written:
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    handle = _atomic_write(out)
    try:
        for piece in iter_bundle(scope, version=version, base_url=base_url, counts=counts):
            handle.write(piece)
        _finish(handle, out)
    except BaseException:
        handle.close()
        Path(handle.name).unlink(missing_ok=True)
        raise
    return Written([out], counts)


def write_ndjson(scope: Scope, folder: Path, *, version: str = R5) -> Written:
    """One `<ResourceType>.ndjson` file per resource type (one resource a line), all written or none."""
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    handles: dict[str, object] = {}
    try:
        for resource_type, _resource_id, text in iter_resources(scope, version=version):
            if resource_type not in handles:
                handles[resource_type] = _atomic_write(folder / f"{resource_type}.ndjson")
            handles[resource_type].write(text + "\n")
            counts[resource_type] += 1
        paths = []
        for resource_type in RESOURCE_TYPES:
            path = folder / f"{resource_type}.ndjson"
            if resource_type not in handles:
                handles[resource_type] = _atomic_write(path)
            _finish(handles[resource_type], path)
            paths.append(path)
    except BaseException:
        for handle in handles.values():
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
        raise
    return Written(paths, counts)


def record_export(*, actor, scope: Scope, version: str, fmt: str, written: Written) -> None:
    audit.record(actor=actor, action="fhir.exported", obj=scope.trial, changes={
        "version": [None, version], "format": [None, fmt],
        "sites": [None, [site.code for site in scope.site_list()]],
        "participant": [None, scope.participant_code or "*"],
        "counts": [None, written.counts], "files": [None, [path.name for path in written.paths]]})
