"""The TMF index: one row per document (CSV, formula-safe, or Excel), with the SHA-256 of what a reader downloads."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cms.cells import csv_cell
from regulatory.models import TmfDocument, TrialPage
from regulatory.tmf import filing

from .common import EXPORTING_SYSTEM, LEVEL_RANK, utc_iso

COLUMNS = ("zone", "section", "artifact_number", "artifact_name", "level", "country", "site", "title",
           "document_date", "version", "status", "qc_status", "file_name", "sha256", "filed_at")


def column_labels() -> dict[str, str]:
    return {
        "zone": pgettext("TMF index column", "Zone"),
        "section": pgettext("TMF index column", "Section"),
        "artifact_number": pgettext("TMF index column", "Artifact number"),
        "artifact_name": pgettext("TMF index column", "Artifact name"),
        "level": pgettext("TMF index column", "Level"),
        "country": pgettext("TMF index column", "Country"),
        "site": pgettext("TMF index column", "Site code"),
        "title": pgettext("TMF index column", "Title"),
        "document_date": pgettext("TMF index column", "Document date"),
        "version": pgettext("TMF index column", "Version"),
        "status": pgettext("TMF index column", "Status"),
        "qc_status": pgettext("TMF index column", "QC status"),  # "QC" in every language (outside checks read it)
        "file_name": pgettext("TMF index column", "File name"),
        "sha256": pgettext("TMF index column", "SHA-256"),
        "filed_at": pgettext("TMF index column", "Filed at (UTC)"),
    }


# --- Index ------------------------------------------------------------------------------------------------------

def ordered(documents: Iterable[TmfDocument]) -> list[TmfDocument]:
    """Documents in the one stable order of indexes and packages: artifact, level, place, date, version, title."""
    documents = list(documents)
    return sorted(documents, key=lambda d: (
        d.artifact.number, LEVEL_RANK.get(d.level, 9), d.country, d.site.code if d.site_id else "",
        d.document_date, d.version, d.title, d.status, d.pk))


def trial_documents(trial: TrialPage):
    return TmfDocument.objects.filter(trial=trial).select_related("artifact__section__zone", "site", "trial")


def index_rows(trial: TrialPage, documents: Iterable[TmfDocument] | None = None) -> list[dict[str, str]]:
    """One row per document (all of the trial's when `documents` is None), every value a string, in `ordered`
    order. The SHA-256 is that of the bytes a reader downloads (`filing.content`)."""
    documents = trial_documents(trial) if documents is None else documents
    rows = []
    for document in ordered(documents):
        if document.trial_id != trial.pk:
            raise ValueError(f"document {document.pk} is not in trial {trial.nct_number}")
        section = document.artifact.section
        data = filing.content(document)
        rows.append({
            "zone": f"{section.zone.number} {section.zone.name}",
            "section": f"{section.number} {section.name}",
            "artifact_number": document.artifact.number,
            "artifact_name": document.artifact.name,
            "level": document.level,
            "country": document.country,
            "site": document.site.code if document.site_id else "",
            "title": document.title,
            "document_date": document.document_date.isoformat(),
            "version": document.version,
            "status": document.status,
            "qc_status": document.qc_status,
            "file_name": data.filename,
            "sha256": hashlib.sha256(data.data).hexdigest(),
            "filed_at": utc_iso(document.filed_at),
        })
    return rows


def write_index(rows: list[dict[str, str]], fmt: str, out) -> None:
    """Write the index as `csv` (UTF-8 with a byte-order mark, for Excel) or `xlsx`, to a path or a binary file.

    Every cell is text. In CSV, one starting like a formula (= + - @ tab CR) gets a leading quote; XLSX has cell
    types, so there it is a text cell as filed, never a formula (`spreadsheets.append_row`).
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(_("Unknown index format %(format)s: use csv or xlsx.") % {"format": fmt})
    labels = column_labels()
    header = [labels[name] for name in COLUMNS]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([csv_cell(label) for label in header])
        for row in rows:
            writer.writerow([csv_cell(row.get(name, "")) for name in COLUMNS])
        data = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    else:
        data = _xlsx(header, rows)
    if hasattr(out, "write"):
        out.write(data)
    else:
        write_atomically(Path(out), lambda handle: handle.write(data))


def write_atomically(path: Path, write: Callable) -> None:
    """Call `write(handle)` on a temporary file beside `path`, renamed to `path` only once complete."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "w+b") as handle:
            write(handle)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _xlsx(header: list[str], rows: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from regulatory.spreadsheets import append_row

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "TMF"
    workbook.properties.creator = EXPORTING_SYSTEM
    append_row(sheet, header, font=Font(bold=True))
    for row in rows:
        append_row(sheet, [row.get(name, "") for name in COLUMNS])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
