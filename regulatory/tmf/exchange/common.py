"""What the index, the export and the import share: the EMS namespace and vocabulary, the levels and states, country
codes, and the official schema every package is validated against."""

from __future__ import annotations

import datetime
import hashlib
import threading
from pathlib import Path

from django.utils.translation import gettext as _
from lxml import etree

from regulatory.models import TmfDocument, TmfLevel

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

def qname(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def utc_iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")


# --- The schema ---------------------------------------------------------------------------------------------

def xml_parser() -> etree.XMLParser:
    """A parser that resolves no entity, loads no DTD, never touches the network, and keeps libxml2's limits on
    depth and on the size of one text node (no `huge_tree`)."""
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False,
                           huge_tree=False)


def schema() -> etree.XMLSchema:
    """The official EMS schema, compiled once per thread from the copy shipped in `tmf_schema/` (nothing is
    downloaded; the schema imports nothing)."""
    compiled = getattr(_schema_cache, "schema", None)
    if compiled is None:
        compiled = _schema_cache.schema = etree.XMLSchema(etree.parse(str(SCHEMA_FILE), xml_parser()))
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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
