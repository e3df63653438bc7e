"""The investigator site file (ISF) of one site: its own binder, filed to the TMF Reference Model's site-level
artifacts — the delegation log (05.02.18), training records (05.03.03), the site's acknowledgements (05.02.02/03),
the forms in force (02.02.03), monitoring-visit letters filed by hand (05.04.03, 05.04.12), any other site-level
document — and the signed consent records, which stay at the site (participant codes only; never offered to the
sponsor: `regulatory.permissions.can_read_isf`).

`documents(site)` is the one query of the filed documents, and it holds QC-approved documents only: site staff and
inspectors read what quality control has approved (a document pending QC or rejected is the sponsor's to see, in
the TMF, marked as such).

The page shows the binder a section at a time (issue 19: a site may hold 10^5 documents): each section's count, read
from the running counts (`regulatory.tmf.tallies.document_counts`: a few rows per artifact whatever the number of
documents), and its newest documents (`OVERVIEW_SIZE` on the binder's page; `PAGE_SIZE` a page on the section's
own page, `?section=<slug>&page=N`), newest first. A page is read along one of two indexes of migration 0022
(QC-approved, not withdrawn documents only): per artifact of the section in date order (`tmf_isf_artifact_idx`),
merged, when the section holds few of the site's documents; else the site's documents in date order
(`tmf_isf_site_idx`, the artifact in the index), skipping those of other sections. Either way a page costs about
its offset plus its size in index entries, not the site's documents. The zip holds every document.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cms.cells import csv_cell
from regulatory import audit
from regulatory.models import QcStatus, TmfArtifact, TmfDocument
from regulatory.tmf import filing, tallies

from .export import file_name as record_file_name
from .export import records_of_site

# The ISF's sections, in the order of the binder: (slug, heading, artifact numbers). Anything else site-level follows
# (OTHER).
SECTIONS = (
    ("delegation", gettext_lazy("Delegation log"), (filing.SITE_SIGNATURE_SHEET,)),
    ("training", gettext_lazy("Training records"), (filing.SITE_EVIDENCE_OF_TRAINING, "05.02.07")),
    ("acknowledgements", gettext_lazy("The site's acknowledgements"),
     (filing.PROTOCOL_SIGNATURE_PAGE, filing.AMENDMENT_SIGNATURE_PAGE)),
    ("forms", gettext_lazy("Consent forms"), (filing.INFORMED_CONSENT_FORM, filing.SUBJECT_INFORMATION_SHEET)),
    ("monitoring", gettext_lazy("Monitoring-visit letters"), (filing.MONITORING_VISIT_REPORT,
                                                              filing.MONITORING_FOLLOW_UP, "05.04.04", "05.04.05")),
)
OTHER = ("other", gettext_lazy("Other site documents"))
RECORDS_SHOWN = 200
OVERVIEW_SIZE = 10  # each section's newest documents on the binder's page
PAGE_SIZE = 50  # a page of a section's own page
# A section holding at least this share of the site's documents is read in the site's date order (skipping the other
# sections' documents: at most about 1/DENSE times the page's offset and size in index entries); a sparser one per
# artifact (at most the page's offset and size per artifact present).
DENSE = 1 / 16


def documents(site):
    """The site's filed documents in its ISF: every site-level TMF document of the site, approved at QC and not
    withdrawn."""
    return (TmfDocument.objects.filter(trial_id=site.trial_id, site=site, qc_status=QcStatus.APPROVED)
            .exclude(status=TmfDocument.Status.WITHDRAWN)
            .select_related("artifact", "trial", "site")
            .order_by("artifact__number", "series", "-document_date", "-pk"))


def _filed(site):
    """`documents(site)`, unordered and without joins: the rows the listings read."""
    return (TmfDocument.objects.filter(trial_id=site.trial_id, site=site, qc_status=QcStatus.APPROVED)
            .exclude(status=TmfDocument.Status.WITHDRAWN).order_by())


@dataclass
class Section:
    slug: str
    heading: str
    numbers: tuple = ()  # artifact numbers; empty for OTHER
    artifacts: dict = field(default_factory=dict)  # artifact id -> the site's documents of it in the ISF
    count: int = 0  # the section's documents in the ISF
    documents: list = field(default_factory=list)  # those shown: the newest, or a page
    dense: bool = False  # read in the site's date order (else per artifact)
    named: list = field(default_factory=list)  # the ids of the named sections' artifacts

    @property
    def more(self) -> bool:
        return self.count > len(self.documents)


@dataclass
class Binder:
    sections: list[Section]
    records: list
    record_count: int


def sections(site, trial=None) -> list[Section]:
    """The binder's sections with their counts (no documents yet): two queries, whatever the number of
    documents."""
    trial = trial or site.trial
    numbers = {number: slug for slug, _heading, group in SECTIONS for number in group}
    ids = dict(TmfArtifact.objects.filter(number__in=numbers).values_list("pk", "number"))
    found = [Section(slug, str(heading), group) for slug, heading, group in SECTIONS]
    found.append(Section(OTHER[0], str(OTHER[1])))
    by_slug = {section.slug: section for section in found}
    counts = tallies.document_counts(None, trial, ("artifact_id", "status"), site=site, qc_status=QcStatus.APPROVED)
    for artifact_id, status, n in counts:
        if status == TmfDocument.Status.WITHDRAWN:
            continue
        section = by_slug[numbers[ids[artifact_id]]] if artifact_id in ids else by_slug[OTHER[0]]
        section.artifacts[artifact_id] = section.artifacts.get(artifact_id, 0) + n
        section.count += n
    total = sum(section.count for section in found)
    named = sorted(ids)
    for section in found:
        section.dense = bool(total) and section.count >= total * DENSE and len(section.artifacts) > 1
        section.named = named
    return found


def _compiled(queryset) -> tuple[str, list]:
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, list(params)


def _page_sql(site, section: Section, offset: int, size: int, tag: int) -> tuple[str, list]:
    """SQL of (tag, id, document_date) of the section's documents `offset` to `offset + size`, newest first. Put
    together from querysets compiled by Django and integers (aliases, LIMIT, OFFSET); every value is a parameter."""
    order = ("-document_date", "-pk")
    if section.dense:
        rows = _filed(site)
        rows = (rows.exclude(artifact_id__in=section.named) if not section.numbers
                else rows.filter(artifact_id__in=sorted(section.artifacts)))
        sql, params = _compiled(rows.order_by(*order).values_list("id", "document_date")[offset:offset + size])
        return f"SELECT {tag:d} AS tag, id, document_date FROM ({sql}) AS dense{tag:d}", params  # noqa: S608  # nosec B608  # integers and compiled ORM SQL with bound parameters
    parts, params = [], []
    for number, artifact_id in enumerate(sorted(section.artifacts)):
        sql, part_params = _compiled(_filed(site).filter(artifact_id=artifact_id).order_by(*order)
                                     .values_list("id", "document_date")[:offset + size])
        parts.append(f"SELECT id, document_date FROM ({sql}) AS a{tag:d}_{number:d}")  # noqa: S608  # nosec B608  # integers and compiled ORM SQL
        params += part_params
    merged = " UNION ALL ".join(parts)
    return (f"SELECT {tag:d} AS tag, id, document_date FROM (SELECT id, document_date FROM ({merged}) AS m{tag:d} "  # noqa: S608
            f"ORDER BY document_date DESC, id DESC LIMIT {size:d} OFFSET {offset:d}) AS s{tag:d}", params)  # nosec B608


def fill(site, wanted: list[tuple[Section, int, int]]) -> None:
    """Each section's documents `offset` to `offset + size` (newest first) into its `documents`: one query of the
    rows' ids along the indexes, one of the documents."""
    parts, params = [], []
    for tag, (section, offset, size) in enumerate(wanted):
        section.documents = []
        if section.artifacts and offset < section.count:
            sql, part_params = _page_sql(site, section, offset, size, tag)
            parts.append(sql)
            params += part_params
    if not parts:
        return
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        found = cursor.fetchall()
    rows = TmfDocument.objects.select_related("artifact").in_bulk([pk for _tag, pk, _date in found])
    for tag, pk, _date in found:
        wanted[tag][0].documents.append(rows[pk])
    for section, _offset, _size in wanted:
        section.documents.sort(key=lambda document: (document.document_date, document.pk), reverse=True)


class SectionListing:
    """A section's documents for `Paginator` (told the count: `tallies.CountedPaginator`): a slice reads that page
    only."""

    def __init__(self, site, section: Section):
        self.site, self.section = site, section

    def __getitem__(self, window: slice) -> list:
        fill(self.site, [(self.section, window.start or 0, window.stop - (window.start or 0))])
        return self.section.documents


def binder(site, trial=None) -> Binder:
    """The binder's page: every section with its count and its `OVERVIEW_SIZE` newest documents; the signed
    consent records (the first `RECORDS_SHOWN`)."""
    found = sections(site, trial)
    fill(site, [(section, 0, OVERVIEW_SIZE) for section in found])
    records = records_of_site(site)
    return Binder(sections=found, records=list(records[:RECORDS_SHOWN]), record_count=records.count())


def section_page(site, slug: str, number, trial=None):
    """The section named `slug` and a page of its documents (`PAGE_SIZE`, newest first; a page number out of range
    or not a number gives the nearest page, as `Paginator.get_page`), or None for no such section."""
    section = next((section for section in sections(site, trial) if section.slug == slug), None)
    if section is None:
        return None, None
    paginator = tallies.CountedPaginator(SectionListing(site, section), PAGE_SIZE, count=section.count)
    return section, paginator.get_page(number)


def _section_documents(site, section: Section):
    """Every document of the section, newest first, read in chunks (the zip)."""
    rows = _filed(site).select_related("artifact")
    rows = (rows.exclude(artifact__number__in=[n for _s, _h, group in SECTIONS for n in group])
            if not section.numbers else rows.filter(artifact__number__in=section.numbers))
    return rows.order_by("artifact__number", "series", "-document_date", "-pk").iterator(chunk_size=500)


INDEX_COLUMNS = ("section", "artifact", "title", "version", "date", "status", "file", "sha256")


def download_name(site) -> str:
    return f"ISF-{site.trial.nct_number}-{site.code}-{timezone.localdate():%Y-%m-%d}.zip"


def _add(package: zipfile.ZipFile, name: str, data: bytes, rows: list, row: dict) -> None:
    package.writestr(name, data)
    rows.append({**row, "file": name, "sha256": hashlib.sha256(data).hexdigest()})


def write_zip(site, handle) -> dict:
    """The ISF as a zip: each filed document under its section and artifact, each signed consent record's PDF as
    stored, and index.csv (every cell formula-safe: `cms.cells.csv_cell`)."""
    rows: list[dict] = []
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for position, section in enumerate(sections(site), start=1):
            for document in _section_documents(site, section):
                content = filing.content(document)
                name = f"{position:02d}_{document.artifact.number}/{document.pk}_{content.filename}"
                _add(package, name, content.data, rows, {
                    "section": section.heading, "artifact": f"{document.artifact.number} {document.artifact.name}",
                    "title": document.title, "version": document.version, "date": document.document_date,
                    "status": document.get_status_display()})
        for record in records_of_site(site).iterator(chunk_size=200):
            with record.pdf.open("rb") as stored:
                data = stored.read()
            _add(package, f"{len(SECTIONS) + 2:02d}_consent-records/{record_file_name(record)}", data, rows, {
                "section": _("Signed consent records"), "artifact": "",
                "title": f"{record.participant.code} — {record.get_kind_display()}",
                "version": record.version.version_number, "date": timezone.localtime(record.signed_at).date(),
                "status": record.get_outcome_display()})
        index = io.StringIO()
        writer = csv.writer(index)
        writer.writerow([csv_cell(column) for column in INDEX_COLUMNS])
        for row in rows:
            writer.writerow([csv_cell(row.get(column, "")) for column in INDEX_COLUMNS])
        package.writestr("index.csv", "\ufeff" + index.getvalue())
    return {"files": len(rows)}


def export_to_temporary_file(site, *, user):
    """The zip in a temporary file (rewound), and its SHA-256; the export is audited."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115  # handed to the response, which closes it
    counts = write_zip(site, handle)
    handle.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1024 * 1024), b""):
        digest.update(chunk)
    handle.seek(0)
    audit.record(actor=user, action="isf.exported", obj=site,
                 changes={"files": [None, counts["files"]], "sha256": [None, digest.hexdigest()]})
    return handle, digest.hexdigest()
