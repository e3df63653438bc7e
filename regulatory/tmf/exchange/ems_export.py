"""Writing an EMS package: each document's file in its folder, `exchange.xml` validated against the schema before
the zip is written (atomically)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET  # noqa: S405  # nosec B405  # writes only; packages are read with lxml

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from lxml import etree

from regulatory import audit
from regulatory.models import AuditEntry, TmfDocument, TmfLevel, TrialPage
from regulatory.tmf import filing

from .common import (
    ALPHA3,
    EXCHANGE_XML,
    EXPORTING_SYSTEM,
    LEVELS,
    MONTHS,
    NAMESPACE,
    NO_VERSION,
    SPECIFICATION_ID,
    STATES,
    TMF_RM_VERSION,
    file_sha256,
    qname,
    schema_errors,
    utc_iso,
    xml_parser,
)
from .index import ordered, trial_documents, write_atomically

# --- Export -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportSummary:
    count: int
    sha256: str
    path: str
    size: int


def _segment(text: str, limit: int = 80) -> str:
    """A folder or file name made of ASCII letters, digits, dots, dashes and underscores, never '.' or '..'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9.\-]+", "_", ascii_text).strip("._-")
    return cleaned[:limit].strip("._-") or "document"


def _folder(document: TmfDocument) -> str:
    artifact = document.artifact
    section = artifact.section
    if document.level == TmfLevel.SITE:
        place = f"site_{document.site.code}"
    elif document.level == TmfLevel.COUNTRY:
        place = f"country_{document.country}"
    else:
        place = "trial"
    return "/".join([_segment(f"{section.zone.number}_{section.zone.name}"),
                     _segment(f"{section.number}_{section.name}"),
                     _segment(f"{artifact.number}_{artifact.name}", 60), _segment(place)])


def _file_name(document: TmfDocument, source_name: str, taken: set[str]) -> str:
    match = re.search(r"\.([A-Za-z0-9]{1,8})$", source_name)
    extension = f".{match.group(1).lower()}" if match else ""
    version = f"_v{document.version}" if document.version and document.version not in document.title else ""
    stem = _segment(document.title + version, 90)
    name, n = stem + extension, 1
    while name.casefold() in taken:
        n += 1
        name = f"{stem}_{n}{extension}"
    taken.add(name.casefold())
    return name


def _ems_date(day: datetime.date) -> str:
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year:04d}"


def _sri(hex_digest: str) -> str:
    return "sha256-" + base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _entry_type(action: str) -> str:
    verb = action.rsplit(".", 1)[-1]
    if verb in ("created", "create", "filed", "imported"):
        return "New"
    if verb in ("deleted", "delete"):
        return "Delete"
    if verb in ("changed", "edit", "superseded", "withdrawn", "published", "publish", "unpublished", "unpublish",
                "scheduled", "notified", "revert"):
        return "Change"
    return "Other"


def _audit_entries(document: TmfDocument) -> list[AuditEntry]:
    from django.db.models import Q

    condition = Q(object_type=TmfDocument._meta.label_lower, object_id=str(document.pk))
    if document.source_type:
        condition |= Q(object_type=document.source_type, object_id=document.source_id)
    return list(AuditEntry.objects.filter(condition).order_by("sequence", "pk"))


# Characters XML 1.0 cannot carry (C0 controls but tab, LF and CR; surrogates; U+FFFE, U+FFFF): left out of exports.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _sub(parent: ET.Element, name: str, text: str = "", **attributes) -> ET.Element:
    element = ET.SubElement(parent, qname(name), attributes)
    element.text = _NOT_XML.sub("", text)
    return element


def _object_element(batch: ET.Element, document: TmfDocument, *, path: str, name: str, data: bytes,
                    trial_metadata: tuple[tuple[str, str], ...]) -> None:
    digest = hashlib.sha256(data).hexdigest()
    obj = _sub(batch, "OBJECT")
    _sub(obj, "OBJECTID", f"TD-{document.pk}")
    _sub(obj, "OBJECTLEVEL", LEVELS[document.level])
    if document.country and document.country in ALPHA3:
        _sub(obj, "COUNTRYID", ALPHA3[document.country])
    if document.site_id:
        _sub(obj, "SITEID", document.site.code)
    _sub(obj, "UNIQUEID", f"{document.artifact.unique_id:03d}")
    _sub(obj, "ARTIFACTNUMBER", document.artifact.number)
    _sub(obj, "OBJECTVERSION", document.version or NO_VERSION)
    _sub(obj, "OBJECTVERSIONSTATE", STATES.get(document.status, "Current"))
    _sub(obj, "OBJECTTITLE", document.title)
    _sub(obj, "OBJECTCOPY", "No")
    _sub(obj, "ARTIFACTDATE", _ems_date(document.document_date))
    _sub(obj, "DATEDESCRIPTION", "Document date")
    file_element = _sub(obj, "FILE")
    _sub(file_element, "INTEGRITY", _sri(digest))
    _sub(file_element, "FILENAME", name)
    _sub(file_element, "CONTENTURL", path)
    for entry in _audit_entries(document):
        record = _sub(file_element, "AUDITRECORD")
        _sub(record, "AUDITID", str(entry.sequence or entry.pk))
        _sub(record, "DATETIMESTAMP", utc_iso(entry.timestamp))
        _sub(record, "USERREF", entry.actor_label or audit.SYSTEM_ACTOR)
        _sub(record, "AUDITENTRYTYPE", _entry_type(entry.action))
        _sub(record, "AUDITEVENT", entry.action)
    for key, value in (("ARTIFACTNAME", document.artifact.name), ("COUNTRY", document.country),
                       ("STATUS", document.status), ("DOCUMENTDATE", document.document_date.isoformat()),
                       ("VERSION", document.version), ("SERIES", document.series), ("FILESIZE", str(len(data))),
                       ("SHA256", digest), *trial_metadata):
        _sub(obj, "METADATA", value, NAME=key)


def _zip_info(name: str, moment: datetime.datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def empty_tmf_message(trial: TrialPage) -> str:
    return _("The TMF of %(trial)s holds no document yet: there is nothing to export (an EMS package lists at "
             "least one).") % {"trial": trial.nct_number}


def export_package(trial: TrialPage, out_path, *, user=None,
                   progress: Callable[[int, int], None] | None = None) -> ExportSummary:
    """Write the trial's whole TMF as an EMS zip at `out_path`, atomically: the zip is written beside it under a
    temporary name and renamed at the end, so a failure leaves no partial package. Audited. Its exchange.xml is
    validated against the EMS schema first; a TMF without documents is refused (ValidationError): the schema
    wants at least one OBJECT."""
    from django.utils import timezone

    out_path = Path(out_path)
    documents = ordered(trial_documents(trial))
    total = len(documents)
    if not total:
        raise ValidationError(empty_tmf_message(trial))
    exported_at = timezone.now().replace(microsecond=0)
    ET.register_namespace("", NAMESPACE)
    batch = ET.Element(qname("BATCH"), {
        "STUDYID": trial.nct_number, "STUDYSYSTEMID": trial.nct_number, "TRANSFERSOURCEID": EXPORTING_SYSTEM,
        "TRANSFERID": exported_at.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S"),
        "SPECIFICATIONID": SPECIFICATION_ID, "TMFRMVERSION": TMF_RM_VERSION})
    # The schema has no METADATA on BATCH: what describes the trial travels with each object, as the schema's
    # own example does (STUDYTYPE, PRODUCTID); the export time, system and count are BATCH's own attributes.
    trial_metadata = (("SPONSOR", trial.sponsor_name), ("EUCTNUMBER", trial.eu_ct_number or ""))

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w") as package:
            taken: dict[str, set[str]] = {}
            for done, document in enumerate(documents, 1):
                content = filing.content(document)
                folder = _folder(document)
                name = _file_name(document, content.filename, taken.setdefault(folder.casefold(), set()))
                path = f"{folder}/{name}"
                package.writestr(_zip_info(path, exported_at), content.data)
                _object_element(batch, document, path=path, name=name, data=content.data,
                                trial_metadata=trial_metadata)
                if progress is not None:
                    progress(done, total)
            ET.indent(batch)
            xml = ET.tostring(batch, encoding="utf-8", xml_declaration=True)
            errors = schema_errors(etree.fromstring(xml, xml_parser()))
            if errors:  # a fault of this code, never of the data: no package rather than an invalid one
                raise ValueError("The export does not validate against the EMS schema: " + " ".join(errors))
            package.writestr(_zip_info(EXCHANGE_XML, exported_at), xml + b"\n")

    write_atomically(out_path, write)
    summary = ExportSummary(count=total, sha256=file_sha256(out_path), path=str(out_path),
                            size=out_path.stat().st_size)
    audit.record(actor=user, action="tmf.package_exported", obj=trial, changes={
        "documents": [None, total], "sha256": [None, summary.sha256], "file": [None, out_path.name]})
    return summary
