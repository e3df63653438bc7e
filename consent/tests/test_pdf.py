"""The printed form through reportlab, read back with poppler (pdftotext, pdffonts): an independent reader."""

import dataclasses
import shutil
import subprocess

import pytest

from consent.pdf import FormToPrint, TrialHeader, render_forms

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is installed by .ci/run")

HEADER = TrialHeader(short_name="NCT07063680", nct_number="NCT07063680",
                     sponsor="Centre Hospitalier Universitaire Dijon",
                     title="Efficacy of Early Argipressin in the Management of Intensive Care Patients With "
                           "Norepinephrine-refractory Vasoplegic Shock")
LONG_INFORMATION = [
    {"type": "heading", "value": {"text": "Pourquoi cette étude ?", "level": 1}},
    {"type": "paragraph", "value": "<p>Noradrénaline ≥ 0,25 µg/kg/min ; œdème ; Ça, à J30, réanimation.</p>"},
    {"type": "list", "value": {"style": "numbered", "items": ["Inclusion", "Suivi à J90"]}},
    {"type": "table", "value": {"first_row_is_header": True, "rows": [["Jour", "Examen"], ["J0", "Bilan"]]}},
] * 12
FORM = FormToPrint(
    title="Note d'information et consentement du patient", kind="patient", kind_label="Consentement du patient",
    version_number="2.0", version_date="01/03/2026", approval_reference="Avis favorable CPP REF-1 du 02/04/2026",
    content_hash="0123456789abcdef" * 4, information=LONG_INFORMATION,
    consent=[{"type": "consent_statement", "value": {"text": "J'accepte de participer.", "accept_label": "J'accepte",
                                                     "refuse_label": "Je n'accepte pas", "mandatory": True}},
             {"type": "signature", "value": {"role": "participant", "label": "Le patient"}}],
)


def pages_text(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "form.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [page for page in text.split("\f") if page.strip()]


def test_every_page_carries_the_version_footer_with_accents_intact(tmp_path):
    pages = pages_text(render_forms([FORM], header=HEADER), tmp_path)
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert "Consentement du patient — Version 2.0 du 01/03/2026" in page
        assert "Avis favorable CPP REF-1 du 02/04/2026" in page
        assert f"page {number} / {len(pages)}" in page
        assert "Empreinte 0123456789abcdef" in page
        assert "NCT07063680" in page and "Centre Hospitalier Universitaire Dijon" in page
    body = "\n".join(pages)
    for text in ("Pourquoi cette étude ?", "≥ 0,25 µg/kg/min", "œdème", "Ça, à J30", "J'accepte"):
        assert text in body


def test_rendering_is_byte_identical_for_the_same_content():
    assert render_forms([FORM], header=HEADER) == render_forms([FORM], header=HEADER)
    changed = dataclasses.replace(FORM, version_number="2.1")
    assert render_forms([changed], header=HEADER) != render_forms([FORM], header=HEADER)


def test_only_embedded_fonts(tmp_path):
    path = tmp_path / "form.pdf"
    path.write_bytes(render_forms([FORM], header=HEADER))
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert lines and all(" yes yes yes " in line for line in lines), lines


def test_a_watermark_is_on_every_page_of_a_non_current_version(tmp_path):
    pages = pages_text(render_forms([dataclasses.replace(FORM, watermark="VERSION REMPLACÉE")], header=HEADER),
                       tmp_path)
    assert all("VERSION REMPLACÉE — ne pas utiliser pour recueillir un consentement" in page for page in pages)
    assert not any("REMPLAC" in page for page in pages_text(render_forms([FORM], header=HEADER), tmp_path))


def test_bulk_print_numbers_pages_form_by_form(tmp_path):
    short = dataclasses.replace(FORM, kind_label="Consentement de poursuite", information=LONG_INFORMATION[:4])
    pages = pages_text(render_forms([FORM, short], header=HEADER), tmp_path)
    first = [p for p in pages if "Consentement du patient — Version" in p]
    second = [p for p in pages if "Consentement de poursuite — Version" in p]
    assert len(first) + len(second) == len(pages)
    assert f"page {len(second)} / {len(second)}" in second[-1] and "page 1 /" in second[0]


def test_markup_in_content_is_printed_as_text_never_interpreted(tmp_path):
    hostile = dataclasses.replace(FORM, title="<b>Titre</b> & <font size=80>x</font>", information=[
        {"type": "paragraph", "value": "<p>Texte <script>alert(1)</script><img src=x onerror=y> <b>gras</b></p>"},
        {"type": "heading", "value": {"text": "<para>oops</para> & <unknown>", "level": 1}},
    ])
    body = "\n".join(pages_text(render_forms([hostile], header=HEADER), tmp_path))
    assert "<b>Titre</b> & <font size=80>x</font>" in body
    assert "alert(1)" not in body and "gras" in body
    assert "<para>oops</para> & <unknown>" in body
