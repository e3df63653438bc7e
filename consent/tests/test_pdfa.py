"""PDF/A-2b of what TrialDocs writes: printed masters, consent records, TMF record sheets, signed or not.

veraPDF (the reference validator, Java) does not run on this machine. What can be checked here is checked with
independent readers: pikepdf (qpdf) for the structure and its PDF/A-2b rule checker (`pikepdf.pdfa`, built on the
veraPDF rule catalogue, for the files without signature fields, which it does not examine), lxml for the XMP
packet, poppler's `pdffonts` for the fonts. The README says how to run veraPDF on a file.
"""

import dataclasses
import io
import re
import shutil
import subprocess
from types import SimpleNamespace

import pikepdf
import pytest
from lxml import etree
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from consent import pki
from consent.pdf import RecordToPrint, SignerToPrint, render_consent_record, render_forms
from consent.signing import SignatureRequest, sign_pdf
from consent.tests.test_pdf import FORM, HEADER
from consent.tests.test_signing import dummy_timestamper
from consent.verification import verify_pdf
from regulatory.tmf.sheets import record_sheet

pytestmark = pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils is installed by .ci/run")

NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
      "dc": "http://purl.org/dc/elements/1.1/"}
FORBIDDEN_KEYS = {"/JS", "/JavaScript", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/FFilter", "/FDecodeParms",
                  "/AA", "/Encrypt", "/XFA", "/OPI", "/PS", "/Alternates"}


def _xmp_value(root, prefix: str, name: str) -> str | None:
    namespace = NS[prefix]
    element = root.find(f".//{{{namespace}}}{name}")
    if element is not None:
        item = element.find(".//rdf:li", NS)
        return (item if item is not None else element).text
    for description in root.iterfind(".//rdf:Description", NS):
        if f"{{{namespace}}}{name}" in description.attrib:
            return description.get(f"{{{namespace}}}{name}")
    return None


def pdfa_problems(data: bytes, tmp_path, *, signed: bool = False) -> list[str]:
    """What stands between the file and PDF/A-2b, among what can be checked without veraPDF ([] when nothing)."""
    problems = []
    if not re.match(rb"%PDF-1\.[0-7]\r?\n%[\x80-\xff]{4}", data[:20]):
        problems.append("header: %PDF-1.x then a comment of four bytes above 127")
    path = tmp_path / "checked.pdf"
    path.write_bytes(data)
    with pikepdf.open(path) as pdf:
        root = pdf.Root
        if pdf.is_encrypted or "/Encrypt" in pdf.trailer:
            problems.append("encrypted")
        if "/ID" not in pdf.trailer:
            problems.append("no /ID in the trailer")
        if str(root.get("/Version", "/1.7")) > "/1.7":
            problems.append(f"catalogue /Version {root.get('/Version')}")
        # XMP: the PDF/A-2b claim, uncompressed, the title as in the document information
        if "/Metadata" not in root:
            problems.append("no XMP metadata")
        else:
            if "/Filter" in root.Metadata:
                problems.append("the XMP stream is compressed")
            xmp = etree.fromstring(root.Metadata.read_bytes())
            claim = (_xmp_value(xmp, "pdfaid", "part"), _xmp_value(xmp, "pdfaid", "conformance"))
            if claim != ("2", "B"):
                problems.append(f"XMP claims {claim}")
            if _xmp_value(xmp, "dc", "title") != str(pdf.docinfo.get("/Title")):
                problems.append("XMP dc:title differs from Info /Title")
        # the sRGB output intent
        intents = [i for i in root.get("/OutputIntents", []) if i.get("/S") == "/GTS_PDFA1"]
        if len(intents) != 1:
            problems.append(f"{len(intents)} PDF/A output intents")
        else:
            profile = intents[0].DestOutputProfile
            icc = profile.read_bytes()
            if not (icc[12:16] == b"mntr" and icc[16:20] == b"RGB " and icc[8] < 5 and int(profile.N) == 3):
                problems.append("the output intent's profile is not an RGB display profile (ICC < 5, N 3)")
        # nothing executable, no external content, no attachment
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                keys = set(obj.keys()) & FORBIDDEN_KEYS
                if isinstance(obj, pikepdf.Stream) and "/F" in obj:
                    keys.add("/F (external stream)")
                if obj.get("/S") in ("/JavaScript", "/Launch", "/ImportData", "/ResetForm"):
                    keys.add(f"action {obj.get('/S')}")
                if keys:
                    problems.append(f"{obj.objgen}: {sorted(keys)}")
        for page in pdf.pages:
            for annotation in page.get("/Annots", []):
                flags = int(annotation.get("/F", 0))
                if not flags & 4 or flags & (1 | 2 | 32):
                    problems.append(f"annotation {annotation.get('/Subtype')} without the print flag, or hidden")
    # every font embedded (poppler, an independent reader)
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    if not lines:
        problems.append("no font")
    for line in lines:
        embedded = re.search(r"\s(yes|no)\s+(?:yes|no)\s+(?:yes|no)\s+(?:\d+\s+\d+|\[none\])\s*$", line)
        if not embedded or embedded.group(1) != "yes":
            problems.append(f"not embedded: {line}")
    if not signed:  # pikepdf's rule checker leaves signature fields aside ("unsupported"): unsigned files only
        report = pikepdf.pdfa.validate_written(path, "2b")
        if report.verdict != "pass":
            findings = [str(finding) for finding in report.violations + report.unsupported]
            problems.append(f"pikepdf.pdfa: {report.verdict} {findings}")
    return problems


def _signature_png() -> bytes:
    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    for x in range(20, 280):
        image.putpixel((x, 50 + (x % 20) - 10), (0, 0, 80, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


RECORD = RecordToPrint(
    participant_code="DIJ-0001", outcome="Consentement donné",
    facts=[("Participant", "DIJ-0001"), ("Recueilli par", "Dr Élodie Lefèvre")],
    statements=[("J'accepte de participer.", "J'accepte", True)],
    signers=[SignerToPrint(printed_name="Jeanne Œuvray", signed_at="25/11/2026 14:03 (Europe/Paris, UTC+01:00)",
                           meaning="Signé par le participant", image_png=_signature_png(), roles=("participant",))],
    verification_url="https://trialdocs.example/verify/",
)
TRIAL = SimpleNamespace(acronym="ARGIPRESSIN", title="Argipressine", nct_number="NCT07063680",
                        sponsor_name="CHU Dijon Bourgogne")


def test_a_printed_master_a_consent_record_and_a_record_sheet_are_pdfa_2b(tmp_path):
    documents = {
        "master": render_forms([FORM], header=HEADER),
        "consent record": render_consent_record(FORM, RECORD, header=HEADER),
        "record sheet": record_sheet(trial=TRIAL, title="Courrier du CPP — avis favorable",
                                     rows=[("Référence", "CPP-2026-0077"), ("Date", "02/04/2026")],
                                     body="Le comité émet un avis favorable.\nÀ Dijon, le 02/04/2026."),
    }
    for name, data in documents.items():
        assert pdfa_problems(data, tmp_path) == [], name


def test_a_signed_and_a_timestamped_master_stay_pdfa_2b_and_verify(tmp_path, settings):
    settings.TRIALDOCS_PKI_DIR = tmp_path / "pki"
    pki.ensure_identities(sponsor_name="CHU Dijon Bourgogne", site_codes=["DIJ"])
    identity = pki.load_identity(role="site", site_code="DIJ")
    request = SignatureRequest(field_name="Investigateur", reason="Consentement recueilli", location="Dijon, FR")
    unsigned = render_consent_record(FORM, RECORD, header=HEADER)
    for timestamper in (None, dummy_timestamper()):
        signed = sign_pdf(unsigned, identity=identity, request=request, timestamper=timestamper)
        assert signed.startswith(unsigned)  # an incremental update
        assert pdfa_problems(signed, tmp_path, signed=True) == []
        report = verify_pdf(signed)
        assert report.valid, report.problems


def test_the_checks_find_what_plain_reportlab_writes(tmp_path):
    """The same checks refuse a PDF without the archival parts (so they can fail)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1)
    canvas.drawString(72, 720, "Helvetica, not embedded")
    canvas.showPage()
    canvas.save()
    problems = pdfa_problems(buffer.getvalue(), tmp_path)
    assert "no XMP metadata" in problems and "0 PDF/A output intents" in problems
    assert any(problem.startswith("not embedded") for problem in problems)


def test_a_watermarked_draft_and_several_forms_are_pdfa_too(tmp_path):
    draft = dataclasses.replace(FORM, watermark="BROUILLON")
    assert pdfa_problems(render_forms([draft, FORM], header=HEADER), tmp_path) == []
