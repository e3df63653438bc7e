"""A trial's TMF out and in: an index (CSV, Excel) and eTMF Exchange Mechanism Standard (EMS) packages.

No copy of the CDISC eTMF-EMS v1.0.2 specification ships with the project; the element names and their order
follow the EMS exchange schema (`TmfReferenceModelExchange.xsd`, namespace `https://tmfrefmodel.com/ems`), and
what that schema has no element for travels in its own extension point, `<METADATA NAME="…">`. A package is a
zip: each document's file in a folder `zone/section/artifact/level/`, and `exchange.xml` at the root:

    <BATCH xmlns="https://tmfrefmodel.com/ems" STUDYID="NCT…" STUDYSYSTEMID="NCT…" TRANSFERSOURCEID="TrialDocs"
           TRANSFERID="20260101120000" SPECIFICATIONID="TrialDocs-EMS-1" TMFRMVERSION="3.3.1">
      <METADATA NAME="SPONSOR|EUCTNUMBER|EXPORTEDAT|EXPORTINGSYSTEM|TMFRMVERSION|OBJECTCOUNT">…</METADATA>
      <OBJECT>                                    one per TmfDocument, in `ordered()` order
        <OBJECTID>TD-<pk></OBJECTID>
        <OBJECTLEVEL>Trial|Country|Site</OBJECTLEVEL>
        <COUNTRYID>FRA</COUNTRYID>                ISO 3166 alpha-3, when known (the alpha-2 code: METADATA COUNTRY)
        <SITEID>DIJ</SITEID>                      site-level documents: the site code
        <UNIQUEID>…</UNIQUEID>                    the Reference Model's unique ID of the artifact
        <ARTIFACTNUMBER>02.01.02</ARTIFACTNUMBER>
        <OBJECTVERSION>1.0</OBJECTVERSION>        empty when the document has no version
        <OBJECTVERSIONSTATE>Current|Superseded|Obsolete</OBJECTVERSIONSTATE>   (withdrawn → Obsolete)
        <OBJECTTITLE>…</OBJECTTITLE>
        <OBJECTCOPY>No</OBJECTCOPY>
        <ARTIFACTDATE>01-JAN-2026</ARTIFACTDATE>  the document date, DD-MON-YYYY
        <DATEDESCRIPTION>Document date</DATEDESCRIPTION>
        <FILE>
          <INTEGRITY>sha256-<base64></INTEGRITY>  Subresource-Integrity form of the SHA-256
          <FILENAME>…</FILENAME>
          <CONTENTURL>zone/section/artifact/level/file</CONTENTURL>   path inside the zip
          <AUDITRECORD>                           the audit entries of the document and of its source object
            <AUDITID>sequence</AUDITID><DATETIMESTAMP>UTC ISO 8601</DATETIMESTAMP><USERREF>login|system</USERREF>
            <AUDITENTRYTYPE>New|Change|Delete|Other</AUDITENTRYTYPE><AUDITEVENT>action</AUDITEVENT>
          </AUDITRECORD>
        </FILE>
        <METADATA NAME="ARTIFACTNAME|COUNTRY|STATUS|DOCUMENTDATE|SERIES|FILESIZE|SHA256">…</METADATA>
      </OBJECT>
    </BATCH>

Deliberate gaps: no `<SIGNATURE>` (signed records carry their PAdES signature inside the PDF), no retention or
expiry date (the product keeps none); the TMF holds no participant identity, so neither does a package.
A package is refused on import unless `verify_package` finds it intact; hostile zips (path traversal, links,
encryption, too many entries, zip bombs, a DOCTYPE in exchange.xml) are refused before anything is read.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import datetime
import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET  # noqa: S405  # nosec B405  # DOCTYPE/entities refused before parsing

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from . import audit, filing, tmf
from .audit_views import csv_cell
from .models import AuditEntry, TmfDocument, TmfLevel, TrialPage

NAMESPACE = "https://tmfrefmodel.com/ems"
EXCHANGE_XML = "exchange.xml"
EXPORTING_SYSTEM = "TrialDocs"
SPECIFICATION_ID = "TrialDocs-EMS-1"
TMF_RM_VERSION = "3.3.1"

# Hostile packages: refused above these (a TMF of a few thousand documents fits well within them).
MAX_ENTRIES = 20_000
MAX_TOTAL_BYTES = 4 * 1024**3  # uncompressed, all entries together
MAX_ENTRY_BYTES = 512 * 1024**2  # uncompressed, one entry
MAX_INVENTORY_BYTES = 32 * 1024**2  # exchange.xml
MAX_RATIO = 200  # uncompressed / compressed, for an entry over RATIO_FLOOR bytes
RATIO_FLOOR = 1024**2

LEVELS = {TmfLevel.TRIAL: "Trial", TmfLevel.COUNTRY: "Country", TmfLevel.SITE: "Site"}
LEVEL_RANK = {TmfLevel.TRIAL: 0, TmfLevel.COUNTRY: 1, TmfLevel.SITE: 2}
STATES = {TmfDocument.Status.CURRENT: "Current", TmfDocument.Status.DRAFT: "Current",
          TmfDocument.Status.SUPERSEDED: "Superseded", TmfDocument.Status.WITHDRAWN: "Obsolete"}
STATE_STATUS = {"Current": TmfDocument.Status.CURRENT, "Superseded": TmfDocument.Status.SUPERSEDED,
                "Obsolete": TmfDocument.Status.WITHDRAWN}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# ISO 3166-1 alpha-2 → alpha-3 for the countries a European academic trial is likely to run in; any other
# country travels as METADATA COUNTRY only (COUNTRYID is optional in the schema).
_ALPHA3_PAIRS = (
    "AT:AUT BE:BEL BG:BGR HR:HRV CY:CYP CZ:CZE DK:DNK EE:EST FI:FIN FR:FRA DE:DEU GR:GRC HU:HUN IE:IRL IT:ITA "
    "LV:LVA LT:LTU LU:LUX MT:MLT NL:NLD PL:POL PT:PRT RO:ROU SK:SVK SI:SVN ES:ESP SE:SWE IS:ISL LI:LIE NO:NOR "
    "CH:CHE GB:GBR MC:MCO AD:AND SM:SMR VA:VAT US:USA CA:CAN AU:AUS NZ:NZL JP:JPN CN:CHN BR:BRA MX:MEX AR:ARG "
    "IL:ISR TR:TUR MA:MAR TN:TUN DZ:DZA SN:SEN CI:CIV ZA:ZAF IN:IND KR:KOR UA:UKR RS:SRB"
)
ALPHA3 = dict(pair.split(":") for pair in _ALPHA3_PAIRS.split())
ALPHA2 = {three: two for two, three in ALPHA3.items()}

COLUMNS = ("zone", "section", "artifact_number", "artifact_name", "level", "country", "site", "title",
           "document_date", "version", "status", "file_name", "sha256", "filed_at")


def _column_labels() -> dict[str, str]:
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
        "file_name": pgettext("TMF index column", "File name"),
        "sha256": pgettext("TMF index column", "SHA-256"),
        "filed_at": pgettext("TMF index column", "Filed at (UTC)"),
    }


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")


# --- Index ------------------------------------------------------------------------------------------------------

def ordered(documents: Iterable[TmfDocument]) -> list[TmfDocument]:
    """Documents in the one stable order of indexes and packages: artifact, level, place, date, version, title."""
    documents = list(documents)
    return sorted(documents, key=lambda d: (
        d.artifact.number, LEVEL_RANK.get(d.level, 9), d.country, d.site.code if d.site_id else "",
        d.document_date, d.version, d.title, d.status, d.pk))


def _documents(trial: TrialPage):
    return TmfDocument.objects.filter(trial=trial).select_related("artifact__section__zone", "site", "trial")


def index_rows(trial: TrialPage, documents: Iterable[TmfDocument] | None = None) -> list[dict[str, str]]:
    """One row per document (all of the trial's when `documents` is None), every value a string, in `ordered`
    order. The SHA-256 is that of the bytes a reader downloads (`filing.content`)."""
    documents = _documents(trial) if documents is None else documents
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
            "file_name": data.filename,
            "sha256": hashlib.sha256(data.data).hexdigest(),
            "filed_at": _utc(document.filed_at),
        })
    return rows


def write_index(rows: list[dict[str, str]], fmt: str, out) -> None:
    """Write the index as `csv` (UTF-8 with a byte-order mark, for Excel) or `xlsx`, to a path or a binary file.

    Every cell is text, and one starting like a formula (= + - @ tab CR) gets a leading quote, in both formats.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(_("Unknown index format %(format)s: use csv or xlsx.") % {"format": fmt})
    labels = _column_labels()
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
        _write_atomically(Path(out), lambda handle: handle.write(data))


def _write_atomically(path: Path, write: Callable) -> None:
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
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "TMF"
    workbook.properties.creator = EXPORTING_SYSTEM
    for number, values in enumerate([header, *([row.get(name, "") for name in COLUMNS] for row in rows)], 1):
        for column, value in enumerate(values, 1):
            cell = sheet.cell(row=number, column=column)
            cell.value = csv_cell(value)
            cell.data_type = TYPE_STRING  # never a formula, whatever openpyxl would guess
            if number == 1:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


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


def _sub(parent: ET.Element, name: str, text: str = "", **attributes) -> ET.Element:
    element = ET.SubElement(parent, _q(name), attributes)
    element.text = text
    return element


def _object_element(batch: ET.Element, document: TmfDocument, *, path: str, name: str, data: bytes) -> None:
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
    _sub(obj, "OBJECTVERSION", document.version)
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
        _sub(record, "DATETIMESTAMP", _utc(entry.timestamp))
        _sub(record, "USERREF", entry.actor_label or audit.SYSTEM_ACTOR)
        _sub(record, "AUDITENTRYTYPE", _entry_type(entry.action))
        _sub(record, "AUDITEVENT", entry.action)
    for key, value in (("ARTIFACTNAME", document.artifact.name), ("COUNTRY", document.country),
                       ("STATUS", document.status), ("DOCUMENTDATE", document.document_date.isoformat()),
                       ("SERIES", document.series), ("FILESIZE", str(len(data))), ("SHA256", digest)):
        _sub(obj, "METADATA", value, NAME=key)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _zip_info(name: str, moment: datetime.datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def export_package(trial: TrialPage, out_path, *, user=None,
                   progress: Callable[[int, int], None] | None = None) -> ExportSummary:
    """Write the trial's whole TMF as an EMS zip at `out_path`, atomically: the zip is written beside it under a
    temporary name and renamed at the end, so a failure leaves no partial package. Audited."""
    from django.utils import timezone

    out_path = Path(out_path)
    documents = ordered(_documents(trial))
    total = len(documents)
    exported_at = timezone.now().replace(microsecond=0)
    ET.register_namespace("", NAMESPACE)
    batch = ET.Element(_q("BATCH"), {
        "STUDYID": trial.nct_number, "STUDYSYSTEMID": trial.nct_number, "TRANSFERSOURCEID": EXPORTING_SYSTEM,
        "TRANSFERID": exported_at.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S"),
        "SPECIFICATIONID": SPECIFICATION_ID, "TMFRMVERSION": TMF_RM_VERSION})
    for key, value in (("SPONSOR", trial.sponsor_name), ("EUCTNUMBER", trial.eu_ct_number or ""),
                       ("EXPORTEDAT", _utc(exported_at)), ("EXPORTINGSYSTEM", EXPORTING_SYSTEM),
                       ("TMFRMVERSION", TMF_RM_VERSION), ("OBJECTCOUNT", str(total))):
        _sub(batch, "METADATA", value, NAME=key)

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w") as package:
            taken: dict[str, set[str]] = {}
            for done, document in enumerate(documents, 1):
                content = filing.content(document)
                folder = _folder(document)
                name = _file_name(document, content.filename, taken.setdefault(folder.casefold(), set()))
                path = f"{folder}/{name}"
                package.writestr(_zip_info(path, exported_at), content.data)
                _object_element(batch, document, path=path, name=name, data=content.data)
                if progress is not None:
                    progress(done, total)
            ET.indent(batch)
            xml = ET.tostring(batch, encoding="utf-8", xml_declaration=True)
            package.writestr(_zip_info(EXCHANGE_XML, exported_at), xml + b"\n")

    _write_atomically(out_path, write)
    summary = ExportSummary(count=total, sha256=_file_sha256(out_path), path=str(out_path),
                            size=out_path.stat().st_size)
    audit.record(actor=user, action="tmf.package_exported", obj=trial, changes={
        "documents": [None, total], "sha256": [None, summary.sha256], "file": [None, out_path.name]})
    return summary


# --- Reading a package --------------------------------------------------------------------------------------

@dataclass
class PackageObject:
    """One OBJECT of exchange.xml, as read."""

    object_id: str
    level: str
    country: str
    site_code: str
    artifact_number: str
    version: str
    state: str
    title: str
    document_date: datetime.date | None
    file_name: str
    path: str
    sha256: str
    size: int | None
    status: str
    series: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    study_id: str
    objects: list[PackageObject]


def _unsafe_name(name: str) -> bool:
    parts = name.split("/")
    return (not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name)
            is not None or any(part in ("..", ".") for part in parts) or len(name) > 1024)


def _container_problems(package: zipfile.ZipFile) -> list[str]:
    """Why the zip itself is refused, before any content is read."""
    entries = package.infolist()
    if len(entries) > MAX_ENTRIES:
        return [_("The package has too many entries (%(count)d, at most %(max)d).")
                % {"count": len(entries), "max": MAX_ENTRIES}]
    problems, total, seen = [], 0, set()
    for info in entries:
        name = info.filename
        if _unsafe_name(name):
            problems.append(_("Unsafe path in the package: %(name)s.") % {"name": name[:200]})
            continue
        if name.casefold() in seen:
            problems.append(_("The package holds %(name)s twice.") % {"name": name})
        seen.add(name.casefold())
        if info.flag_bits & 0x1:
            problems.append(_("Encrypted entry in the package: %(name)s.") % {"name": name})
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            problems.append(_("Symbolic link in the package: %(name)s.") % {"name": name})
        if info.file_size > MAX_ENTRY_BYTES:
            problems.append(_("%(name)s is too large once uncompressed.") % {"name": name})
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            problems.append(_("%(name)s is compressed suspiciously well (a zip bomb?).") % {"name": name})
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        problems.append(_("The package is too large once uncompressed (%(size)d MB, at most %(max)d MB).")
                        % {"size": total // 1024**2, "max": MAX_TOTAL_BYTES // 1024**2})
    return problems


def _read_inventory_bytes(package: zipfile.ZipFile) -> bytes:
    try:
        info = package.getinfo(EXCHANGE_XML)
    except KeyError:
        raise ValidationError(_("The package has no exchange.xml at its root.")) from None
    if info.file_size > MAX_INVENTORY_BYTES:
        raise ValidationError(_("exchange.xml is too large."))
    with package.open(info) as handle:
        return handle.read(MAX_INVENTORY_BYTES + 1)


def _parse_xml(raw: bytes) -> ET.Element:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(_("exchange.xml is not UTF-8.")) from None
    head = text[:200].lstrip("\ufeff")
    declared = re.match(r"<\?xml[^>]*encoding=[\"']([^\"']+)[\"']", head)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ValidationError(_("exchange.xml is not UTF-8."))
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise ValidationError(_("exchange.xml declares a DOCTYPE or entities, which are refused."))
    try:
        root = ET.fromstring(raw)  # noqa: S314  # nosec B314  # no DOCTYPE, hence no entity can be declared
    except ET.ParseError as error:
        raise ValidationError(_("exchange.xml is not well-formed XML (%(error)s).") % {"error": error}) from None
    if root.tag != _q("BATCH"):
        raise ValidationError(_("exchange.xml is not an eTMF-EMS inventory (no BATCH in the EMS namespace)."))
    return root


def _text(element: ET.Element, name: str) -> str:
    child = element.find(_q(name))
    return (child.text or "").strip() if child is not None else ""


def _metadata(element: ET.Element) -> dict[str, str]:
    return {m.get("NAME", ""): (m.text or "").strip() for m in element.findall(_q("METADATA"))}


def _date(ems: str, iso: str) -> datetime.date | None:
    with contextlib.suppress(ValueError):
        return datetime.date.fromisoformat(iso)
    match = re.fullmatch(r"(\d{2})-([A-Za-z]{3})-(\d{4})", ems)
    if match and match.group(2).upper() in MONTHS:
        with contextlib.suppress(ValueError):
            return datetime.date(int(match.group(3)), MONTHS.index(match.group(2).upper()) + 1,
                                 int(match.group(1)))
    return None


def _sha256_of(integrity: str, declared: str) -> str:
    if re.fullmatch(r"[0-9a-fA-F]{64}", declared):
        return declared.lower()
    if integrity.lower().startswith("sha256-"):
        with contextlib.suppress(binascii.Error, ValueError):
            raw = base64.b64decode(integrity[7:], validate=True)
            if len(raw) == 32:
                return raw.hex()
    return ""


def _read_object(element: ET.Element) -> PackageObject:
    meta = _metadata(element)
    file_element = element.find(_q("FILE"))
    file_element = file_element if file_element is not None else ET.Element("FILE")
    object_id = _text(element, "OBJECTID") or "?"
    problems = []
    level = {label: code for code, label in LEVELS.items()}.get(_text(element, "OBJECTLEVEL"), "")
    if not level:
        problems.append(_("Object %(id)s: unknown level %(level)s.")
                        % {"id": object_id, "level": _text(element, "OBJECTLEVEL") or "—"})
    country = meta.get("COUNTRY") or ALPHA2.get(_text(element, "COUNTRYID"), "")
    state = _text(element, "OBJECTVERSIONSTATE")
    status = meta.get("STATUS", "")
    if status not in TmfDocument.Status.values:
        status = STATE_STATUS.get(state, "")
    if not status:
        problems.append(_("Object %(id)s: unknown state %(state)s.") % {"id": object_id, "state": state or "—"})
    document_date = _date(_text(element, "ARTIFACTDATE"), meta.get("DOCUMENTDATE", ""))
    if document_date is None:
        problems.append(_("Object %(id)s: no valid document date.") % {"id": object_id})
    size = meta.get("FILESIZE", "")
    path = _text(file_element, "CONTENTURL")
    sha256 = _sha256_of(_text(file_element, "INTEGRITY"), meta.get("SHA256", ""))
    if not path or _unsafe_name(path):
        problems.append(_("Object %(id)s: missing or unsafe file path.") % {"id": object_id})
    if not sha256:
        problems.append(_("Object %(id)s: no SHA-256 checksum.") % {"id": object_id})
    return PackageObject(
        object_id=object_id, level=level, country=country, site_code=_text(element, "SITEID"),
        artifact_number=_text(element, "ARTIFACTNUMBER"), version=_text(element, "OBJECTVERSION"), state=state,
        title=_text(element, "OBJECTTITLE"), document_date=document_date,
        file_name=_text(file_element, "FILENAME") or path.rsplit("/", 1)[-1], path=path, sha256=sha256,
        size=int(size) if size.isdigit() else None, status=status, series=meta.get("SERIES", ""),
        problems=problems)


def _inventory(package: zipfile.ZipFile) -> Inventory:
    root = _parse_xml(_read_inventory_bytes(package))
    return Inventory(study_id=root.get("STUDYID", ""),
                     objects=[_read_object(element) for element in root.findall(_q("OBJECT"))])


def _hash_entry(package: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with package.open(name) as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _open(path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(_("This file is not a readable zip package.")) from None


def verify_package(path) -> list[str]:
    """What is wrong with the package at `path`: an unsafe container, a missing or malformed exchange.xml, a
    file whose size or SHA-256 differs from the inventory, a file not in the inventory or an inventory entry
    without its file. Empty when the package is intact."""
    try:
        package = _open(path)
    except ValidationError as error:
        return list(error.messages)
    with package:
        problems = _container_problems(package)
        if problems:
            return problems
        try:
            inventory = _inventory(package)
        except ValidationError as error:
            return list(error.messages)
        if not inventory.objects:
            problems.append(_("exchange.xml lists no document."))
        entries = {info.filename: info for info in package.infolist() if not info.is_dir()}
        listed = set()
        for item in inventory.objects:
            problems.extend(item.problems)
            if not item.path or _unsafe_name(item.path):
                continue
            if item.path in listed:
                problems.append(_("%(path)s is listed twice in exchange.xml.") % {"path": item.path})
                continue
            listed.add(item.path)
            if item.path not in entries:
                problems.append(_("%(path)s is listed in exchange.xml but missing from the package.")
                                % {"path": item.path})
                continue
            try:
                digest, size = _hash_entry(package, item.path)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                problems.append(_("%(path)s cannot be read (damaged).") % {"path": item.path})
                continue
            if item.size is not None and size != item.size:
                problems.append(_("%(path)s has %(size)d bytes where exchange.xml says %(expected)d.")
                                % {"path": item.path, "size": size, "expected": item.size})
            if item.sha256 and digest != item.sha256:
                problems.append(_("%(path)s does not match its SHA-256 checksum in exchange.xml.")
                                % {"path": item.path})
        for name in sorted(set(entries) - listed - {EXCHANGE_XML}):
            problems.append(_("%(path)s is in the package but not listed in exchange.xml.") % {"path": name})
    return problems


# --- Import -------------------------------------------------------------------------------------------------

def import_package(path, *, trial: TrialPage, actor) -> list[TmfDocument]:
    """File every document of an intact package in `trial`, as uploaded documents, in one transaction with
    its audit entries. Refused whole (ValidationError, nothing written) when the package is not intact, names
    an artifact the Reference Model lacks or a site code the trial does not have."""
    problems = verify_package(path)
    if problems:
        raise ValidationError(problems)
    with _open(path) as package:
        inventory = _inventory(package)
        sites = {site.code: site for site in trial.sites.all()}
        unknown_sites = sorted({item.site_code or "—" for item in inventory.objects
                                if item.level == TmfLevel.SITE and item.site_code not in sites})
        if unknown_sites:
            raise ValidationError(_("These site codes are not sites of %(trial)s: %(codes)s.")
                                  % {"trial": trial.nct_number, "codes": ", ".join(unknown_sites)})
        prepared, problems = [], []
        for item in inventory.objects:
            try:
                artifact = tmf.artifact(item.artifact_number)
            except tmf.UnknownTmfArtifactError:
                problems.append(_("Object %(id)s: %(number)s is not an artifact of the TMF Reference Model.")
                                % {"id": item.object_id, "number": item.artifact_number or "—"})
                continue
            site = sites.get(item.site_code) if item.level == TmfLevel.SITE else None
            country = item.country or (site.country if site else "")
            if item.level != TmfLevel.TRIAL and not re.fullmatch(r"[A-Z]{2}", country):
                problems.append(_("Object %(id)s: a country- or site-level document needs its country.")
                                % {"id": item.object_id})
                continue
            if not item.title:
                problems.append(_("Object %(id)s has no title.") % {"id": item.object_id})
                continue
            prepared.append((item, artifact, site, country))
        if problems:
            raise ValidationError(problems)
        return _write_imported(package, prepared, trial=trial, actor=actor, path=path, study_id=inventory.study_id)


def _write_imported(package: zipfile.ZipFile, prepared: list, *, trial, actor, path, study_id) -> list[TmfDocument]:
    user = actor if getattr(actor, "is_authenticated", False) else None
    stored: list[TmfDocument] = []
    package_digest = _file_sha256(Path(path))
    try:
        with transaction.atomic():
            for item, artifact, site, country in prepared:
                data = package.read(item.path)
                if hashlib.sha256(data).hexdigest() != item.sha256:  # changed since verification
                    raise ValidationError(_("%(path)s does not match its SHA-256 checksum in exchange.xml.")
                                          % {"path": item.path})
                name = get_valid_filename(item.file_name.rsplit("/", 1)[-1])[:200] or "document"
                document = TmfDocument(
                    trial=trial, artifact=artifact, level=item.level, country=country, site=site,
                    title=item.title[:255], document_date=item.document_date, version=item.version[:20],
                    status=item.status, series=item.series[:120], file_name=name, sha256=item.sha256,
                    filed_by=user, search_text=item.title)
                document.file.save(name, ContentFile(data), save=False)
                stored.append(document)
                document.save()
                audit.record(actor=actor, action="tmf.document_imported", obj=document, changes={
                    "artifact": [None, artifact.number], "level": [None, item.level],
                    "site": [None, site.code if site else ""], "country": [None, country],
                    "title": [None, document.title], "version": [None, document.version],
                    "status": [None, document.status], "document_date": [None, document.document_date],
                    "file": [None, name], "sha256": [None, document.sha256],
                    "source": [None, f"{study_id} {item.object_id}"]})
            audit.record(actor=actor, action="tmf.package_imported", obj=trial, changes={
                "documents": [None, len(stored)], "package_sha256": [None, package_digest],
                "source_study": [None, study_id], "file": [None, Path(str(path)).name]})
    except BaseException:
        for document in stored:
            if document.file:
                document.file.delete(save=False)
        raise
    return stored
