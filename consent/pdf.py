"""Print-ready PDF of consent forms (reportlab Platypus): A4, the trial in the header, the form's identity and
"page n / N" in every page's footer, drawn boxes to tick, fill in and sign, an embedded Unicode font, an
optional watermark, and byte-identical output for the same content (before signing)."""

import io
from collections import Counter
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm


def _register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    # No italic face is shipped: italics print upright rather than falling back to an unembedded font.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


STYLES = {
    "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=6, alignment=TA_CENTER),
    "part": ParagraphStyle("part", fontName=FONT_BOLD, fontSize=13, leading=17, spaceBefore=4, spaceAfter=6,
                           textColor=colors.HexColor("#0b3d6e")),
    1: ParagraphStyle("h1", fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
    2: ParagraphStyle("h2", fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=6, spaceAfter=3),
    3: ParagraphStyle("h3", fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=4, spaceAfter=2),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13.5, spaceAfter=4),
    "cell": ParagraphStyle("cell", fontName=FONT, fontSize=9, leading=11.5),
    "small": ParagraphStyle("small", fontName=FONT, fontSize=7.5, leading=9),
}


@dataclass(frozen=True)
class TrialHeader:
    short_name: str
    title: str
    nct_number: str
    sponsor: str


@dataclass(frozen=True)
class FormToPrint:
    """What the PDF needs of one version (kept apart from the model so rendering stays a pure function)."""

    title: str
    kind: str
    kind_label: str
    version_number: str
    version_date: str          # already formatted, e.g. "01/03/2026"
    approval_reference: str    # e.g. "Avis favorable CPP DEMO-CPP-2026-0077-AV du 02/04/2026", or "" when none
    content_hash: str
    information: list
    consent: list
    watermark: str = ""        # "" for the effective version; "BROUILLON", "VERSION REMPLACÉE"… otherwise


PART_TITLES = {
    "emergency": ("Note d'information", "Attestation de l'investigateur"),
}
DEFAULT_PART_TITLES = ("Note d'information", "Formulaire de consentement")


class _SafeMarkup(HTMLParser):
    """Rich text to reportlab paragraph markup: only b, i and line breaks survive; all text is escaped."""

    ALLOWED = {"b": "b", "strong": "b", "i": "i", "em": "i"}

    SKIPPED = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.open: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.ALLOWED:
            self.current.append(f"<{self.ALLOWED[tag]}>")
            self.open.append(self.ALLOWED[tag])
        elif tag == "br":
            self.current.append("<br/>")
        elif tag in ("p", "li", "h1", "h2", "h3", "h4", "div"):
            self._flush()

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.ALLOWED and self.open and self.open[-1] == self.ALLOWED[tag]:
            self.current.append(f"</{self.open.pop()}>")
        elif tag in ("p", "li", "h1", "h2", "h3", "h4", "div"):
            self._flush()

    def handle_data(self, data):
        if not self.skipping:
            self.current.append(escape(data, quote=False))

    def _flush(self):
        while self.open:
            self.current.append(f"</{self.open.pop()}>")
        text = "".join(self.current).strip()
        if text:
            self.paragraphs.append(text)
        self.current = []

    @classmethod
    def paragraphs_of(cls, html: str) -> list[str]:
        parser = cls()
        parser.feed(html or "")
        parser.close()
        parser._flush()
        return parser.paragraphs


def _text(value: str) -> str:
    return escape(value or "", quote=False).replace("\n", "<br/>")


class TickBox(Flowable):
    """An empty square to tick by hand."""

    def __init__(self, size: float = 4 * mm):
        super().__init__()
        self.size = size
        self.width = self.height = size

    def draw(self):
        self.canv.setLineWidth(0.8)
        self.canv.rect(0, 0, self.size, self.size)


class _FormStart(Flowable):
    """Invisible marker: the pages from here on belong to form number `index` (for footers and page counts)."""

    width = height = 0

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def draw(self):
        self.canv.form_index = self.index


def _style(*commands) -> TableStyle:
    """Every table cell in the embedded font: a bare string cell would otherwise use unembedded Helvetica."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


def _tick_line(text: str) -> Table:
    table = Table([[TickBox(), Paragraph(text, STYLES["body"])]], colWidths=[7 * mm, None])
    table.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (0, 0), 2)]))
    return table


def _block_flowables(block: dict) -> list:
    kind, value = block["type"], block["value"]
    if kind == "heading":
        return [Paragraph(_text(value["text"]), STYLES[int(value.get("level") or 1)])]
    if kind == "paragraph":
        return [Paragraph(p, STYLES["body"]) for p in _SafeMarkup.paragraphs_of(value)]
    if kind == "list":
        items = [ListItem(Paragraph(_text(item), STYLES["body"]), leftIndent=14) for item in value["items"]]
        if value.get("style") == "numbered":
            return [ListFlowable(items, bulletType="1", bulletFontName=FONT, leftIndent=14)]
        return [ListFlowable(items, bulletType="bullet", start="•", bulletFontName=FONT, leftIndent=14)]
    if kind == "table":
        rows = [[Paragraph(_text(cell), STYLES["cell"]) for cell in row] for row in value["rows"] if row]
        if not rows:
            return []
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        table = Table(rows, repeatRows=1 if value.get("first_row_is_header") else 0)
        style = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        if value.get("first_row_is_header"):
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
        table.setStyle(_style(*style))
        return [table, Spacer(1, 4)]
    if kind == "consent_statement":
        statement = _text(value["text"]) + (" <b>*</b>" if value.get("mandatory") else "")
        choices = Table([[TickBox(), Paragraph(_text(value["accept_label"]), STYLES["body"]),
                          TickBox(), Paragraph(_text(value["refuse_label"]), STYLES["body"])]],
                        colWidths=[7 * mm, 70 * mm, 7 * mm, None])
        choices.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        return [KeepTogether([Paragraph(statement, STYLES["body"]), choices, Spacer(1, 4)])]
    if kind == "checkbox":
        return [_tick_line(_text(value["text"]))]
    if kind == "fill_in":
        table = Table([[Paragraph(_text(value["label"]), STYLES["body"]), ""]], colWidths=[60 * mm, None],
                      rowHeights=[9 * mm])
        table.setStyle(_style(*[("LINEBELOW", (1, 0), (1, 0), 0.6, colors.black),
                                   ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
        return [table]
    if kind == "signature":
        label = Paragraph(f"<b>{_text(value['label'])}</b>", STYLES["body"])
        rows = [[label, ""], ["Nom et prénom", ""], ["Date (jj/mm/aaaa)", ""], ["Heure (hh:mm)", ""],
                ["Signature", ""]]
        table = Table(rows, colWidths=[45 * mm, None], rowHeights=[None, 9 * mm, 9 * mm, 9 * mm, 22 * mm])
        table.setStyle(_style(*[
            ("SPAN", (0, 0), (1, 0)), ("FONTNAME", (0, 1), (0, -1), FONT), ("FONTSIZE", (0, 1), (0, -1), 9),
            ("BOX", (1, 1), (1, -1), 0.8, colors.black), ("INNERGRID", (1, 1), (1, -1), 0.5, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        return [KeepTogether([table, Spacer(1, 6)])]
    if kind == "page_break":
        return [PageBreak()]
    return []


def _form_story(form: FormToPrint, index: int) -> list:
    information_title, consent_title = PART_TITLES.get(form.kind, DEFAULT_PART_TITLES)
    story = [_FormStart(index), Paragraph(_text(form.title), STYLES["title"])]
    if form.information:
        story.append(Paragraph(information_title, STYLES["part"]))
        for block in form.information:
            story.extend(_block_flowables(block))
        if form.consent:
            story.append(PageBreak())
    if form.consent:
        story.append(Paragraph(consent_title, STYLES["part"]))
        for block in form.consent:
            story.extend(_block_flowables(block))
    return story


def _canvas_class(forms: list[FormToPrint], header: TrialHeader):
    class FormCanvas(Canvas):
        """Draws header, footer and watermark once the page count of each form is known."""

        def __init__(self, *args, **kwargs):
            kwargs.update(initialFontName=FONT, initialFontSize=10)  # else an unembedded Helvetica remains
            super().__init__(*args, **kwargs)
            self.form_index = 0
            self._pages: list[tuple[dict, int]] = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._pages.append((dict(self.__dict__), self.form_index))
            self._startPage()

        def save(self):
            totals = Counter(index for _state, index in self._pages)
            seen: Counter = Counter()
            for state, index in self._pages:
                self.__dict__.update(state)
                seen[index] += 1
                _draw_page_chrome(self, header, forms[index], seen[index], totals[index])
                super().showPage()
            super().save()

    return FormCanvas


def _fit(text: str, width: float, size: float) -> str:
    """Shorten a footer line to its width rather than letting it run into its neighbour."""
    if pdfmetrics.stringWidth(text, FONT, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_page_chrome(canvas: Canvas, header: TrialHeader, form: FormToPrint, page: int, pages: int) -> None:
    canvas.saveState()
    top = PAGE_HEIGHT - 10 * mm
    canvas.setFont(FONT_BOLD, 8.5)
    name = header.nct_number if header.short_name == header.nct_number else f"{header.short_name} — {header.nct_number}"
    canvas.drawString(MARGIN, top, name)
    canvas.setFont(FONT, 7.5)
    canvas.drawRightString(PAGE_WIDTH - MARGIN, top, f"Promoteur : {header.sponsor}")
    title = header.title if len(header.title) <= 150 else header.title[:147] + "…"
    canvas.drawString(MARGIN, top - 10, title)
    canvas.setLineWidth(0.4)
    canvas.line(MARGIN, top - 14, PAGE_WIDTH - MARGIN, top - 14)

    bottom = 8 * mm
    canvas.line(MARGIN, bottom + 17, PAGE_WIDTH - MARGIN, bottom + 17)
    canvas.setFont(FONT, 7.5)
    right_width = 42 * mm
    left_width = PAGE_WIDTH - 2 * MARGIN - right_width
    canvas.drawString(MARGIN, bottom + 8, _fit(f"{form.kind_label} — Version {form.version_number} du "
                                               f"{form.version_date}", left_width, 7.5))
    canvas.drawString(MARGIN, bottom, _fit(form.approval_reference or "Sans avis favorable", left_width, 7.5))
    canvas.drawRightString(PAGE_WIDTH - MARGIN, bottom + 8, f"page {page} / {pages}")
    canvas.drawRightString(PAGE_WIDTH - MARGIN, bottom, f"Empreinte {form.content_hash[:16]}")
    if form.watermark:
        canvas.setFillColor(colors.Color(0.7, 0.05, 0.05))
        canvas.setFont(FONT_BOLD, 8)
        canvas.drawCentredString(PAGE_WIDTH / 2, top - 24,
                                 f"{form.watermark} — ne pas utiliser pour recueillir un consentement")
        canvas.setFillColor(colors.Color(0.75, 0.1, 0.1, alpha=0.18))
        canvas.setFont(FONT_BOLD, 64 if len(form.watermark) < 12 else 46)
        canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, 0, form.watermark)
    canvas.restoreState()


def render_forms(forms: list[FormToPrint], *, header: TrialHeader, title: str = "") -> bytes:
    """One PDF with the forms one after the other, each starting on a new page with its own page count."""
    if not forms:
        raise ValueError("Nothing to print.")
    _register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=24 * mm, bottomMargin=22 * mm,
        title=title or forms[0].title, author=header.sponsor, subject=header.nct_number,
        creator="TrialDocs", producer="TrialDocs (reportlab)", invariant=1, lang="fr",
    )
    story: list = []
    for index, form in enumerate(forms):
        if index:
            story.append(PageBreak())
        story.extend(_form_story(form, index))
    document.build(story, canvasmaker=_canvas_class(forms, header))
    return buffer.getvalue()


@dataclass(frozen=True)
class SignerToPrint:
    printed_name: str
    signed_at: str        # date and time with the time zone, e.g. "25/11/2026 14:03 (Europe/Paris, UTC+01:00)"
    meaning: str          # "Consentement recueilli par", "Signé par le participant", "Signé par le proche (fille)",
    #                       "Signé par le proche (fille), en qualité de représentant du patient hors d'état…"
    image_png: bytes | None = None


@dataclass(frozen=True)
class RecordToPrint:
    """The consent record printed after the form it concerns."""

    participant_code: str
    outcome: str
    facts: list            # [(label, value)]
    statements: list       # [(statement text, answer label, accepted: bool | None)]
    signers: list          # [SignerToPrint]
    verification_url: str


class MarkedBox(TickBox):
    """A box that is ticked (drawn cross) or left empty."""

    def __init__(self, ticked: bool, size: float = 4 * mm):
        super().__init__(size)
        self.ticked = ticked

    def draw(self):
        super().draw()
        if self.ticked:
            self.canv.setLineWidth(1.2)
            self.canv.line(0.8, 0.8, self.size - 0.8, self.size - 0.8)
            self.canv.line(0.8, self.size - 0.8, self.size - 0.8, 0.8)


def _qr(url: str, size: float = 28 * mm):
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(url)
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    return drawing


def _record_story(record: RecordToPrint) -> list:
    from reportlab.platypus import Image

    story = [PageBreak(), Paragraph("Recueil du consentement", STYLES["part"])]
    facts = [[Paragraph(f"<b>{_text(label)}</b>", STYLES["cell"]), Paragraph(_text(value), STYLES["cell"])]
             for label, value in [("Participant", record.participant_code), ("Décision", record.outcome),
                                  *record.facts]]
    table = Table(facts, colWidths=[55 * mm, None])
    table.setStyle(_style(("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")))
    story += [table, Spacer(1, 6)]
    if record.statements:
        story.append(Paragraph("Déclarations", STYLES[2]))
        for text, answer, accepted in record.statements:
            row = Table([[MarkedBox(accepted is True), Paragraph(_text(text), STYLES["body"]),
                          Paragraph(f"<b>{_text(answer)}</b>", STYLES["body"])]], colWidths=[7 * mm, None, 45 * mm])
            row.setStyle(_style(("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)))
            story.append(row)
    story.append(Paragraph("Signatures", STYLES[2]))
    for signer in record.signers:
        picture = ""
        if signer.image_png:
            picture = Image(io.BytesIO(signer.image_png), width=60 * mm, height=22 * mm, kind="proportional")
        block = Table([
            [Paragraph(f"<b>{_text(signer.meaning)}</b>", STYLES["body"]), picture],
            [Paragraph(_text(signer.printed_name), STYLES["body"]), ""],
            [Paragraph(_text(signer.signed_at), STYLES["cell"]), ""],
        ], colWidths=[95 * mm, None], rowHeights=[None, None, None])
        block.setStyle(_style(("SPAN", (1, 0), (1, 2)), ("BOX", (0, 0), (-1, -1), 0.6, colors.grey),
                              ("VALIGN", (0, 0), (-1, -1), "MIDDLE")))
        story += [KeepTogether([block, Spacer(1, 5)])]
    verification = Table([[_qr(record.verification_url), Paragraph(
        "Ce document est signé électroniquement (PAdES) par le centre. Pour le vérifier, ouvrez "
        f"<b>{_text(record.verification_url)}</b> ou déposez le fichier PDF sur la page de vérification de "
        "TrialDocs.", STYLES["cell"])]], colWidths=[32 * mm, None])
    verification.setStyle(_style(("VALIGN", (0, 0), (-1, -1), "MIDDLE")))
    story += [Spacer(1, 6), verification]
    return story


def render_consent_record(form: FormToPrint, record: RecordToPrint, *, header: TrialHeader) -> bytes:
    """The exact text of the version that was signed, followed by the record of who signed what, and when."""
    _register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=24 * mm, bottomMargin=22 * mm,
        title=f"Consentement {record.participant_code} — {form.title}", author=header.sponsor,
        subject=header.nct_number, creator="TrialDocs", producer="TrialDocs (reportlab)", invariant=1, lang="fr",
    )
    document.build(_form_story(form, 0) + _record_story(record), canvasmaker=_canvas_class([form], header))
    return buffer.getvalue()
