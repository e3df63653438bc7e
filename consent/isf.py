"""The investigator site file (ISF) of one site: its own binder, filed to the TMF Reference Model's site-level
artifacts — the delegation log (05.02.18), training records (05.03.03), the site's acknowledgements (05.02.02/03),
the forms in force (02.02.03), monitoring-visit letters filed by hand (05.04.03, 05.04.12), any other site-level
document — and the signed consent records, which stay at the site (participant codes only; never offered to the
sponsor: `regulatory.permissions.can_read_isf`).

`documents(site)` is the one query of the filed documents, and it holds QC-approved documents only: site staff and
inspectors read what quality control has approved (a document pending QC or rejected is the sponsor's to see, in
the TMF, marked as such).
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cms.cells import csv_cell
from regulatory import audit
from regulatory.models import QcStatus, TmfDocument
from regulatory.tmf import filing

from .export import file_name as record_file_name
from .export import records_of_site

# The ISF's sections, in the order of the binder: (heading, artifact numbers). Anything else site-level follows.
SECTIONS = (
    (gettext_lazy("Delegation log"), (filing.SITE_SIGNATURE_SHEET,)),
    (gettext_lazy("Training records"), (filing.SITE_EVIDENCE_OF_TRAINING, "05.02.07")),
    (gettext_lazy("The site's acknowledgements"), (filing.PROTOCOL_SIGNATURE_PAGE, filing.AMENDMENT_SIGNATURE_PAGE)),
    (gettext_lazy("Consent forms"), (filing.INFORMED_CONSENT_FORM, filing.SUBJECT_INFORMATION_SHEET)),
    (gettext_lazy("Monitoring-visit letters"), (filing.MONITORING_VISIT_REPORT, filing.MONITORING_FOLLOW_UP,
                                                "05.04.04", "05.04.05")),
)
RECORDS_SHOWN = 200


def documents(site):
    """The site's filed documents in its ISF: every site-level TMF document of the site, approved at QC and not
    withdrawn."""
    return (TmfDocument.objects.filter(trial_id=site.trial_id, site=site, qc_status=QcStatus.APPROVED)
            .exclude(status=TmfDocument.Status.WITHDRAWN)
            .select_related("artifact", "trial", "site")
            .order_by("artifact__number", "series", "-document_date", "-pk"))


@dataclass
class Section:
    heading: str
    documents: list = field(default_factory=list)


@dataclass
class Binder:
    sections: list[Section]
    records: list
    record_count: int


def binder(site) -> Binder:
    sections = {numbers: Section(str(heading)) for heading, numbers in SECTIONS}
    other = Section(str(_("Other site documents")))
    for document in documents(site):
        target = next((section for numbers, section in sections.items() if document.artifact.number in numbers),
                      other)
        target.documents.append(document)
    records = records_of_site(site)
    return Binder(sections=[*sections.values(), other], records=list(records[:RECORDS_SHOWN]),
                  record_count=records.count())


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
        for position, section in enumerate(binder(site).sections, start=1):
            for document in section.documents:
                content = filing.content(document)
                name = f"{position:02d}_{document.artifact.number}/{document.pk}_{content.filename}"
                _add(package, name, content.data, rows, {
                    "section": section.heading, "artifact": f"{document.artifact.number} {document.artifact.name}",
                    "title": document.title, "version": document.version, "date": document.document_date,
                    "status": document.get_status_display()})
        for record in records_of_site(site):
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
