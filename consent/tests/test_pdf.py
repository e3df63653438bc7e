"""The printed form through reportlab, read back with poppler (pdftotext, pdffonts): an independent reader."""

import dataclasses
import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from consent.pdf import FRAME_WIDTHS, FormToPrint, TrialHeader, plan_table, render_forms

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


# ----------------------------------------------------------------------------------------------------------------
# Nothing drawn over anything, whatever the content: text boxes read back by poppler (`pdftotext -bbox`)
# ----------------------------------------------------------------------------------------------------------------

WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
OVERLAP = 0.8  # points: glyph boxes of neighbouring lines may touch; text drawn over text overlaps far more


@dataclasses.dataclass(frozen=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def page_words(pdf: bytes, tmp_path) -> list[tuple[float, float, list[Word]]]:
    """(width, height, words) of every page, as poppler lays the text out."""
    path = tmp_path / "boxes.pdf"
    path.write_bytes(pdf)
    xhtml = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [(float(width), float(height),
             [Word(float(a), float(b), float(c), float(d), html.unescape(t)) for a, b, c, d, t in WORD.findall(body)])
            for width, height, body in PAGE.findall(xhtml)]


def overlaps(pages) -> list[tuple[int, str, str]]:
    """Pairs of words whose boxes overlap on a page (page number, word, word), and words off the page."""
    found = []
    for number, (width, height, words) in enumerate(pages, start=1):
        found += [(number, word.text, "off the page") for word in words
                  if word.x0 < -0.5 or word.y0 < -0.5 or word.x1 > width + 0.5 or word.y1 > height + 0.5]
        ordered = sorted(words, key=lambda w: w.y0)
        for index, word in enumerate(ordered):
            for other in ordered[index + 1:]:
                if other.y0 >= word.y1 - OVERLAP:
                    break
                if min(word.x1, other.x1) - max(word.x0, other.x0) > OVERLAP \
                        and min(word.y1, other.y1) - max(word.y0, other.y0) > OVERLAP:
                    found.append((number, word.text, other.text))
    return found


def flat_text(pdf: bytes, tmp_path) -> str:
    return " ".join(" ".join(pages_text(pdf, tmp_path)).split())


DECLARATION = (  # a legally authorised representative's declaration, 340+ characters, as a blank's label
    "Legally Authorized Representative (LAR) for an Adult Unable to Consent: I have read the explanation about this "
    "study and have been given the opportunity to discuss it and to ask questions. I am legally authorized to make "
    "research decisions on behalf of the adult participant unable to consent and have the authority to provide "
    "consent to this study. My signature also indicates that I have received a copy of this consent form.")


def test_a_long_fill_in_label_prints_whole_and_overlaps_nothing(tmp_path):
    assert len(DECLARATION) > 340
    form = dataclasses.replace(FORM, information=[], consent=[
        {"type": "paragraph", "value": "<p>" + "Le texte qui précède la déclaration, sur des lignes. " * 6 + "</p>"},
        {"type": "fill_in", "value": {"label": DECLARATION}},
        {"type": "fill_in", "value": {"label": "Tentatives de contact (heures, personnes)"}},
        {"type": "fill_in", "value": {"label": "Code participant"}},
        {"type": "signature", "value": {"role": "surrogate", "label": "Signature of LAR"}},
    ])
    pdf = render_forms([form], header=HEADER)

    assert overlaps(page_words(pdf, tmp_path)) == []
    text = flat_text(pdf, tmp_path)
    assert DECLARATION in text  # whole, in order, wrapped over several lines
    assert "Tentatives de contact (heures, personnes)" in text and "Code participant" in text


def table(columns: int, rows: int, *, header: bool = True) -> dict:
    head = [f"Visite J{column * 7}" for column in range(columns)]
    body = [[f"Bilan {row}.{column} hémoglobine" if column % 3 else "X" for column in range(columns)]
            for row in range(rows - 1)]
    return {"first_row_is_header": header, "rows": [head, *body]}


@pytest.mark.parametrize(("columns", "rows"), [(28, 19), (20, 12), (28, 30), (40, 25), (15, 21)],
                         ids=["19x28", "20 columns", "28 columns", "40 columns", "15 columns"])
def test_a_table_wider_than_the_page_prints_every_cell_inside_the_page(tmp_path, columns, rows):
    value = table(columns, rows)
    form = dataclasses.replace(FORM, information=[
        {"type": "paragraph", "value": "<p>Avant le tableau.</p>"},
        {"type": "heading", "value": {"text": "Calendrier des visites", "level": 2}}, {"type": "table", "value": value},
        {"type": "paragraph", "value": "<p>Après le tableau.</p>"}], consent=FORM.consent)
    pdf = render_forms([form], header=HEADER)  # was a LayoutError ("negative availWidth" for the widest): a 500

    pages = page_words(pdf, tmp_path)
    assert overlaps(pages) == []
    words = [word.text for _width, _height, page in pages for word in page]
    for row in value["rows"]:
        for cell in row:
            for word in cell.split():
                assert word in words
    assert any(width > height for width, height, _words in pages)  # a landscape page for the table
    portrait = [number for number, (width, height, _w) in enumerate(pages) if width < height]
    assert portrait[0] == 0 and portrait[-1] == len(pages) - 1  # the text around it stays on portrait pages
    table_pages = [{word.text for word in page} for width, height, page in pages if width > height]
    assert all({"Visite", "J0"} <= page for page in table_pages)  # header row, and first column, on every page
    assert "Calendrier" in table_pages[0]  # the table's heading goes with it


def test_a_row_taller_than_a_page_continues_on_the_next(tmp_path):
    long_cell = "Le patient ne présente aucune contre-indication connue à l'argipressine. " * 140
    form = dataclasses.replace(FORM, information=[{"type": "table", "value": {
        "first_row_is_header": True, "rows": [["Critère", "Détail"], ["Exclusion", long_cell], ["Fin", "."]]}}])
    pdf = render_forms([form], header=HEADER)  # was a LayoutError: a row cannot be taller than a page

    pages = page_words(pdf, tmp_path)
    assert overlaps(pages) == []
    assert len(pages) > 2
    assert sum(word.text == "l'argipressine." for _w, _h, page in pages for word in page) == 140  # none lost


def test_table_plans_leave_ordinary_tables_alone_and_say_what_they_change():
    assert plan_table({"first_row_is_header": True, "rows": [["Jour", "Examen"], ["J0", "Bilan"]]}).adjusted is False
    twelve = plan_table(table(12, 5))
    assert (twelve.orientation, len(twelve.parts)) == ("landscape", 1)
    forty = plan_table(table(40, 5))
    assert len(forty.parts) > 1 and all(part[0] == 0 for part in forty.parts)
    assert sorted({column for part in forty.parts for column in part}) == list(range(40))
    assert all(sum(widths) <= FRAME_WIDTHS["landscape"] + 0.5 for widths in forty.widths)


def test_a_numbered_list_of_ten_items_or_more_keeps_its_numbers_off_the_text(tmp_path):
    items = [f"Critère d'inclusion numéro {number}" for number in range(1, 13)]
    form = dataclasses.replace(FORM, information=[{"type": "list", "value": {"style": "numbered", "items": items}}])

    assert overlaps(page_words(render_forms([form], header=HEADER), tmp_path)) == []  # "10." overran the text


FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "docx"


@pytest.mark.parametrize("path", sorted(p for p in FIXTURES.glob("*.docx") if "TrackedChanges" not in p.name),
                         ids=lambda p: p.stem)
def test_real_documents_print_with_nothing_drawn_over_anything(tmp_path, path):
    from consent.docx import import_docx

    result = import_docx(path.read_bytes())
    form = dataclasses.replace(FORM, title=result.title, information=result.information, consent=result.consent)

    assert overlaps(page_words(render_forms([form], header=HEADER), tmp_path)) == []


# ----------------------------------------------------------------------------------------------------------------
# Blanks line up: the writing lines, found in the page's image (pdftoppm), against the labels' text boxes
# ----------------------------------------------------------------------------------------------------------------

def writing_lines(pdf: bytes, tmp_path, page: int, dpi: int = 144) -> list[tuple[float, float, float]]:
    """Horizontal rules of a page as (y, x0, x1) in points: runs of dark pixels at least 30 mm long, read from
    the page rendered by poppler (what a printer draws), one entry per rule."""
    from PIL import Image

    path = tmp_path / "lines.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(page), "-l", str(page), str(path),
                    str(tmp_path / "lines")], check=True)
    image = Image.open(next(tmp_path.glob("lines-*.png"))).convert("L")
    width, height = image.size
    pixels = image.load()
    scale = 72 / dpi
    rules, previous_row = [], None
    for y in range(height):
        run_start, best = None, (0, 0, 0)
        for x in range(width + 1):
            dark = x < width and pixels[x, y] < 128
            if dark and run_start is None:
                run_start = x
            elif not dark and run_start is not None:
                if x - run_start > best[0]:
                    best = (x - run_start, run_start, x)
                run_start = None
        if best[0] * scale >= 85:  # 30 mm
            if previous_row is not None and y - previous_row <= 2:  # the same rule, a pixel thicker
                previous_row = y
                continue
            rules.append((y * scale, best[1] * scale, best[2] * scale))
            previous_row = y
        else:
            previous_row = None
    return rules


def test_the_emergency_forms_blanks_line_up_with_their_labels(tmp_path):
    """"Code participant" and "Tentatives de contact (heures, personnes)" (two lines) as on the emergency form:
    each label's last line sits just above its writing line, at the same distance for both, and both lines
    start and end at the same place."""
    form = dataclasses.replace(FORM, information=[], consent=[
        {"type": "checkbox", "value": {"text": "Aucune opposition antérieure du patient n'est connue."}},
        {"type": "fill_in", "value": {"label": "Code participant"}},
        {"type": "fill_in", "value": {"label": "Tentatives de contact (heures, personnes)"}},
    ])
    pdf = render_forms([form], header=HEADER)
    (_width, _height, words), = page_words(pdf, tmp_path)
    code = [w for w in words if w.text in ("Code", "participant")]
    below = [w for w in words if w.y0 > code[0].y1 - 1]
    attempts = [w for w in below if w.text in ("Tentatives", "de", "contact", "(heures,", "personnes)")]
    assert len(code) == 2 and len(attempts) == 5
    lines = [rule for rule in writing_lines(pdf, tmp_path, 1)
             if rule[0] > min(w.y0 for w in code) and rule[1] > max(w.x1 for w in code + attempts)]
    assert len(lines) == 2, lines
    gaps = [line[0] - max(w.y1 for w in label) for line, label in zip(lines, (code, attempts), strict=True)]
    assert all(0 <= gap <= 6 for gap in gaps), gaps  # on the line, not floating above it
    assert abs(gaps[0] - gaps[1]) <= 1, gaps
    # the two-line label stays in its own row, below the first blank's line (it once grew upwards over it)
    assert min(w.y0 for w in attempts) >= lines[0][0] + 2
    assert abs(lines[0][1] - lines[1][1]) <= 1 and abs(lines[0][2] - lines[1][2]) <= 1
    assert min(w.x0 for w in code) == pytest.approx(min(w.x0 for w in attempts), abs=0.5)
