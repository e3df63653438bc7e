"""Hostile input (issue 7): every upload, text field, export, identifier, date and request shape an attacker or a
clumsy user controls is refused cleanly — no 500 (the test client re-raises one), a clear message or a 400/403/404,
and nothing written: no row, no audit entry, no file under MEDIA_ROOT.

Hostile EMS zip packages are covered in `regulatory/tests/test_tmf_exchange.py`
(`test_hostile_packages_are_refused_with_nothing_written` and the two tests after it) and the Word package
defences at the library level in `consent/tests/test_docx.py`; here the Word files go through the admin view.
"""

import csv
import datetime
import html
import io
import json
import re
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from consent import services as consent_services
from consent.models import ConsentFormVersionPage, ConsentRecord, Participant
from consent.tests.factories import make_form
from consent.tests.test_record_views import consent_post
from consent.tests.test_records import forms, signature_png  # noqa: F401  (fixtures)
from regulatory.models import AuditEntry, InspectorGrant, TmfArtifact, TmfDocument
from regulatory.tests.factories import PASSWORD
from tests.sharing import shared_fixture

SITES = "/nct07063680/sites"
TMF = "/tmf/NCT07063680/"
IMPORT = "/admin/consent/import/"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "docx"
TRACKED = FIXTURES / "ICH_M11_Template_Draft_2025-01-17_TrackedChanges.docx"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HUGE_ID = "99999999999999999999"
FORMULAS = ['=HYPERLINK("http://x","y")', "+SUM(1,1)", "-2+3", "@cmd", "\t=1"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Every test writes its files in its own folder, so "no new file" is a plain listing."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def files_in(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def snapshot() -> tuple:
    """Row counts of everything a hostile request could write."""
    from wagtail.models import Page

    return (AuditEntry.objects.count(), ConsentRecord.objects.count(), Participant.objects.count(),
            TmfDocument.objects.count(), ConsentFormVersionPage.objects.count(), Page.objects.count(),
            InspectorGrant.objects.count())


def text(response) -> str:
    return response.content.decode()


def assert_escaped(body: str, count: int = 1) -> None:
    assert "<script>alert" not in body
    assert body.count(ESCAPED) >= count


@shared_fixture
def participant(world, forms):  # noqa: F811
    return consent_services.participant_create(actor=world.coordinator_a, site=world.site_a)


def consent_url(participant, version, site: str = "dij") -> str:
    return f"{SITES}/{site}/participants/{participant.code}/consent/{version.pk}/"


# ----------------------------------------------------------------------------------------------------------------
# Word files for the consent-form import (admin view)
# ----------------------------------------------------------------------------------------------------------------

def plain_docx(*paragraphs: str, picture: bool = False) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if picture:
        image = io.BytesIO()
        Image.new("RGB", (40, 40), "red").save(image, format="PNG")
        image.seek(0)
        document.add_picture(image)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def rezip(data: bytes, *, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, content in (add or {}).items():
            target.writestr(zipfile.ZipInfo(name), content)
    return out.getvalue()


def zip_bomb() -> bytes:
    """A real document plus 10 MB of zeros deflated to about 10 kB."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain_docx("Texte"))) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        target.writestr("word/media/bomb.bin", bytes(10 * 1024 * 1024))
    return out.getvalue()


def huge_xml() -> bytes:
    """600,000 XML tags: small once zipped, costly to parse."""
    body = "".join(f"<w:p><w:r><w:t>mot{i}</w:t></w:r></w:p>" for i in range(150_000))
    with zipfile.ZipFile(io.BytesIO(plain_docx("x"))) as archive:
        xml = archive.read("word/document.xml").decode()
    return rezip(plain_docx("x"), replace={"word/document.xml": re.sub(r"<w:body>", "<w:body>" + body, xml).encode()})


def xxe() -> bytes:
    with zipfile.ZipFile(io.BytesIO(plain_docx("x"))) as archive:
        xml = archive.read("word/document.xml").decode()
    xml = xml.replace("?>", '?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', 1)
    xml = xml.replace("<w:t>x</w:t>", "<w:t>&xxe;</w:t>")
    return rezip(plain_docx("x"), replace={"word/document.xml": xml.encode()})


def docm_renamed() -> bytes:
    data = plain_docx("Texte avec macro")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        types = archive.read("[Content_Types].xml").decode()
    types = types.replace("wordprocessingml.document.main+xml", "ms-word.document.macroEnabled.main+xml")
    return rezip(data, replace={"[Content_Types].xml": types.encode()},
                 add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 Sub AutoOpen()"})


WORD_FILES = {
    "docx_not_a_zip": (lambda: b"Ceci n'est pas un document Word.", "pas une archive ZIP"),
    "docx_zip_bomb": (zip_bomb, "bombe de décompression"),
    "docx_huge_xml": (huge_xml, "trop volumineux"),
    "docx_xxe_doctype_entity": (xxe, "DOCTYPE/ENTITY"),
    "docm_renamed_docx_with_macros": (docm_renamed, "macros"),
    "docx_tracked_changes_without_reason": (TRACKED.read_bytes, "10 insertions, 6 suppressions et 8 commentaires"),
    "docx_zero_bytes": (lambda: b"", "vide"),
    "docx_without_any_text": (lambda: plain_docx(), "aucun texte importable"),
    "docx_only_an_image": (lambda: plain_docx(picture=True), "aucun texte importable"),
    "docx_path_traversal_entry": (lambda: rezip(plain_docx("x"), add={"../../../etc/cron.d/evil": b"* * * * * x"}),
                                  "Nom de fichier dangereux"),
}


@pytest.mark.parametrize("title", ["", "Formulaire du patient"], ids=["title to propose", "title confirmed"])
@pytest.mark.parametrize("case", list(WORD_FILES), ids=list(WORD_FILES))
def test_hostile_word_file_is_refused_in_the_admin_import(world, as_user, media, case, title):
    build, message = WORD_FILES[case]
    client = as_user(world.sponsor)
    before = snapshot()
    response = client.post(IMPORT, {"trial": world.trial.pk, "kind": "patient", "language": "fr", "title": title,
                                    "file": SimpleUploadedFile("formulaire.docx", build())})
    assert response.status_code == 200  # the Wagtail admin's way: the form again, the reason under the field
    assert message in html.unescape(text(response))
    assert snapshot() == before
    assert files_in(media) == []


@pytest.mark.parametrize(("number", "message"), [
    ("1.0", "Consentement du patient v1.0 (fr) existe déjà"),
    ("01.0", "Consentement du patient v1.0 (fr) existe déjà"),  # the same version, written otherwise
    ("1.0.0", "Un numéro de version a la forme 2.0"),
    ("v2", "Un numéro de version a la forme 2.0"),
], ids=["existing", "existing written 01.0", "three parts", "letters"])
@pytest.mark.parametrize("title", ["", "Formulaire du patient"], ids=["title to propose", "title confirmed"])
def test_an_existing_or_malformed_version_number_is_a_message_on_the_import_form(world, as_user, media, number,
                                                                                 message, title):
    make_form(trial=world.trial, kind="patient", number="1.0")
    client = as_user(world.sponsor)
    before = snapshot()

    response = client.post(IMPORT, {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                                    "version_number": number, "title": title,
                                    "file": SimpleUploadedFile("formulaire.docx", plain_docx("Texte"))})

    assert response.status_code == 200  # was a 500: 'ImportForm' has no field named 'slug'
    assert message in html.unescape(text(response))
    assert snapshot() == before
    assert files_in(media) == []


def wide_table_docx(columns: int, rows: int) -> bytes:
    document = docx.Document()
    document.add_paragraph("Calendrier des visites")
    table = document.add_table(rows=rows, cols=columns)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"J{c * 7}" if r == 0 else ("X" if (r + c) % 2 else f"Bilan {r}.{c}")
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


@pytest.mark.parametrize(("columns", "rows"), [(28, 19), (40, 6)], ids=["19x28", "40 columns"])
def test_a_version_imported_with_a_table_wider_than_the_page_prints(world, as_user, media, tmp_path, columns, rows):
    client = as_user(world.sponsor)
    response = client.post(IMPORT, {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                                    "title": "Calendrier", "file": SimpleUploadedFile("f.docx",
                                                                                     wide_table_docx(columns, rows))})
    assert response.status_code == 302
    version = ConsentFormVersionPage.objects.get()
    assert f"({rows} lignes × {columns} colonnes" in version.import_notes  # the notes say what printing does

    response = client.get(f"/admin/consent/versions/{version.pk}/pdf/")  # was a 500: negative availWidth

    assert response.status_code == 200
    pdf = b"".join(response.streaming_content)
    path = tmp_path / "draft.pdf"
    path.write_bytes(pdf)
    words = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split()
    expected = {f"J{c * 7}" for c in range(columns)} | {f"{r}.{c}" for r in range(1, rows) for c in range(columns)
                                                         if (r + c) % 2 == 0}
    assert expected <= set(words)  # every cell printed


# ----------------------------------------------------------------------------------------------------------------
# Hostile file names on every upload
# ----------------------------------------------------------------------------------------------------------------

SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


def tmf_post(**overrides):
    data = {"artifact": TmfArtifact.objects.get(number="05.02.04").pk, "level": "site", "country": "FR",
            "title": "CV du Dr Investigateur", "document_date": "2026-02-01", "version": "1", "status": "current",
            "file": SimpleUploadedFile("cv.pdf", PDF, content_type="application/pdf")}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def raw_multipart(fields: dict, files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body written by hand, for file names the test client refuses to build (such as "..")."""
    boundary = "HostileBoundary7MA4YWxk"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    for name, (filename, content) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     "Content-Type: application/pdf\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# name sent → the stored name, or None when the upload must be refused with `message`
TMF_NAMES = {
    "tmf_upload_name_path_traversal": ("../../etc/passwd.pdf", "passwd.pdf"),
    "tmf_upload_name_windows_path_traversal": ("..\\..\\windows\\win.ini.pdf", "win.ini.pdf"),
    "tmf_upload_name_with_nul_byte": ("cv\x00.pdf", "cv.pdf"),
    "tmf_upload_name_300_chars_keeps_its_extension": ("a" * 296 + ".pdf", "a" * 196 + ".pdf"),
    "tmf_upload_name_with_script_tag": ("<script>alert(1)</script>.pdf", "script.pdf"),
    "tmf_upload_name_with_img_onerror": ("<img src=x onerror=alert(1)>.pdf", "img_srcx_onerroralert1.pdf"),
    "tmf_upload_name_rtl_override_hiding_exe_is_refused": ("cv\u202efdp.exe", None),
    "tmf_upload_name_of_symbols_only_is_refused": ("<>*?", None),
}


@pytest.mark.parametrize("case", list(TMF_NAMES), ids=list(TMF_NAMES))
def test_tmf_upload_file_name_is_sanitised_or_refused(world, as_user, media, case):
    sent, stored = TMF_NAMES[case]
    client = as_user(world.sponsor)
    before = snapshot()
    response = client.post(f"{TMF}upload/", tmf_post(site=world.site_a.pk, title="CV", file=SimpleUploadedFile(
        sent, PDF, content_type="application/pdf")))
    if stored is None:
        assert response.status_code == 400
        assert "Seuls les fichiers PDF" in html.unescape(text(response))
        assert snapshot() == before and files_in(media) == []
        return
    assert response.status_code == 302, text(response)[:2000]
    document = TmfDocument.objects.get()
    assert document.file_name == stored and SAFE_NAME.fullmatch(document.file_name)
    assert files_in(media) == [document.file.name]
    assert document.file.name.startswith("tmf/") and ".." not in document.file.name.split("/")
    assert (media / document.file.name).resolve().is_relative_to(media.resolve())
    download = client.get(f"{TMF}documents/{document.pk}/download/")
    assert b"".join(download.streaming_content) == PDF
    assert not re.search(r'[<>"\x00\u202e]', download["Content-Disposition"].split("filename", 1)[1].strip('="'))
    page = text(client.get(f"{TMF}documents/{document.pk}/"))
    assert "<script>alert" not in page and "<img src=x" not in page


def test_tmf_upload_named_dot_dot_is_refused_as_missing_file(world, as_user, media):
    client = as_user(world.sponsor)
    before = snapshot()
    fields = {k: v for k, v in tmf_post(site=world.site_a.pk).items() if k != "file"}
    body, content_type = raw_multipart(fields, {"file": ("..", PDF)})
    response = client.post(f"{TMF}upload/", body, content_type=content_type)
    assert response.status_code == 400
    assert "Champ requis." in html.unescape(text(response))
    assert snapshot() == before and files_in(media) == []


VERIFY_NAMES = {
    "verify_upload_name_with_img_onerror_is_escaped": ("<img src=x onerror=alert(1)>.pdf",
                                                       "&lt;img src=x onerror=alert(1)&gt;.pdf"),
    "verify_upload_name_with_traversal_nul_and_rtl": ("../../etc/pass\x00wd\u202e.pdf", "passwd.pdf"),
}


@pytest.mark.parametrize("case", list(VERIFY_NAMES), ids=list(VERIFY_NAMES))
def test_verify_upload_shows_the_name_sanitised_and_escaped(world, as_user, media, case):
    sent, shown = VERIFY_NAMES[case]
    client = as_user(world.coordinator_a)
    before = snapshot()
    response = client.post("/verify/", {"pdf": SimpleUploadedFile(sent, b"<html>pas un PDF")})
    body = text(response)
    assert response.status_code == 200
    assert "Non vérifié" in body and shown in body
    assert "<img src=x" not in body and "../" not in body and "\x00" not in body and "\u202e" not in body
    assert snapshot() == before and files_in(media) == []


DOCX_NAMES = {
    "docx_import_name_with_traversal_and_markup": ("../../etc/<img src=x onerror=alert(1)>.docx",
                                                   "&lt;img src=x onerror=alert(1)&gt;.docx"),
    "docx_import_name_with_nul_and_rtl_override": ("formu\x00laire\u202excod.docx", "formulairexcod.docx"),
}


@pytest.mark.parametrize("case", list(DOCX_NAMES), ids=list(DOCX_NAMES))
def test_docx_import_keeps_only_the_sanitised_name(world, as_user, media, case):
    sent, shown = DOCX_NAMES[case]
    client = as_user(world.sponsor)
    response = client.post(IMPORT, {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                                    "title": "Formulaire du patient",
                                    "file": SimpleUploadedFile(sent, plain_docx("Pourquoi cette étude ?"))})
    assert response.status_code == 302
    version = ConsentFormVersionPage.objects.get()
    for stored in (version.title, version.import_notes):
        assert "../" not in stored and "\x00" not in stored and "\u202e" not in stored
    preview = text(client.get(f"/admin/pages/{version.pk}/view_draft/"))
    assert shown in preview and "<img src=x" not in preview
    assert files_in(media) == []  # an import keeps no copy of the uploaded file


def png_bomb() -> bytes:
    """A PNG header announcing 100,000 × 100,000 pixels, with a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    header = (100_000).to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(1000)))
            + chunk(b"IEND", b""))


def scan_png() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(signature_png())).convert("RGB").save(out, format="PNG")
    return out.getvalue()


SCANS = {
    "signature_scan_named_with_traversal_is_stored_under_a_random_name": (
        "../../../var/www/evil\u202egnp.php.png", scan_png, None),
    "signature_scan_html_disguised_as_png_is_refused": (
        "scan.png", lambda: b"<html><script>alert(1)</script></html>", "Téléversez une image valide"),
    "signature_scan_png_decompression_bomb_is_refused": ("scan.png", png_bomb, "Téléversez une image valide"),
}


@pytest.mark.parametrize("case", list(SCANS), ids=list(SCANS))
def test_signature_scan_upload(world, forms, participant, as_user, media, case):  # noqa: F811
    name, build, message = SCANS[case]
    client = as_user(world.coordinator_a)
    before = snapshot()
    data = consent_post(forms["patient"], participant, signature_drawn="",
                        signature_scan=SimpleUploadedFile(name, build(), content_type="image/png"))
    response = client.post(consent_url(participant, forms["patient"]), data)
    if message:
        assert response.status_code == 400 and message in html.unescape(text(response))
        assert snapshot() == before and files_in(media) == []
        return
    assert response.status_code == 302, text(response)[-3000:]
    record = ConsentRecord.objects.get()
    assert record.signature_source == "scan"
    assert files_in(media) == [record.pdf.name]
    assert re.fullmatch(r"signed/consents/[0-9a-f]{32}\.pdf", record.pdf.name)


# ----------------------------------------------------------------------------------------------------------------
# Script in text fields rendered as HTML
# ----------------------------------------------------------------------------------------------------------------

def contentstate(*lines: str) -> str:
    """What the Draftail editor posts for a rich-text field: text is data, never markup."""
    return json.dumps({"entityMap": {}, "blocks": [
        {"key": f"k{i}", "type": "unstyled", "depth": 0, "text": line, "inlineStyleRanges": [], "entityRanges": []}
        for i, line in enumerate(lines)]})


def submission_of(world):
    from regulatory import services
    from regulatory.models import CorrespondenceIndexPage

    index = CorrespondenceIndexPage.objects.child_of(world.trial).get()
    return services.submission_create(actor=world.sponsor, index=index, title="Modification substantielle 1",
                                      correspondent="ethics_committee", correspondent_name="CPP Test")


def letter_post(client, submission, **overrides):
    """The admin's "add a letter" form as a browser posts it."""
    from wagtail.test.utils.form_data import querydict_from_html

    url = f"/admin/pages/add/regulatory/correspondenceitempage/{submission.pk}/"
    data = querydict_from_html(client.get(url).content.decode(), form_id="page-edit-form")
    data.update({"title": f"Demande {SCRIPT}", "slug": "demande", "direction": "sent", "date": "2026-03-01",
                 "item_type": "modification_submission", "correspondent": f"CPP {SCRIPT}", "reference": "CPP-1",
                 "body": contentstate(f"Madame {SCRIPT}", "Veuillez agréer…"), "action-publish": "action-publish"})
    data.update(overrides)
    return client.post(url, data)


def hostile_form(world, **fields):
    """A consent form whose every text (title, blocks, labels) carries a script, approved and in force at DIJ."""
    content = {
        "information": [("heading", {"text": f"Titre {SCRIPT}", "level": 1}),
                        ("paragraph", f"<p>Paragraphe {html.escape(SCRIPT)}</p>"),
                        ("list", {"style": "bullet", "items": [f"Puce {SCRIPT}"]}),
                        ("table", {"first_row_is_header": True, "rows": [[f"Cellule {SCRIPT}", "x"]]})],
        "consent": [("consent_statement", {"text": f"J'accepte {SCRIPT}", "accept_label": f"Oui {SCRIPT}",
                                           "refuse_label": "Non", "mandatory": True}),
                    ("checkbox", {"text": f"Case {SCRIPT}"}), ("fill_in", {"label": f"Champ {SCRIPT}"}),
                    ("signature", {"role": "surrogate", "label": f"Signature {SCRIPT}"})],
    }
    version = make_form(trial=world.trial, kind="surrogate", number="2.0", title=f"Formulaire {SCRIPT}",
                        **content, **fields)
    consent_services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                         effective_from=timezone.now() - datetime.timedelta(days=1))
    return version


def xss_withdrawal_reason(world, participant, **_):
    client = as_client(world.coordinator_a)
    client.post(f"{SITES}/dij/participants/{participant.code}/withdraw/",
                {"scope": "follow_up", "reason": f"Refus {SCRIPT}"})
    assert Participant.objects.get(pk=participant.pk).status == "withdrawn"
    return [(client, f"{SITES}/dij/participants/{participant.code}/"), (as_client(world.sponsor), "/audit/")]


def xss_tmf_title(world, **_):
    client = as_client(world.sponsor)
    assert client.post(f"{TMF}upload/", tmf_post(site=world.site_a.pk, title=f"CV {SCRIPT}")).status_code == 302
    document = TmfDocument.objects.get(artifact__number="05.02.04")
    return [(client, f"{TMF}documents/{document.pk}/"), (client, f"{TMF}artifact/05.02.04/"),
            (client, f"{TMF}search/?q=CV"), (client, "/audit/")]


def xss_grant_purpose(world, **_):
    client = as_client(world.sponsor)
    now = timezone.localtime()
    response = client.post(f"{TMF}inspections/", {
        "inspector": world.inspector.pk, "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"), "purpose": f"Audit {SCRIPT}"})
    assert response.status_code == 302, text(response)[-2000:]
    return [(client, f"{TMF}inspections/")]


def xss_reasons_in_audit_trail(world, **_):
    client = as_client(world.sponsor)
    client.post(f"{TMF}inspections/{world.inspector_grant.pk}/close/", {"reason": f"Fin {SCRIPT}"})
    version = make_form(trial=world.trial, number="2.0")
    client.post(f"{version.url}withdraw/", {"reason": f"Erreur {SCRIPT}"})
    assert AuditEntry.objects.filter(reason__contains=SCRIPT).count() == 2
    return [(client, "/audit/")]


def xss_correspondence(world, **_):
    from regulatory.models import CorrespondenceItemPage

    client = as_client(world.sponsor)
    submission = submission_of(world)
    assert letter_post(client, submission).status_code == 302
    item = CorrespondenceItemPage.objects.child_of(submission).get()
    return [(client, item.url), (client, submission.url)]


def xss_consent_form_text(world, participant, **_):
    version = hostile_form(world)
    return [(as_client(world.sponsor), version.url),
            (as_client(world.coordinator_a), consent_url(participant, version))]


def xss_imported_word_text(world, **_):
    client = as_client(world.sponsor)
    response = client.post(IMPORT, {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                                    "title": f"Titre {SCRIPT}", "file":
                                    SimpleUploadedFile("f.docx", plain_docx(f"Titre {SCRIPT}", f"Texte {SCRIPT}"))})
    assert response.status_code == 302
    return [(client, f"/admin/pages/{ConsentFormVersionPage.objects.get(live=False).pk}/view_draft/")]


def xss_reflected_query(world, **_):
    client = as_client(world.sponsor)
    quoted = "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    return [(client, f"/audit/?action={quoted}&object_type={quoted}"), (client, f"{TMF}search/?q={quoted}")]


def as_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


XSS = {
    "withdrawal_reason_on_participant_page_and_audit_trail": xss_withdrawal_reason,
    "tmf_upload_title_on_document_artifact_search_and_audit_pages": xss_tmf_title,
    "inspection_window_purpose_on_inspections_page": xss_grant_purpose,
    "correspondence_subject_correspondent_and_body_on_letter_and_thread_pages": xss_correspondence,
    "inspection_close_and_version_withdrawal_reasons_in_audit_trail": xss_reasons_in_audit_trail,
    "consent_form_texts_on_version_page_and_tablet_form": xss_consent_form_text,
    "imported_word_text_on_draft_preview": xss_imported_word_text,
    "search_and_audit_filter_terms_reflected_in_pages": xss_reflected_query,
}


@pytest.mark.parametrize("case", list(XSS), ids=list(XSS))
def test_script_in_text_is_escaped_in_html(world, forms, participant, case):  # noqa: F811
    for client, url in XSS[case](world=world, participant=participant):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_escaped(text(response))


def test_script_in_a_url_path_is_not_reflected(world, as_user):
    response = as_user(world.coordinator_a).get(f"{SITES}/dij/participants/%3Cscript%3Ealert(1)%3C%2Fscript%3E/")
    assert response.status_code == 404
    assert "<script>alert" not in text(response)


@pytest.mark.xfail(raises=json.JSONDecodeError, strict=True, reason=(
    "Wagtail's DraftailRichTextArea.value_from_datadict json.loads() the posted value: raw HTML posted by hand "
    "instead of the editor's JSON is a 500 (nothing is written). Upstream behaviour, not fixed here."))
def test_raw_html_posted_as_rich_text_body_is_a_form_error_not_a_500(world, as_user):
    """Draftail posts JSON; a hand-made post of raw HTML instead must not crash the admin."""
    client = as_user(world.sponsor)
    submission = submission_of(world)
    before = snapshot()
    response = letter_post(client, submission, body=SCRIPT)
    assert response.status_code == 200
    assert snapshot() == before


# ----------------------------------------------------------------------------------------------------------------
# Script in text rendered into PDF
# ----------------------------------------------------------------------------------------------------------------

ACTIVE_PDF_KEYS = re.compile(rb"/(JS|JavaScript|OpenAction|AA|Launch|EmbeddedFile|RichMedia|SubmitForm)\b")


def assert_pdf_shows_literal_text_and_no_script(data: bytes, tmp_path: Path, *expected: str) -> None:
    assert data.startswith(b"%PDF")
    assert not ACTIVE_PDF_KEYS.search(re.sub(rb"stream\r?\n.*?endstream", b"", data, flags=re.S))
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, flags=re.S):
        try:
            inflated = zlib.decompress(stream)
        except zlib.error:
            continue  # not deflated: images, fonts
        if re.match(rb"\s*(?:\d+\s+\d+\s+)+(?:<<|\[)", inflated):  # an object stream: dictionaries packed together
            assert not ACTIVE_PDF_KEYS.search(inflated)
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    if shutil.which("pdfinfo"):
        assert subprocess.run(["pdfinfo", "-js", str(path)], capture_output=True, text=True,
                              check=True).stdout.count("JavaScript") == 0
    if not shutil.which("pdftotext"):  # the text is drawn in a subset font: only a real text extractor reads it
        pytest.skip("pdftotext (Debian poppler-utils) is needed to read the PDF's text")
    shown = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                           check=True).stdout
    for line in expected:
        assert line in shown, line


def pdf_printed_form(world, participant, client_for, **_):
    version = hostile_form(world)
    response = client_for(world.coordinator_a).get(f"{SITES}/dij/consent-forms/{version.pk}/pdf/")
    return b"".join(response.streaming_content), [f"Formulaire {SCRIPT}", f"Titre {SCRIPT}", f"Paragraphe {SCRIPT}",
                                                  f"Puce {SCRIPT}", f"J'accepte {SCRIPT}", f"Case {SCRIPT}"]


def pdf_consent_record(world, participant, client_for, **_):
    version = hostile_form(world)
    client = client_for(world.coordinator_a)
    response = client.post(consent_url(participant, version), consent_post(
        version, participant, surrogate_relationship=f"fille {SCRIPT}", witness_name=f"Témoin {SCRIPT}"))
    assert response.status_code == 302
    pdf = client.get(f"{SITES}/dij/participants/{participant.code}/consents/1/pdf/")
    return b"".join(pdf.streaming_content), [f"fille {SCRIPT}", f"Témoin {SCRIPT}", f"J'accepte {SCRIPT}"]


def pdf_letter_record_sheet(world, client_for, **_):
    from regulatory.models import CorrespondenceItemPage

    client = client_for(world.sponsor)
    submission = submission_of(world)
    assert letter_post(client, submission).status_code == 302
    item = CorrespondenceItemPage.objects.child_of(submission).get()
    document = TmfDocument.objects.get(source_type="regulatory.correspondenceitempage", source_id=str(item.pk))
    response = client.get(f"{TMF}documents/{document.pk}/download/")
    return b"".join(response.streaming_content), [f"Demande {SCRIPT}", f"Madame {SCRIPT}", f"CPP {SCRIPT}"]


def pdf_protocol_record_sheet(world, client_for, **_):
    from regulatory.tests.factories import make_version

    version = make_version(trial=world.trial, number="1.0", title=f"Protocole {SCRIPT}", body=[
        ("heading", {"number": "1", "text": f"Section {SCRIPT}"}),
        ("paragraph", f"<p>Paragraphe {html.escape(SCRIPT)} &amp; R&amp;D</p>")])
    document = TmfDocument.objects.get(source_type="regulatory.protocolversionpage", source_id=str(version.pk))
    response = client_for(world.sponsor).get(f"{TMF}documents/{document.pk}/download/")
    return b"".join(response.streaming_content), [f"Protocole {SCRIPT}", f"Section {SCRIPT}",
                                                  f"Paragraphe {SCRIPT} & R&D"]


def pdf_imported_word_draft(world, client_for, **_):
    client = client_for(world.sponsor)
    client.post(IMPORT, {"trial": world.trial.pk, "kind": "patient", "language": "fr", "title": f"Titre {SCRIPT}",
                         "file": SimpleUploadedFile("f.docx", plain_docx(f"Texte {SCRIPT}"))})
    response = client.get(f"/admin/consent/versions/{ConsentFormVersionPage.objects.get(live=False).pk}/pdf/")
    return b"".join(response.streaming_content), [f"Titre {SCRIPT}", f"Texte {SCRIPT}"]


PDFS = {
    "consent_form_texts_in_the_printed_form": pdf_printed_form,
    "witness_and_relationship_in_the_signed_consent_record": pdf_consent_record,
    "letter_subject_and_body_in_the_tmf_record_sheet": pdf_letter_record_sheet,
    "protocol_title_and_structured_text_in_the_tmf_record_sheet": pdf_protocol_record_sheet,
    "imported_word_text_in_the_draft_pdf": pdf_imported_word_draft,
}


@pytest.mark.parametrize("case", list(PDFS), ids=list(PDFS))
def test_script_in_text_is_literal_text_in_pdf(world, forms, participant, tmp_path, case):  # noqa: F811
    data, expected = PDFS[case](world=world, participant=participant, client_for=as_client)
    assert_pdf_shows_literal_text_and_no_script(data, tmp_path, *expected)


# ----------------------------------------------------------------------------------------------------------------
# Formula injection in CSV and Excel exports
# ----------------------------------------------------------------------------------------------------------------

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def file_formula_titles(world) -> list[str]:
    """One filed document per formula title and one withdrawal per formula reason; returns the texts as stored."""
    client = as_client(world.sponsor)
    for formula in FORMULAS:
        assert client.post(f"{TMF}upload/", tmf_post(site=world.site_a.pk, title=formula)).status_code == 302
    coordinator = as_client(world.coordinator_a)
    for formula in FORMULAS:
        participant = consent_services.participant_create(actor=world.coordinator_a, site=world.site_a)
        coordinator.post(f"{SITES}/dij/participants/{participant.code}/withdraw/",
                         {"scope": "follow_up", "reason": formula})
    assert Participant.objects.filter(status="withdrawn").count() == len(FORMULAS)
    return [formula.strip() for formula in FORMULAS]  # form fields strip surrounding blanks, tabs included


def assert_cells_neutralised(cells: list[str], stored: list[str], *, expect: bool = True) -> None:
    dangerous = [cell for cell in cells if isinstance(cell, str) and cell.startswith(TRIGGERS)]
    assert dangerous == []
    if expect:
        for formula in stored:
            assert "'" + formula in cells, formula


def assert_text_cells_as_filed(cells: list, stored: list[str]) -> None:
    """XLSX has cell types: a formula-like title is a text cell shown exactly as filed, with no quote added (the
    quote guard is CSV's; in XLSX it showed in the cell, issue 12). `xlsx_cells` checks that no cell is a formula."""
    for formula in stored:
        assert formula in cells, formula
        assert "'" + formula not in cells, formula


def csv_cells(data: bytes) -> list[str]:
    assert data.startswith("\ufeff".encode())
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in row]


def xlsx_cells(data: bytes) -> list:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data))
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    assert all(cell.data_type == "s" for cell in cells if isinstance(cell.value, str))
    with zipfile.ZipFile(io.BytesIO(data)) as package:  # no formula element anywhere in the sheets' XML
        assert not any(b"<f>" in package.read(name) or b"<f " in package.read(name)
                       for name in package.namelist() if name.startswith("xl/worksheets/"))
    return [cell.value for cell in cells]


def export_audit_csv(world, tmp_path):
    stored = file_formula_titles(world)
    response = as_client(world.sponsor).get("/audit/", {"format": "csv"})
    return csv_cells(b"".join(response.streaming_content)), stored


def export_tmf_index(fmt):
    def export(world, tmp_path):
        from django.core.management import call_command

        stored = file_formula_titles(world)
        out = tmp_path / f"index.{fmt}"
        call_command("tmf_index", "--trial", "NCT07063680", "--format", fmt, "--out", str(out), stdout=io.StringIO())
        return (csv_cells if fmt == "csv" else xlsx_cells)(out.read_bytes()), [s for s in stored if s]
    return export


def export_completeness(fmt):
    def export(world, tmp_path):
        """Completeness carries no free text (codes are validated): sites whose codes bypassed validation, as a
        restored or hand-edited database could hold, show the export's own defence."""
        from regulatory.models import InvestigationalSite

        file_formula_titles(world)
        codes = ["=1+1", "+1", "-2+3", "@cmd"]
        for code in codes:
            InvestigationalSite.objects.create(trial=world.trial, code=code, name=code, city="x",
                                               principal_investigator="x", status="ACTIVE")
        response = as_client(world.sponsor).get(f"{TMF}completeness/", {"format": fmt})
        assert response.status_code == 200
        return (csv_cells if fmt == "csv" else xlsx_cells)(response.content), codes
    return export


EXPORTS = {
    "audit_trail_csv_quotes_formula_titles_and_reasons": export_audit_csv,
    "tmf_index_csv_quotes_formula_titles": export_tmf_index("csv"),
    "completeness_csv_quotes_formula_like_codes": export_completeness("csv"),
}
XLSX_EXPORTS = {
    "tmf_index_xlsx_keeps_formula_titles_as_text_cells": export_tmf_index("xlsx"),
    "completeness_xlsx_keeps_formula_like_codes_as_text_cells": export_completeness("xlsx"),
}


@pytest.mark.parametrize("case", list(EXPORTS), ids=list(EXPORTS))
def test_formula_injection_is_neutralised_in_exports(world, forms, tmp_path, case):  # noqa: F811
    cells, stored = EXPORTS[case](world, tmp_path)
    assert_cells_neutralised(cells, stored)


@pytest.mark.parametrize("case", list(XLSX_EXPORTS), ids=list(XLSX_EXPORTS))
def test_xlsx_exports_write_formula_like_text_as_text_cells_without_the_csv_quote(world, forms, tmp_path,  # noqa: F811
                                                                                  case):
    cells, stored = XLSX_EXPORTS[case](world, tmp_path)
    assert_text_cells_as_filed(cells, stored)


def test_xlsx_export_of_a_title_with_control_characters_is_not_a_500(world, forms, tmp_path):  # noqa: F811
    """openpyxl refuses characters XML cannot hold: such a title is exported with U+FFFD in their place."""
    from django.core.management import call_command

    response = as_client(world.sponsor).post(f"{TMF}upload/", tmf_post(site=world.site_a.pk, title="Lettre\x01\x1b"))
    assert response.status_code == 302
    out = tmp_path / "index.xlsx"
    call_command("tmf_index", "--trial", "NCT07063680", "--format", "xlsx", "--out", str(out), stdout=io.StringIO())
    assert "Lettre\ufffd\ufffd" in xlsx_cells(out.read_bytes())


# ----------------------------------------------------------------------------------------------------------------
# Oversized requests and files
# ----------------------------------------------------------------------------------------------------------------

def big_consent_body(world, participant, forms, settings, monkeypatch):  # noqa: F811
    data = consent_post(forms["patient"], participant,
                        witness_name="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    return world.coordinator_a, consent_url(participant, forms["patient"]), data, None


def big_login_body(world, participant, forms, settings, monkeypatch):  # noqa: F811
    return None, "/accounts/login/", {"username": "sponsor",
                                      "password": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}, None


def too_many_fields(world, participant, forms, settings, monkeypatch):  # noqa: F811
    data = tmf_post(site=world.site_a.pk)
    data.update({f"extra_{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)})
    return world.sponsor, f"{TMF}upload/", data, None


def tmf_over_50_mb(world, participant, forms, settings, monkeypatch):  # noqa: F811
    from regulatory.tmf import uploads as tmf_filing

    monkeypatch.setattr(tmf_filing, "MAX_UPLOAD_BYTES", len(PDF) - 1)  # as if the file were 50 MB + 1 byte
    return world.sponsor, f"{TMF}upload/", tmf_post(site=world.site_a.pk), "trop volumineux (50 Mo au plus)"


def verify_over_20_mb(world, participant, forms, settings, monkeypatch):  # noqa: F811
    from consent import views

    monkeypatch.setattr(views, "MAX_VERIFY_BYTES", len(PDF) - 1)
    return (world.coordinator_a, "/verify/", {"pdf": SimpleUploadedFile("x.pdf", PDF)},
            "trop volumineux (20 Mo au plus)")


def docx_over_20_mb(world, participant, forms, settings, monkeypatch):  # noqa: F811
    from consent import admin_views

    data = plain_docx("Texte")
    monkeypatch.setattr(admin_views, "MAX_UPLOAD_BYTES", len(data) - 1)
    return (world.sponsor, IMPORT, {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                                    "file": SimpleUploadedFile("f.docx", data)}, "trop volumineux (20 Mo au plus)")


def scan_over_2_mb(world, participant, forms, settings, monkeypatch):  # noqa: F811
    from consent.services.records import signatures

    monkeypatch.setattr(signatures, "MAX_SIGNATURE_IMAGE_BYTES", 100)
    data = consent_post(forms["patient"], participant, signature_drawn="",
                        signature_scan=SimpleUploadedFile("scan.png", scan_png(), content_type="image/png"))
    return world.coordinator_a, consent_url(participant, forms["patient"]), data, "trop volumineuse (2 Mo au plus)"


OVERSIZED = {
    "consent_post_body_over_DATA_UPLOAD_MAX_MEMORY_SIZE": big_consent_body,
    "login_post_body_over_DATA_UPLOAD_MAX_MEMORY_SIZE": big_login_body,
    "tmf_upload_with_too_many_fields": too_many_fields,
    "tmf_upload_over_50_MB": tmf_over_50_mb,
    "verify_upload_over_20_MB": verify_over_20_mb,
    "docx_import_over_20_MB": docx_over_20_mb,
    "signature_scan_over_2_MB": scan_over_2_mb,
}


@pytest.mark.parametrize("case", list(OVERSIZED), ids=list(OVERSIZED))
def test_oversized_request_is_refused(world, forms, participant, settings, monkeypatch, media, case):  # noqa: F811
    user, url, data, message = OVERSIZED[case](world, participant, forms, settings, monkeypatch)
    client = as_client(user) if user else Client()
    before = snapshot()
    response = client.post(url, data)
    if message is None:
        assert response.status_code in (400, 413)
    else:
        assert response.status_code in (200, 400) and message in html.unescape(text(response))
    assert snapshot() == before and files_in(media) == []
    if user is None:
        assert "_auth_user_id" not in client.session


# ----------------------------------------------------------------------------------------------------------------
# Stale form versions and double submits
# ----------------------------------------------------------------------------------------------------------------

def test_consent_on_a_version_no_longer_in_force_is_refused_naming_the_current_one(world, forms, participant,  # noqa: F811
                                                                                   as_user, media):
    """The tablet page was opened on v1.0; v2.0 took effect before the form was sent."""
    client = as_user(world.coordinator_a)
    old = forms["patient"]
    data = consent_post(old, participant)
    assert client.get(consent_url(participant, old)).status_code == 200
    new = make_form(trial=world.trial, number="2.0")
    consent_services.form_make_effective(actor=world.sponsor, version=new, sites=[world.site_a],
                                         effective_from=timezone.now() - datetime.timedelta(minutes=10))
    before = snapshot()
    response = client.post(consent_url(participant, old), data)
    assert response.status_code == 400
    body = html.unescape(text(response))
    assert ("n'était pas celle en vigueur à DIJ à l'heure de la signature ; la version en vigueur était alors "
            f"{new}") in body
    assert snapshot() == before and files_in(media) == []


def test_a_double_submit_records_one_consent_and_says_so(world, forms, participant, as_user, media):  # noqa: F811
    client = as_user(world.coordinator_a)
    data = consent_post(forms["patient"], participant)
    assert client.post(consent_url(participant, forms["patient"]), data).status_code == 302
    before, stored = snapshot(), files_in(media)
    response = client.post(consent_url(participant, forms["patient"]), data)
    assert response.status_code == 400
    assert "a changé depuis l'ouverture du formulaire" in html.unescape(text(response))
    assert ConsentRecord.objects.count() == 1 and snapshot() == before and files_in(media) == stored


# ----------------------------------------------------------------------------------------------------------------
# Forged site, participant and version identifiers
# ----------------------------------------------------------------------------------------------------------------

@shared_fixture
def lil_participant(world, forms):  # noqa: F811
    return consent_services.participant_create(actor=world.coordinator_b, site=world.site_b)


@shared_fixture
def other_trial_form(world):
    return make_form(trial=world.other_trial, title="Formulaire d'un autre essai")


def forged(world, forms, participant, lil_participant, other_trial_form):  # noqa: F811
    patient = forms["patient"]
    post = lambda p, **o: consent_post(patient, p, **o)  # noqa: E731
    return {
        "coordinator_a_posts_a_consent_for_a_lil_participant": (
            world.coordinator_a, "post", consent_url(lil_participant, patient, "lil"), post(lil_participant), 404),
        "coordinator_a_registers_a_participant_at_lil": (
            world.coordinator_a, "post", f"{SITES}/lil/participants/", {}, 404),
        "coordinator_a_withdraws_a_lil_participant": (
            world.coordinator_a, "post", f"{SITES}/lil/participants/{lil_participant.code}/withdraw/",
            {"reason": "x"}, 404),
        "dij_participant_code_under_the_lil_site_url": (
            world.coordinator_b, "post", consent_url(participant, patient, "lil"), post(participant), 404),
        "dij_participant_code_under_the_lil_site_url_for_a_trial_wide_reader": (
            world.sponsor, "get", f"{SITES}/lil/participants/{participant.code}/", None, 404),
        "consent_url_with_a_version_of_another_trial": (
            world.coordinator_a, "post", consent_url(participant, other_trial_form),
            consent_post(other_trial_form, participant), 404),
        "posted_version_field_of_another_trial": (
            world.coordinator_a, "post", consent_url(participant, patient),
            post(participant, version=other_trial_form.pk), 400),  # a hidden field: tampering gets no explanation
        "non_numeric_version_id_in_the_consent_url": (
            world.coordinator_a, "post", f"{SITES}/dij/participants/{participant.code}/consent/abc/", post(participant),
            404),
        "huge_version_id_in_the_consent_url": (
            world.coordinator_a, "post", f"{SITES}/dij/participants/{participant.code}/consent/{HUGE_ID}/",
            post(participant), 404),
        "huge_version_id_posted_in_the_consent_form": (
            world.coordinator_a, "post", consent_url(participant, patient), post(participant, version=HUGE_ID), 400),
        "huge_expected_sequence_posted_in_the_consent_form": (
            world.coordinator_a, "post", consent_url(participant, patient),
            post(participant, expected_sequence=HUGE_ID), "a changé depuis l'ouverture du formulaire"),
        "huge_participant_number_in_the_url": (
            world.coordinator_a, "get", f"{SITES}/dij/participants/DIJ-{HUGE_ID}/", None, 404),
        "huge_version_id_in_the_print_url": (
            world.coordinator_a, "get", f"{SITES}/dij/consent-forms/{HUGE_ID}/pdf/", None, 404),
        "huge_consent_sequence_in_the_pdf_url": (
            world.coordinator_a, "get", f"{SITES}/dij/participants/{participant.code}/consents/{HUGE_ID}/pdf/", None,
            404),
        "huge_document_id_in_the_tmf_url": (world.sponsor, "get", f"{TMF}documents/{HUGE_ID}/download/", None, 404),
        "huge_user_id_in_the_audit_url": (world.sponsor, "get", f"/audit/user/{HUGE_ID}/", None, 404),
        "huge_ids_in_the_audit_filters": (world.sponsor, "get", f"/audit/?actor={HUGE_ID}&trial={HUGE_ID}", None,
                                          "Sélectionnez un choix valide"),
        "huge_version_id_in_the_admin_pdf_url": (
            world.sponsor, "get", f"/admin/consent/versions/{HUGE_ID}/pdf/", None, 404),
        "huge_version_ids_in_the_admin_comparison": (
            world.sponsor, "get", f"/admin/consent/compare/?left={HUGE_ID}&right={HUGE_ID}", None,
            'name="left" required aria-invalid="true"'),
        "huge_trial_id_in_the_admin_word_import": (
            world.sponsor, "post", IMPORT, {"trial": HUGE_ID, "kind": "patient", "language": "fr",
                                            "file": SimpleUploadedFile("f.docx", plain_docx("Texte"))},
            "Sélectionnez un choix valide"),
        "huge_ids_in_the_protocol_activation_form": (
            world.sponsor, "post", "/nct07063680/activations/new/",
            {"version": HUGE_ID, "sites": [HUGE_ID], "effective_from": "2026-03-01T10:00"},
            "Sélectionnez un choix valide"),
        "huge_site_id_in_the_inspection_window_form": (
            world.sponsor, "post", f"{TMF}inspections/", {
                "inspector": world.inspector.pk, "sites": [HUGE_ID], "starts_at": "2026-03-01T10:00",
                "ends_at": "2026-03-02T10:00"}, "Sélectionnez un choix valide"),
        "huge_site_id_in_the_consent_form_make_effective_form": (
            world.sponsor, "post", f"{forms['patient'].url}effective/",
            {"sites": [HUGE_ID], "effective_from": "2026-03-01T10:00"}, "Sélectionnez un choix valide"),
        "huge_ids_in_the_tmf_upload_form": (
            world.sponsor, "post", f"{TMF}upload/", tmf_post(site=HUGE_ID, artifact=HUGE_ID, replaces=HUGE_ID),
            "Sélectionnez un choix valide"),
    }


FORGED = [
    "coordinator_a_posts_a_consent_for_a_lil_participant", "coordinator_a_registers_a_participant_at_lil",
    "coordinator_a_withdraws_a_lil_participant", "dij_participant_code_under_the_lil_site_url",
    "dij_participant_code_under_the_lil_site_url_for_a_trial_wide_reader",
    "consent_url_with_a_version_of_another_trial", "posted_version_field_of_another_trial",
    "non_numeric_version_id_in_the_consent_url", "huge_version_id_in_the_consent_url",
    "huge_version_id_posted_in_the_consent_form", "huge_expected_sequence_posted_in_the_consent_form",
    "huge_participant_number_in_the_url", "huge_version_id_in_the_print_url", "huge_consent_sequence_in_the_pdf_url",
    "huge_document_id_in_the_tmf_url", "huge_user_id_in_the_audit_url", "huge_ids_in_the_audit_filters",
    "huge_version_id_in_the_admin_pdf_url", "huge_version_ids_in_the_admin_comparison",
    "huge_trial_id_in_the_admin_word_import", "huge_ids_in_the_protocol_activation_form",
    "huge_site_id_in_the_inspection_window_form", "huge_site_id_in_the_consent_form_make_effective_form",
    "huge_ids_in_the_tmf_upload_form",
]


@pytest.mark.parametrize("case", FORGED, ids=FORGED)
def test_forged_identifier_is_refused(world, forms, participant, lil_participant, other_trial_form, media,  # noqa: F811
                                      case):
    user, method, url, data, expected = forged(world, forms, participant, lil_participant, other_trial_form)[case]
    client = as_client(user)
    before = snapshot()
    response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert response.status_code in (200, 400) and expected in html.unescape(text(response))
    assert snapshot() == before and files_in(media) == []
    assert Participant.objects.get(pk=lil_participant.pk).status == "screening"


# ----------------------------------------------------------------------------------------------------------------
# Posts without a CSRF token
# ----------------------------------------------------------------------------------------------------------------

def csrf_cases(world, forms, participant):  # noqa: F811
    return {
        "login_without_csrf_token": (None, "/accounts/login/", {"username": "sponsor", "password": PASSWORD}),
        "admin_login_without_csrf_token": (None, "/admin/login/", {"username": "admin", "password": PASSWORD}),
        "consent_recording_without_csrf_token": (
            world.coordinator_a, consent_url(participant, forms["patient"]),
            consent_post(forms["patient"], participant)),
        "participant_registration_without_csrf_token": (world.coordinator_a, f"{SITES}/dij/participants/", {}),
        "withdrawal_without_csrf_token": (
            world.coordinator_a, f"{SITES}/dij/participants/{participant.code}/withdraw/", {"reason": "Refus"}),
        "tmf_upload_without_csrf_token": (world.sponsor, f"{TMF}upload/", tmf_post(site=world.site_a.pk)),
        "word_import_without_csrf_token": (world.sponsor, IMPORT, {
            "trial": world.trial.pk, "kind": "patient", "language": "fr",
            "file": SimpleUploadedFile("f.docx", plain_docx("Texte"))}),
        "verify_upload_without_csrf_token": (world.coordinator_a, "/verify/",
                                             {"pdf": SimpleUploadedFile("x.pdf", PDF)}),
    }


CSRF = ["login_without_csrf_token", "admin_login_without_csrf_token", "consent_recording_without_csrf_token",
        "participant_registration_without_csrf_token", "withdrawal_without_csrf_token", "tmf_upload_without_csrf_token",
        "word_import_without_csrf_token", "verify_upload_without_csrf_token"]


@pytest.mark.parametrize("case", CSRF, ids=CSRF)
def test_post_without_csrf_token_is_refused(world, forms, participant, media, case):  # noqa: F811
    user, url, data = csrf_cases(world, forms, participant)[case]
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    before = snapshot()
    response = client.post(url, data)
    assert response.status_code == 403
    assert snapshot() == before and files_in(media) == []
    assert Participant.objects.get(pk=participant.pk).status == "screening"
    if user is None:
        assert "_auth_user_id" not in client.session


# ----------------------------------------------------------------------------------------------------------------
# Dates
# ----------------------------------------------------------------------------------------------------------------

INVALID_DATETIME = "Saisissez une date et une heure valides."

SIGNING_TIMES = {
    "signing_time_in_the_future": ((timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
                                   "L'heure de signature est dans le futur."),
    "signing_time_year_9999": ("9999-12-31T23:59", "L'heure de signature est dans le futur."),
    "signing_time_february_30": ("2026-02-30T10:00", INVALID_DATETIME),
    "signing_time_free_text": ("hier soir", INVALID_DATETIME),
    "signing_time_hour_25": ("2026-03-01T25:00", INVALID_DATETIME),
    "signing_time_before_1900": ("1899-12-31T23:00", INVALID_DATETIME),
    "signing_time_year_1": ("0001-01-01T00:00", INVALID_DATETIME),
}


@pytest.mark.parametrize("case", list(SIGNING_TIMES), ids=list(SIGNING_TIMES))
def test_impossible_signing_time_is_refused(world, forms, participant, as_user, media, case):  # noqa: F811
    value, message = SIGNING_TIMES[case]
    client = as_user(world.coordinator_a)
    before = snapshot()
    response = client.post(consent_url(participant, forms["patient"]),
                           consent_post(forms["patient"], participant, signed_at=value))
    assert response.status_code == 400
    assert message in html.unescape(text(response))
    assert snapshot() == before and files_in(media) == []


DEATH_TIMES = {
    "death_date_in_the_future": ("2999-01-01T00:00", "La date du décès ne peut pas être dans le futur."),
    "death_date_malformed": ("2026-02-30T10:00", "Indiquez la date et l'heure du décès."),
    "death_date_before_1900": ("1899-12-31T23:00", "Indiquez la date et l'heure du décès."),
    "death_date_year_1": ("0001-01-01T00:00", "Indiquez la date et l'heure du décès."),
}


@pytest.mark.parametrize("case", list(DEATH_TIMES), ids=list(DEATH_TIMES))
def test_impossible_date_of_death_is_refused(world, forms, participant, as_user, media, case):  # noqa: F811
    value, message = DEATH_TIMES[case]
    client = as_user(world.coordinator_a)
    before = snapshot()
    response = client.post(f"{SITES}/dij/participants/{participant.code}/death/", {"died_at": value}, follow=True)
    assert response.status_code == 200
    assert message in [str(m) for m in response.context["messages"]]
    assert Participant.objects.get(pk=participant.pk).status == "screening"
    assert snapshot() == before and files_in(media) == []


AUDIT_DATES = {
    "audit_filter_date_year_1": "date_from=0001-01-01",
    "audit_filter_date_year_9999": "date_to=9999-12-31",
    "audit_filter_date_malformed": "date_from=2026-02-30",
}


@pytest.mark.parametrize("case", list(AUDIT_DATES), ids=list(AUDIT_DATES))
def test_impossible_audit_filter_date_is_refused(world, as_user, case):
    response = as_user(world.sponsor).get(f"/audit/?{AUDIT_DATES[case]}")
    assert response.status_code == 200
    assert "Saisissez une date valide." in html.unescape(text(response))
    assert list(response.context["page_obj"].object_list) == []


FORM_DATES = {
    "tmf_document_date_year_1": ("tmf", {"document_date": "0001-01-01"}, "Saisissez une date valide."),
    "tmf_document_date_before_1900": ("tmf", {"document_date": "1899-12-31"}, "Saisissez une date valide."),
    "tmf_document_date_malformed": ("tmf", {"document_date": "2026-02-30"}, "Saisissez une date valide."),
    "inspection_window_from_year_1": ("grant", {"starts_at": "0001-01-01T00:00"},
                                      "Une fenêtre d'inspection dure au plus un an."),
    "inspection_window_before_1900": ("grant", {"starts_at": "1899-01-01T00:00", "ends_at": "1899-02-01T00:00"},
                                      "La fenêtre doit se terminer dans le futur."),
    "inspection_window_malformed": ("grant", {"starts_at": "2026-02-30T00:00"}, INVALID_DATETIME),
    "protocol_activation_from_year_1": ("activation", {"effective_from": "0001-01-01T00:00"},
                                        "Elle ne peut pas entrer en vigueur avant le 15 janvier 2026"),
}


@pytest.mark.parametrize("case", list(FORM_DATES), ids=list(FORM_DATES))
def test_impossible_date_in_a_sponsor_form_is_refused(world, as_user, media, case):
    form, overrides, message = FORM_DATES[case]
    client = as_user(world.sponsor)
    before = snapshot()
    if form == "tmf":
        response = client.post(f"{TMF}upload/", tmf_post(site=world.site_a.pk, **overrides))
    elif form == "activation":
        from regulatory.tests.factories import make_opinion, make_version

        version = make_version(trial=world.trial, number="1.0")
        make_opinion(trial=world.trial, version=version)
        before = snapshot()
        response = client.post("/nct07063680/activations/new/", {"version": version.pk, "sites": [world.site_a.pk],
                                                                 **overrides})
    else:
        now = timezone.localtime()
        response = client.post(f"{TMF}inspections/", {
            "inspector": world.inspector.pk, "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"), "purpose": "Audit",
            **overrides})
    assert response.status_code in (200, 400)  # the activation page answers 200 with its errors
    assert message in html.unescape(text(response))
    assert snapshot() == before and files_in(media) == []


# ----------------------------------------------------------------------------------------------------------------
# Search boxes and API parameters (issue 12): a message or an empty result, never a 500, on SQLite and PostgreSQL
# ----------------------------------------------------------------------------------------------------------------

# What was typed (as it goes in the query string, already percent-encoded).
SEARCH_TERMS = {
    "nul": "%00",                    # PostgreSQL refuses it in any text, SQLite's FTS5 stops at it
    "lone_double_quote": "%22",      # an unterminated FTS5 string on SQLite
    "quote_inside_a_word": "a%22b",
    "unbalanced_phrase": "%22unclosed",
    "control_character": "%01",      # nothing left to search once cleaned
    "fts_operators": "NEAR(a%20b)%20AND%20*%20col%3Ax%20%5E",
    "two_thousand_words": "a%20" * 2000,  # one nested expression per word exhausted the recursion limit
    "invalid_utf8": "%FF%ED%A0%80",
}
PAGE = "{page}"  # replaced by the trial page's id
# Every search box and searchable parameter of the admin and its API, and of the front end.
SEARCH_URLS = {
    "admin_api_pages_search": "/admin/api/main/pages/?search={q}",
    "admin_api_pages_search_ordered": "/admin/api/main/pages/?search={q}&order=title",
    "admin_api_pages_search_and": "/admin/api/main/pages/?search={q}&search_operator=and",
    "admin_api_pages_locale": "/admin/api/main/pages/?locale={q}",
    "admin_api_pages_type": "/admin/api/main/pages/?type={q}",
    "admin_api_pages_fields": "/admin/api/main/pages/?fields={q}",
    "admin_api_pages_order": "/admin/api/main/pages/?order={q}",
    "admin_api_pages_child_of": "/admin/api/main/pages/?child_of={q}",
    "admin_api_pages_title": "/admin/api/main/pages/?title={q}",
    "admin_api_page_detail_fields": "/admin/api/main/pages/{page}/?fields={q}",
    "admin_page_search": "/admin/pages/search/?q={q}",
    "admin_page_search_results": "/admin/pages/search/results/?q={q}",
    "admin_page_explorer_search": "/admin/pages/{page}/?q={q}",
    "admin_page_explorer_ordering": "/admin/pages/{page}/?ordering={q}",
    "admin_page_chooser_search": "/admin/choose-page/search/?q={q}",
    "admin_page_chooser_browse": "/admin/choose-page/{page}/?q={q}",
    "admin_page_history": "/admin/pages/{page}/history/?q={q}",
    "admin_users": "/admin/users/?q={q}",
    "admin_groups": "/admin/groups/?q={q}",
    "admin_documents": "/admin/documents/?q={q}",
    "admin_document_chooser": "/admin/documents/chooser/results/?q={q}",
    "admin_images": "/admin/images/?q={q}",
    "admin_image_chooser": "/admin/images/chooser/results/?q={q}",
    "admin_investigational_sites": "/admin/regulatory/investigationalsite/?q={q}",
    "admin_workflows": "/admin/workflows/list/?q={q}",
    "admin_site_history_report": "/admin/reports/site-history/?q={q}",
    "admin_workflow_report": "/admin/reports/workflow/?q={q}",
    "admin_consent_form_compare": "/admin/consent/compare/?left={q}&right={q}",
    "tmf_search": TMF + "search/?q={q}",
    "tmf_search_site_and_page": TMF + "search/?site={q}&page={q}",
    "tmf_home_filters": TMF + "?q={q}&status={q}&date_from={q}",
    "tmf_completeness_format": TMF + "completeness/?format={q}",
    "audit_filters": "/audit/?action={q}&actor={q}&object_type={q}&trial={q}&date_from={q}&page={q}",
    "audit_csv_filters": "/audit/?format=csv&action={q}",
    "participants_page": SITES + "/dij/participants/?page={q}",
}

SPONSOR_SEARCH_URLS = {"admin_api_pages_search", "admin_page_chooser_search", "admin_page_explorer_search",
                       "tmf_search", "audit_filters"}


@pytest.mark.parametrize("case", list(SEARCH_URLS), ids=list(SEARCH_URLS))
def test_hostile_search_terms_give_a_message_or_an_empty_result(world, case):
    """As an administrator (who reaches every one of them), and as the sponsor where the issue found a 500: each
    term in each box answers a page, an empty result or a 400 with a message; nothing is written. NUL is refused at
    the door (400)."""
    from urllib.parse import urlsplit

    for user in (world.admin, world.sponsor) if case in SPONSOR_SEARCH_URLS else (world.admin,):
        client = as_client(user)
        before = snapshot()
        for name, term in SEARCH_TERMS.items():
            url = SEARCH_URLS[case].replace(PAGE, str(world.trial.pk)).replace("{q}", term)
            parts = urlsplit(url)
            response = client.get(parts.path, QUERY_STRING=parts.query)  # sent as typed, not re-encoded
            assert response.status_code < 500, (name, url)
            if name == "nul":
                assert response.status_code == 400, url
                assert "caractère NUL" in text(response)
            if response.status_code == 400 and "json" in response.get("Content-Type", ""):
                assert response.json()["message"], url
        assert snapshot() == before


def test_a_search_with_a_double_quote_in_a_word_still_finds_the_page(world, as_user):
    """The quote is escaped, not dropped with the whole query: the trial is found."""
    client = as_user(world.admin)
    body = client.get("/admin/pages/search/", QUERY_STRING="q=Argipressine%22").content.decode()
    assert "Argipressine test" in body
    found = client.get("/admin/api/main/pages/", QUERY_STRING="search=%22Argipressine%22").json()
    assert [item["title"] for item in found["items"]] == ["Argipressine test"]


def test_an_unknown_search_operator_in_the_admin_api_is_a_400_with_a_message(world, as_user):
    response = as_user(world.sponsor).get("/admin/api/main/pages/", {"search": "essai", "search_operator": "xor"})
    assert response.status_code == 400
    assert response.json() == {"message": "search_operator must be 'and' or 'or'"}
