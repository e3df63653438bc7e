"""A trial's TMF out and in: an index (CSV, Excel) and eTMF Exchange Mechanism Standard (EMS) packages.

`exchange.xml` follows the official EMS schema, `TmfReferenceModelExchange.xsd` (namespace
`https://tmfrefmodel.com/ems`), shipped unmodified in `tmf_schema/` with its source: every export is validated
against it before it is written, every package before anything is read from it. Where the schema spells an
element differently from the prose of the standard (`RENTENTIONDATE`, `USEROID`), the schema wins. What the schema
has no element for travels in its extension point, `<METADATA NAME="…">` at the end of each OBJECT (the schema has
none on BATCH). A package is a zip: each document's file in a folder `zone/section/artifact/level/`, and
`exchange.xml` at the root:

    <BATCH xmlns="https://tmfrefmodel.com/ems" STUDYID="NCT…" STUDYSYSTEMID="NCT…" TRANSFERSOURCEID="TrialDocs"
           TRANSFERID="20260101120000" SPECIFICATIONID="TrialDocs-EMS-1" TMFRMVERSION="3.3.1">
      <OBJECT>                                    one per TmfDocument, in `ordered()` order
        <OBJECTID>TD-<pk></OBJECTID>
        <OBJECTLEVEL>Trial|Country|Site</OBJECTLEVEL>
        <COUNTRYID>FRA</COUNTRYID>                ISO 3166 alpha-3, when known (the alpha-2 code: METADATA COUNTRY)
        <SITEID>DIJ</SITEID>                      site-level documents: the site code
        <UNIQUEID>…</UNIQUEID>                    the Reference Model's unique ID of the artifact
        <ARTIFACTNUMBER>02.01.02</ARTIFACTNUMBER>
        <OBJECTVERSION>1.0</OBJECTVERSION>        "-" when the document has no version (the schema wants text)
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
        <METADATA NAME="ARTIFACTNAME|COUNTRY|STATUS|DOCUMENTDATE|VERSION|SERIES|FILESIZE|SHA256|SPONSOR|EUCTNUMBER">
      </OBJECT>
    </BATCH>

Deliberate gaps: no `<SIGNATURE>` (signed records carry their PAdES signature inside the PDF), no retention or
expiry date (the product keeps none); the TMF holds no participant identity, so neither does a package.

Import reads packages of other systems built to the schema too: INTEGRITY in any SRI form (sha256/384/512, base64
or hex), CONTENTURL percent-encoded or not, no METADATA needed (title from OBJECTTITLE, else SUBARTIFACT, else the
file name; version from OBJECTVERSION). It is refused whole, nothing written, unless `verify_package` finds the
package intact and valid; hostile zips (path traversal, links, encryption, too many entries, zip bombs, a DOCTYPE
or entities, an exchange.xml too large or too deep, a file outside the package) are refused before any file is
read. Of an intact package, the objects TrialDocs cannot file (`filing_problems`: unknown artifact, a level the
Reference Model does not file it at, no date, several files, a file type TrialDocs does not file) are listed with
their reason and the others filed. Kept from a foreign object: level, country, site (by SITEID), artifact, version,
state, title, date, file; not kept: PERSONNAME, ORGANIZATIONNAME, language, translation/copy flags, expiry and
retention dates, signatures and audit records (the copy's history starts at its import, audited).
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
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET  # noqa: S405  # nosec B405  # writes only; packages are read with lxml

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from lxml import etree

from cms.cells import csv_cell

from . import audit, filing
from .models import AuditEntry, QcStatus, TmfArtifact, TmfDocument, TmfLevel, TrialPage

NAMESPACE = "https://tmfrefmodel.com/ems"
EXCHANGE_XML = "exchange.xml"
EXPORTING_SYSTEM = "TrialDocs"
SPECIFICATION_ID = "TrialDocs-EMS-1"
TMF_RM_VERSION = "3.3.1"
NO_VERSION = "-"  # OBJECTVERSION may not be empty; a document without a version says so (METADATA VERSION is "")
# The official EMS schema, shipped with the code (see tmf_schema/SOURCES.md): every export is validated against it
# before it is written, every package against it before anything is read from it.
SCHEMA_FILE = Path(__file__).resolve().parent / "tmf_schema" / "TmfReferenceModelExchange.xsd"
MAX_SCHEMA_ERRORS = 20
SRI_ALGORITHMS = {"sha256": 32, "sha384": 48, "sha512": 64}  # Subresource Integrity: algorithm → digest bytes
_schema_cache = threading.local()

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
          TmfDocument.Status.APPROVED: "Current",
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
           "document_date", "version", "status", "qc_status", "file_name", "sha256", "filed_at")


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
        "qc_status": pgettext("TMF index column", "QC status"),  # "QC" in every language (outside checks read it)
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
            "qc_status": document.qc_status,
            "file_name": data.filename,
            "sha256": hashlib.sha256(data.data).hexdigest(),
            "filed_at": _utc(document.filed_at),
        })
    return rows


def write_index(rows: list[dict[str, str]], fmt: str, out) -> None:
    """Write the index as `csv` (UTF-8 with a byte-order mark, for Excel) or `xlsx`, to a path or a binary file.

    Every cell is text. In CSV, one starting like a formula (= + - @ tab CR) gets a leading quote; XLSX has cell
    types, so there it is a text cell as filed, never a formula (`spreadsheets.append_row`).
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
    from openpyxl.styles import Font

    from .spreadsheets import append_row

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
    element = ET.SubElement(parent, _q(name), attributes)
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
        _sub(record, "DATETIMESTAMP", _utc(entry.timestamp))
        _sub(record, "USERREF", entry.actor_label or audit.SYSTEM_ACTOR)
        _sub(record, "AUDITENTRYTYPE", _entry_type(entry.action))
        _sub(record, "AUDITEVENT", entry.action)
    for key, value in (("ARTIFACTNAME", document.artifact.name), ("COUNTRY", document.country),
                       ("STATUS", document.status), ("DOCUMENTDATE", document.document_date.isoformat()),
                       ("VERSION", document.version), ("SERIES", document.series), ("FILESIZE", str(len(data))),
                       ("SHA256", digest), *trial_metadata):
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
    documents = ordered(_documents(trial))
    total = len(documents)
    if not total:
        raise ValidationError(empty_tmf_message(trial))
    exported_at = timezone.now().replace(microsecond=0)
    ET.register_namespace("", NAMESPACE)
    batch = ET.Element(_q("BATCH"), {
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
            errors = schema_errors(etree.fromstring(xml, _parser()))
            if errors:  # a fault of this code, never of the data: no package rather than an invalid one
                raise ValueError("The export does not validate against the EMS schema: " + " ".join(errors))
            package.writestr(_zip_info(EXCHANGE_XML, exported_at), xml + b"\n")

    _write_atomically(out_path, write)
    summary = ExportSummary(count=total, sha256=_file_sha256(out_path), path=str(out_path),
                            size=out_path.stat().st_size)
    audit.record(actor=user, action="tmf.package_exported", obj=trial, changes={
        "documents": [None, total], "sha256": [None, summary.sha256], "file": [None, out_path.name]})
    return summary


# --- The schema ---------------------------------------------------------------------------------------------

def _parser() -> etree.XMLParser:
    """A parser that resolves no entity, loads no DTD, never touches the network, and keeps libxml2's limits on
    depth and on the size of one text node (no `huge_tree`)."""
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False,
                           huge_tree=False)


def schema() -> etree.XMLSchema:
    """The official EMS schema, compiled once per thread from the copy shipped in `tmf_schema/` (nothing is
    downloaded; the schema imports nothing)."""
    compiled = getattr(_schema_cache, "schema", None)
    if compiled is None:
        compiled = _schema_cache.schema = etree.XMLSchema(etree.parse(str(SCHEMA_FILE), _parser()))
    return compiled


def schema_errors(root) -> list[str]:
    """Why a parsed exchange.xml does not validate against the EMS schema (empty when it does), one message per
    error with its line, at most MAX_SCHEMA_ERRORS of them."""
    validator = schema()
    if validator.validate(root):
        return []
    log = list(validator.error_log)
    errors = [_("exchange.xml does not follow the EMS schema (TmfReferenceModelExchange.xsd), line %(line)d: "
                "%(message)s") % {"line": error.line, "message": error.message.replace(f"{{{NAMESPACE}}}", "")}
              for error in log[:MAX_SCHEMA_ERRORS]]
    if len(log) > MAX_SCHEMA_ERRORS:
        errors.append(_("… and %(count)d more schema errors.") % {"count": len(log) - MAX_SCHEMA_ERRORS})
    return errors


# --- Reading a package --------------------------------------------------------------------------------------

@dataclass
class PackageFile:
    """One FILE of an OBJECT: where it is in the zip, its name, and the digests its INTEGRITY names."""

    path: str
    name: str
    digests: dict[str, str]


@dataclass
class PackageObject:
    """One OBJECT of exchange.xml, as read. `problems` make the whole package unusable (a file that cannot be
    checked); whether TrialDocs can file the object is `filing_problems`'s answer."""

    object_id: str
    level: str
    level_label: str
    country: str
    country_id: str
    site_code: str
    artifact_number: str
    version: str
    state: str
    title: str
    document_date: datetime.date | None
    files: list[PackageFile]
    size: int | None
    status: str
    series: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def file(self) -> PackageFile:
        return self.files[0]


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
        raw = handle.read(MAX_INVENTORY_BYTES + 1)
    if len(raw) > MAX_INVENTORY_BYTES:  # the zip's directory understated the size
        raise ValidationError(_("exchange.xml is too large."))
    return raw


def _parse_xml(raw: bytes):
    """exchange.xml parsed and validated against the EMS schema, or ValidationError saying why not.

    A DOCTYPE or an entity declaration is refused before parsing (no entity expansion, no external entity, no
    DTD); the parser itself resolves none either and keeps libxml2's depth and size limits."""
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
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as error:
        raise ValidationError(_("exchange.xml is not well-formed XML (%(error)s).") % {"error": error}) from None
    if root.tag != _q("BATCH"):
        raise ValidationError(_("exchange.xml is not an eTMF-EMS inventory (no BATCH in the EMS namespace)."))
    errors = schema_errors(root)
    if errors:
        raise ValidationError(errors)
    return root


def _text(element, name: str) -> str:
    child = element.find(_q(name))
    return (child.text or "").strip() if child is not None else ""


def _metadata(element) -> dict[str, str]:
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


def integrity_digests(value: str) -> dict[str, str]:
    """The digests (algorithm → hex) an INTEGRITY value names. The schema asks for Subresource Integrity:
    `sha256-<base64>` (or sha384, sha512; several separated by spaces; options after `?` ignored). A hex digest
    after the algorithm is read too, since some systems write it so. Anything else names no digest."""
    digests = {}
    for token in value.split():
        algorithm, _sep, encoded = token.partition("-")
        algorithm = algorithm.lower()
        if algorithm not in SRI_ALGORITHMS:
            continue
        encoded = encoded.split("?", 1)[0]
        length = SRI_ALGORITHMS[algorithm]
        raw = None
        if len(encoded) == 2 * length and re.fullmatch(r"[0-9a-fA-F]+", encoded):
            raw = bytes.fromhex(encoded)
        else:
            with contextlib.suppress(binascii.Error, ValueError):
                raw = base64.b64decode(encoded, validate=True)
        if raw is not None and len(raw) == length:
            digests[algorithm] = raw.hex()
    return digests


def _has_scheme(url: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", url) is not None and not re.match(r"^[A-Za-z]:", url)


def _read_file(element, object_id: str, meta: dict[str, str], problems: list[str]) -> PackageFile:
    url = _text(element, "CONTENTURL")
    path = url
    if _has_scheme(url):
        problems.append(_("Object %(id)s: its file is outside the package (%(url)s); only files inside the package "
                          "are read.") % {"id": object_id, "url": url[:200]})
        path = ""
    elif not url or _unsafe_name(url):
        problems.append(_("Object %(id)s: missing or unsafe file path.") % {"id": object_id})
        path = ""
    integrity = _text(element, "INTEGRITY")
    digests = integrity_digests(integrity)
    declared = meta.get("SHA256", "")
    if (re.fullmatch(r"[0-9a-fA-F]{64}", declared)
            and digests.setdefault("sha256", declared.lower()) != declared.lower()):
        problems.append(_("Object %(id)s: INTEGRITY and METADATA SHA256 give two different checksums.")
                            % {"id": object_id})
    if not digests:
        problems.append(_("Object %(id)s: INTEGRITY %(value)s gives no SHA-256, SHA-384 or SHA-512 checksum, so its "
                          "file cannot be checked.") % {"id": object_id, "value": integrity[:100] or "—"})
    return PackageFile(path=path, name=_text(element, "FILENAME") or url.rsplit("/", 1)[-1], digests=digests)


def _read_object(element) -> PackageObject:
    meta = _metadata(element)
    object_id = _text(element, "OBJECTID") or "?"
    problems: list[str] = []
    level_label = _text(element, "OBJECTLEVEL")
    level = {label: code for code, label in LEVELS.items()}.get(level_label, "")
    country_id = _text(element, "COUNTRYID")
    country = meta.get("COUNTRY") or ALPHA2.get(country_id, "")
    state = _text(element, "OBJECTVERSIONSTATE")
    status = meta.get("STATUS", "")
    if status not in TmfDocument.Status.values:
        status = STATE_STATUS.get(state, "")
    if not status:
        problems.append(_("Object %(id)s: unknown state %(state)s.") % {"id": object_id, "state": state or "—"})
    file_elements = element.findall(_q("FILE"))
    # METADATA SHA256 (ours) speaks of the object's one file; beside several files it names none of them.
    file_meta = meta if len(file_elements) == 1 else {}
    files = [_read_file(file_element, object_id, file_meta, problems) for file_element in file_elements]
    size = meta.get("FILESIZE", "")
    version = meta["VERSION"] if "VERSION" in meta else _text(element, "OBJECTVERSION")
    title = _text(element, "OBJECTTITLE") or _text(element, "SUBARTIFACT") or (files[0].name if files else "")
    return PackageObject(
        object_id=object_id, level=level, level_label=level_label, country=country, country_id=country_id,
        site_code=_text(element, "SITEID"), artifact_number=_text(element, "ARTIFACTNUMBER"), version=version,
        state=state, title=title, document_date=_date(_text(element, "ARTIFACTDATE"), meta.get("DOCUMENTDATE", "")),
        files=files, size=int(size) if size.isdigit() and len(files) == 1 else None, status=status,
        series=meta.get("SERIES", ""), problems=problems)


def _inventory(package: zipfile.ZipFile) -> Inventory:
    root = _parse_xml(_read_inventory_bytes(package))
    return Inventory(study_id=root.get("STUDYID", ""),
                     objects=[_read_object(element) for element in root.findall(_q("OBJECT"))])


def _hash_entry(package: zipfile.ZipFile, name: str, algorithms) -> tuple[dict[str, str], int]:
    hashers, size = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}, 0
    with package.open(name) as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            for hasher in hashers.values():
                hasher.update(chunk)
            size += len(chunk)
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}, size


def _open(path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(_("This file is not a readable zip package.")) from None


def _resolve_paths(inventory: Inventory, entries) -> None:
    """CONTENTURL is a URL: a path written percent-encoded (`Medical%20License/…`) names the entry it decodes to."""
    for item in inventory.objects:
        for package_file in item.files:
            if package_file.path and package_file.path not in entries:
                decoded = unquote(package_file.path)
                if decoded in entries and not _unsafe_name(decoded):
                    package_file.path = decoded


def verify_package(path) -> list[str]:
    """What is wrong with the package at `path`: an unsafe container; a missing, malformed or schema-invalid
    exchange.xml; a file whose size or checksum differs from the inventory, that the inventory gives no usable
    checksum for, or that lies outside the package; a file not in the inventory or an inventory entry without
    its file. Empty when the package is intact and valid."""
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
        entries = {info.filename: info for info in package.infolist() if not info.is_dir()}
        _resolve_paths(inventory, entries)
        listed = set()
        for item in inventory.objects:
            problems.extend(item.problems)
            for package_file in item.files:
                problems.extend(_file_problems(package, package_file, item, entries, listed))
        for name in sorted(set(entries) - listed - {EXCHANGE_XML}):
            problems.append(_("%(path)s is in the package but not listed in exchange.xml.") % {"path": name})
    return problems


def _file_problems(package, package_file: PackageFile, item: PackageObject, entries, listed: set) -> list[str]:
    path = package_file.path
    if not path or not package_file.digests:
        return []
    if path in listed:
        return [_("%(path)s is listed twice in exchange.xml.") % {"path": path}]
    listed.add(path)
    if path not in entries:
        return [_("%(path)s is listed in exchange.xml but missing from the package.") % {"path": path}]
    try:
        digests, size = _hash_entry(package, path, package_file.digests)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return [_("%(path)s cannot be read (damaged).") % {"path": path}]
    problems = []
    if item.size is not None and size != item.size:
        problems.append(_("%(path)s has %(size)d bytes where exchange.xml says %(expected)d.")
                        % {"path": path, "size": size, "expected": item.size})
    if digests != package_file.digests:
        problems.append(_("%(path)s does not match its SHA-256 checksum in exchange.xml.") % {"path": path}
                        if set(package_file.digests) == {"sha256"} else
                        _("%(path)s does not match its checksum in exchange.xml.") % {"path": path})
    return problems


def _artifacts() -> dict[str, TmfArtifact]:
    return {artifact.number: artifact for artifact in TmfArtifact.objects.select_related("section__zone")}


def filing_problems(item: PackageObject, package: zipfile.ZipFile,
                    artifacts: dict[str, TmfArtifact] | None = None) -> list[str]:
    """Why TrialDocs cannot file this object of an intact package, whatever the trial: an artifact the TMF
    Reference Model v3.3.1 lacks, a level at which the Model does not file that artifact, more than one file, a
    country-level object without a country TrialDocs knows, no document date, a file of a type TrialDocs does
    not file or whose content does not match its extension. Each message names the object."""
    from .services.tmf_filing import ALLOWED_TYPES

    labels = {"id": item.object_id, "number": item.artifact_number or "—", "level": item.level_label or "—"}
    artifacts = _artifacts() if artifacts is None else artifacts
    artifact = artifacts.get(item.artifact_number)
    if artifact is None:
        return [_("Object %(id)s: %(number)s is not an artifact of the TMF Reference Model 3.3.1.") % labels]
    allowed = {TmfLevel.TRIAL: artifact.trial_level, TmfLevel.COUNTRY: artifact.country_level,
               TmfLevel.SITE: artifact.site_level}
    if not item.level:
        return [_("Object %(id)s: unknown level %(level)s.") % labels]
    if not allowed[item.level]:
        return [_("Object %(id)s: the TMF Reference Model does not file %(number)s at %(level)s level.") % labels]
    problems = []
    if len(item.files) != 1:
        problems.append(_("Object %(id)s has %(count)d files; TrialDocs files one file per document.")
                        % {**labels, "count": len(item.files)})
    if item.level == TmfLevel.COUNTRY and not re.fullmatch(r"[A-Z]{2}", item.country):
        problems.append(_("Object %(id)s: a country-level document needs a country TrialDocs knows (COUNTRYID "
                          "%(country)s).") % {**labels, "country": item.country_id or "—"})
    if item.document_date is None:
        problems.append(_("Object %(id)s has no valid ARTIFACTDATE, and TrialDocs files every document with its "
                          "date.") % labels)
    if len(item.files) == 1:
        name = item.file.name or item.file.path
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in ALLOWED_TYPES:
            problems.append(_("Object %(id)s: %(name)s is not a type TrialDocs files (PDF, Word .docx, Excel .xlsx, "
                              "OpenDocument text, PNG, JPEG or text).") % {**labels, "name": name[:200]})
        else:
            with package.open(item.file.path) as handle:
                head = handle.read(16)
            if not head.startswith(ALLOWED_TYPES[extension]) or (extension == "txt" and b"\x00" in head):
                problems.append(_("Object %(id)s: the content of %(name)s does not match its extension.")
                                % {**labels, "name": name[:200]})
    return problems


# --- Import -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    """What an import filed, and the objects it did not file, one message each naming the object and why."""

    documents: list[TmfDocument]
    refused: list[str]


def import_package(path, *, trial: TrialPage, actor) -> ImportResult:
    """File the documents of an intact, schema-valid package in `trial`, as uploaded documents, in one
    transaction with their audit entries, and list the objects it cannot file (`filing_problems`).

    Refused whole (ValidationError, nothing written) when the package is not intact or not valid
    (`verify_package`), names a site code the trial does not have, or holds no object that can be filed."""
    problems = verify_package(path)
    if problems:
        raise ValidationError(problems)
    with _open(path) as package:
        inventory = _inventory(package)
        _resolve_paths(inventory, {info.filename for info in package.infolist() if not info.is_dir()})
        sites = {site.code: site for site in trial.sites.all()}
        unknown_sites = sorted({item.site_code or "—" for item in inventory.objects
                                if item.level == TmfLevel.SITE and item.site_code not in sites})
        if unknown_sites:
            raise ValidationError(_("These site codes are not sites of %(trial)s: %(codes)s.")
                                  % {"trial": trial.nct_number, "codes": ", ".join(unknown_sites)})
        prepared, refused, artifacts = [], [], _artifacts()
        for item in inventory.objects:
            reasons = filing_problems(item, package, artifacts)
            if reasons:
                refused.extend(reasons)
                continue
            site = sites.get(item.site_code) if item.level == TmfLevel.SITE else None
            prepared.append((item, artifacts[item.artifact_number], site, site.country if site else item.country))
        if not prepared:
            raise ValidationError([_("No document of this package can be filed in %(trial)s.")
                                   % {"trial": trial.nct_number}, *refused])
        documents = _write_imported(package, prepared, trial=trial, actor=actor, path=path,
                                    study_id=inventory.study_id, refused=refused)
    return ImportResult(documents=documents, refused=refused)


def _write_imported(package: zipfile.ZipFile, prepared: list, *, trial, actor, path, study_id,
                    refused: list[str]) -> list[TmfDocument]:
    from cms.files import StorageFailed, save_whole

    user = actor if getattr(actor, "is_authenticated", False) else None
    stored: list[TmfDocument] = []
    package_digest = _file_sha256(Path(path))
    try:
        with transaction.atomic():
            for item, artifact, site, country in prepared:
                data = package.read(item.file.path)
                digests = {algorithm: hashlib.new(algorithm, data).hexdigest() for algorithm in item.file.digests}
                if digests != item.file.digests:  # changed since verification
                    raise ValidationError(_("%(path)s does not match its checksum in exchange.xml.")
                                          % {"path": item.file.path})
                name = get_valid_filename(item.file.name.rsplit("/", 1)[-1])[:200] or "document"
                document = TmfDocument(
                    trial=trial, artifact=artifact, level=item.level, country=country, site=site,
                    title=item.title[:255], document_date=item.document_date, version=item.version[:20],
                    status=item.status, series=item.series[:120], file_name=name,
                    sha256=hashlib.sha256(data).hexdigest(), filed_by=user, search_text=item.title,
                    qc_status=QcStatus.PENDING)
                try:
                    save_whole(document.file, name, ContentFile(data))
                except StorageFailed as error:
                    raise ValidationError(_("%(name)s could not be stored (%(error)s); nothing was imported.")
                                          % {"name": name, "error": error}) from error
                stored.append(document)
                document.save()
                audit.record(actor=actor, action="tmf.document_imported", obj=document, changes={
                    "artifact": [None, artifact.number], "level": [None, item.level],
                    "site": [None, site.code if site else ""], "country": [None, country],
                    "title": [None, document.title], "version": [None, document.version],
                    "status": [None, document.status], "document_date": [None, document.document_date],
                    "file": [None, name], "sha256": [None, document.sha256],
                    "source": [None, f"{study_id} {item.object_id}"], "qc_status": [None, document.qc_status]})
            audit.record(actor=actor, action="tmf.package_imported", obj=trial, changes={
                "documents": [None, len(stored)], "package_sha256": [None, package_digest],
                "source_study": [None, study_id], "file": [None, Path(str(path)).name],
                "refused": [None, refused]})
    except BaseException:
        for document in stored:
            if document.file:
                document.file.delete(save=False)
        raise
    return stored


def filing_report(path) -> tuple[int, list[str]]:
    """For a package `verify_package` accepts: how many objects it holds, and why TrialDocs would not file some of
    them (`filing_problems`), whatever the trial. Reads nothing but exchange.xml and the first bytes of files."""
    with _open(path) as package:
        inventory = _inventory(package)
        _resolve_paths(inventory, {info.filename for info in package.infolist() if not info.is_dir()})
        artifacts = _artifacts()
        return len(inventory.objects), [problem for item in inventory.objects
                                        for problem in filing_problems(item, package, artifacts)]
