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

from .common import NAMESPACE, schema, schema_errors
from .ems_export import ExportSummary, empty_tmf_message, export_package
from .ems_import import ImportResult, filing_problems, filing_report, import_package
from .index import COLUMNS, index_rows, ordered, write_index
from .package import Inventory, PackageFile, PackageObject, integrity_digests, verify_package

__all__ = [
    "COLUMNS", "NAMESPACE", "ExportSummary", "ImportResult", "Inventory", "PackageFile", "PackageObject",
    "empty_tmf_message", "export_package", "filing_problems", "filing_report", "import_package", "index_rows",
    "integrity_digests", "ordered", "schema", "schema_errors", "verify_package", "write_index",
]
