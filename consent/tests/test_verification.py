"""Verification of files from anyone (consent/verification/ through /verify/ and `manage.py verify_pdf`):
bounded work, and plain words for a file changed after signing (issue 12).

Speed is not asserted here (bench/verify_pdf_bounds.py measures it): the caps are checked by what they prevent,
that no signature is even validated in a file beyond them."""

import io
import re
import zlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from consent.tests.test_views import forms, master_pdf, pki, site_url  # noqa: F401  (fixtures)
from consent.verification import validation, verify, verify_pdf, verify_pdf_in_time

N = generic.NameObject


# --- Files changed after signing, as an attacker or a careless tool would --------------------------------------

def with_signature_fields(data: bytes, count: int) -> bytes:
    """The issue's hostile file: the real document plus `count` empty signature fields, each pointing at the real
    signature (67 s of verification for 1,600 of them)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    fields = writer.root["/AcroForm"]["/Fields"]
    signed = next(field for field in (ref.get_object() for ref in fields) if field.get("/FT") == "/Sig")
    value = signed.raw_get("/V")
    for number in range(count):
        fields.append(writer.add_object(generic.DictionaryObject({
            N("/FT"): N("/Sig"), N("/T"): generic.TextStringObject(f"Champ{number}"), N("/V"): value})))
    writer.update_container(fields)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def append_revision(data: bytes, objects: dict[int, bytes], **trailer: int) -> bytes:
    """An incremental update written by hand (no writer rewriting Info or XMP on its own)."""
    reader = PdfFileReader(io.BytesIO(data))
    previous = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    size = max(int(reader.trailer["/Size"]), *(number + 1 for number in objects))
    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n"
    for number in sorted(offsets):
        out += b"%d 1\n%010d 00000 n \n" % (number, offsets[number])
    root = trailer.get("root", reader.trailer.raw_get("/Root").idnum)
    info = trailer.get("info", reader.trailer.raw_get("/Info").idnum)
    out += (b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, root, info, previous, start))
    return bytes(out)


def invisible_field(data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    fields = writer.root["/AcroForm"]["/Fields"]
    fields.append(writer.add_object(generic.DictionaryObject({
        N("/Type"): N("/Annot"), N("/Subtype"): N("/Widget"), N("/FT"): N("/Sig"),
        N("/T"): generic.TextStringObject("Ajout"), N("/Rect"): generic.ArrayObject([generic.NumberObject(0)] * 4)})))
    writer.update_container(fields)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def info_changed(data: bytes) -> bytes:
    info = PdfFileReader(io.BytesIO(data)).trailer.raw_get("/Info").idnum
    return append_revision(data, {info: b"<< /Title (Formulaire falsifie) /Producer (TrialDocs) >>"})


def xmp_changed(data: bytes, *, body: bytes | None = None, filters: bytes = b"") -> bytes:
    reader = PdfFileReader(io.BytesIO(data))
    metadata = reader.root.raw_get("/Metadata").idnum
    packet = body or reader.root["/Metadata"].data.replace(b'rdf:about=""', b'rdf:about="" dc:title="Autre titre" '
                                                           b'xmlns:dc="http://purl.org/dc/elements/1.1/"')
    return append_revision(data, {metadata: b"<< /Type /Metadata /Subtype /XML /Length %d %s>>\nstream\n"
                                  % (len(packet), filters) + packet + b"\nendstream"})


def orphan_objects(data: bytes) -> bytes:
    size = int(PdfFileReader(io.BytesIO(data)).trailer["/Size"])
    return append_revision(data, {size + n: b"<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] /Contents (x) >>"
                                  for n in range(3)})


def objects_appended_by_hand(data: bytes) -> bytes:
    return data + b"\n1 0 obj\n<< /Type /Annot >>\nendobj\nstartxref\n0\n%%EOF\n"


def contents_in_other_letter_case(data: bytes) -> bytes:
    start, length, resume, rest = (int(n) for n in re.search(
        rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", data).groups())
    gap = data[length:resume]
    return data[:length] + (gap.lower() if gap == gap.upper() else gap.upper()) + data[resume:]


CHANGED = {
    "an invisible signature field": (invisible_field, "un champ de signature invisible « Ajout » a été ajouté"),
    "info dictionary changed": (info_changed, "les informations du document (Info) ont été modifiées"),
    "xmp metadata changed": (xmp_changed, "les métadonnées XMP ont été modifiées"),
    "objects nothing refers to": (orphan_objects, "3 annotations ont été ajoutées"),
    "objects appended without a readable revision": (
        objects_appended_by_hand, "ont été ajoutés après la révision signée ; ils ne forment pas une révision PDF"),
}


def page_and_command(client, path, tmp_path):
    with path.open("rb") as handle:
        response = client.post("/verify/", {"pdf": handle})
    assert response.status_code == 200
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("verify_pdf", str(path), stdout=out)
    return response, response.content.decode(), out.getvalue() + str(refused.value)


@pytest.mark.parametrize("case", list(CHANGED), ids=list(CHANGED))
def test_a_file_changed_after_signing_says_the_original_is_intact_and_lists_the_changes(
        world, master_pdf, as_user, tmp_path, case):  # noqa: F811
    import html

    change, expected = CHANGED[case]
    path = tmp_path / "changed.pdf"
    path.write_bytes(change(master_pdf.read_bytes()))
    response, body, command = page_and_command(as_user(world.inspector), path, tmp_path)
    recognition = response.context["recognition"]
    body = html.unescape(body)
    assert "✘ Non vérifié" in body
    assert "Signature</dt><dd>intacte et de confiance</dd>" not in body  # was shown beside "Non vérifié"
    assert recognition.report.signed_revision_intact and not recognition.report.valid
    assert recognition.original_master is not None and recognition.master is None  # the stored original is named
    verdict = ("Non vérifié : la révision signée d'origine est intacte et c'est un document conservé ici, mais ce "
               "fichier a été modifié après la signature")
    assert recognition.verdict.startswith(verdict) and verdict in body
    assert any(expected in change for change in recognition.report.changes_after_signing), \
        recognition.report.changes_after_signing
    for words in (recognition.verdict, recognition.signature_status, *recognition.report.changes_after_signing):
        assert str(words) in body and str(words) in command  # the same words from the page and the command
    assert "Original signé" in body and "Signed original:    signed master of" in command


def test_a_copy_with_the_signature_container_in_other_letters_is_named_as_such(
        world, master_pdf, as_user, tmp_path):  # noqa: F811
    path = tmp_path / "recased.pdf"
    path.write_bytes(contents_in_other_letter_case(master_pdf.read_bytes()))
    response, body, command = page_and_command(as_user(world.sponsor), path, tmp_path)
    recognition = response.context["recognition"]
    assert recognition.report.valid and recognition.recased and recognition.original_master is not None
    assert not recognition.valid_and_matched
    assert "réécrit en d'autres lettres (majuscules ou minuscules) après la signature" in recognition.verdict
    assert str(recognition.verdict) in command


def test_the_stored_document_is_still_verified_with_the_same_words(world, master_pdf, as_user):  # noqa: F811
    with master_pdf.open("rb") as handle:
        response = as_user(world.sponsor).post("/verify/", {"pdf": handle})
    recognition = response.context["recognition"]
    assert recognition.valid_and_matched and recognition.report.changes_after_signing == []
    assert "✔ Vérifié" in response.content.decode()
    assert str(recognition.signature_status) == "intacte et de confiance"


# --- Bounded work -------------------------------------------------------------------------------------------------

@pytest.fixture
def validations(monkeypatch):
    """Counts the signatures pyHanko is asked to validate."""
    calls = []
    original = validation.async_validate_pdf_signature

    async def counted(*args, **kwargs):
        calls.append(args)
        return await original(*args, **kwargs)

    monkeypatch.setattr(validation, "async_validate_pdf_signature", counted)
    return calls


def test_the_issues_file_with_1600_signature_fields_is_refused_unexamined(
        world, master_pdf, as_user, tmp_path, validations):  # noqa: F811
    hostile = with_signature_fields(master_pdf.read_bytes(), 1600)
    report = verify_pdf(hostile)
    assert report.beyond_limits and not report.valid and validations == []
    assert "plus de 64 champs de formulaire" in report.problems[0]
    path = tmp_path / "hostile.pdf"
    path.write_bytes(hostile)
    with path.open("rb") as handle:
        body = as_user(world.coordinator_a).post("/verify/", {"pdf": handle}).content.decode()
    assert "✘ Non vérifié" in body and "au-delà de ce que la vérification examine" in body


def test_a_few_fields_pointing_at_the_signature_are_examined_and_listed(world, master_pdf, validations):  # noqa: F811
    report = verify_pdf(with_signature_fields(master_pdf.read_bytes(), 3))
    assert report.signed_revision_intact and not report.valid
    assert [change for change in report.changes_after_signing if "Champ" in change] == [
        f"un champ de signature invisible « Champ{n} » a été ajouté" for n in range(3)]
    assert len(validations) == 4  # the real signature, once per field naming it


def test_nine_signature_fields_are_beyond_the_cap(world, master_pdf, validations):  # noqa: F811
    report = verify_pdf(with_signature_fields(master_pdf.read_bytes(), 8))
    assert report.beyond_limits and "9 champs de signature" in report.problems[0] and validations == []


def revisions(data: bytes, count: int) -> bytes:
    info = PdfFileReader(io.BytesIO(data)).trailer.raw_get("/Info").idnum
    for _ in range(count):
        data = append_revision(data, {info: b"<< /Producer (x) >>"})
    return data


def declared_objects(data: bytes, count: int) -> bytes:
    size = int(PdfFileReader(io.BytesIO(data)).trailer["/Size"])
    return append_revision(data, {count: b"<< /Type /Annot >>"}) if count > size else data


def huge_container(data: bytes) -> bytes:
    return data.replace(b"%%EOF", b"4 0 obj\n<< /Contents <" + b"ab" * 70_000 + b"> >>\nendobj\n%%EOF", 1)


def metadata_bomb(data: bytes) -> bytes:
    bomb = zlib.compress(b" " * (40 * 1024 * 1024), 9)
    return xmp_changed(data, body=bomb, filters=b"/Filter /FlateDecode ")


BEYOND = {
    "nine revisions": (lambda data: revisions(data, 8), "révisions"),
    "thirty thousand objects": (lambda data: declared_objects(data, 30_000), "plus de 20000 objets"),
    "a signature container of 70 KB": (huge_container, "conteneur de signature"),
    "a flate bomb in the metadata": (metadata_bomb, "données compressées"),
}


@pytest.mark.parametrize("case", list(BEYOND), ids=list(BEYOND))
def test_files_beyond_each_cap_are_refused_with_a_message(world, master_pdf, validations, case):  # noqa: F811
    change, words = BEYOND[case]
    report = verify_pdf(change(master_pdf.read_bytes()))
    assert report.beyond_limits and not report.valid
    assert words in report.problems[0], report.problems
    if case != "a flate bomb in the metadata":  # the metadata are read after the signature was checked
        assert validations == []


def test_a_verification_that_overruns_its_time_is_stopped_with_a_message(world, master_pdf, monkeypatch):  # noqa: F811
    import multiprocessing
    import time

    monkeypatch.setattr(verify, "verify_pdf", lambda data, limits: time.sleep(60))
    report = verify_pdf_in_time(master_pdf.read_bytes(), seconds=0.3)
    assert report.beyond_limits and not report.valid
    assert "prend plus de temps que permis (0.3 s)" in report.problems[0]
    assert multiprocessing.active_children() == []  # the child was stopped, not left running


def test_the_verification_page_is_rate_limited_per_user(world, master_pdf, as_user, settings):  # noqa: F811
    from django.core.cache import cache
    from django.test import Client

    cache.clear()
    settings.VERIFY_THROTTLE = {"WINDOW_SECONDS": 300, "MAX_PER_USER": 2}
    client = as_user(world.inspector)
    for _ in range(2):
        with master_pdf.open("rb") as handle:
            assert client.post("/verify/", {"pdf": handle}).status_code == 200
    with master_pdf.open("rb") as handle:
        refused = client.post("/verify/", {"pdf": handle})
    assert refused.status_code == 429 and "recognition" not in refused.context
    assert "le maximum permis" in refused.content.decode() and refused["Retry-After"] == "300"
    other = Client()
    other.force_login(world.sponsor)
    with master_pdf.open("rb") as handle:
        assert other.post("/verify/", {"pdf": handle}).status_code == 200
