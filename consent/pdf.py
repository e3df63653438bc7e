"""Print-ready PDF of consent forms (reportlab Platypus): A4, the trial in the header, the form's identity and
"page n / N" in every page's footer, drawn boxes to tick, fill in and sign, an embedded Unicode font, an
optional watermark, and byte-identical output for the same content (before signing). Every file is PDF/A-2b
(`cms.pdfa.ArchivalCanvas`)."""

import io
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from html.parser import HTMLParser

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import NextPageTemplate
from reportlab.platypus.flowables import PageBreakIfNotEmpty

from cms.pdf_fonts import FONT, FONT_BOLD
from cms.pdf_fonts import register_fonts as _register_fonts
from cms.pdfa import ArchivalCanvas

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
TOP_MARGIN, BOTTOM_MARGIN = 24 * mm, 22 * mm
PORTRAIT, LANDSCAPE = "portrait", "landscape"
PAGE_SIZES = {PORTRAIT: A4, LANDSCAPE: landscape(A4)}
FRAME_PADDING = 6  # reportlab's default inside a frame
# The room flowables get on a page of each orientation
FRAME_WIDTHS = {orientation: size[0] - 2 * MARGIN - 2 * FRAME_PADDING for orientation, size in PAGE_SIZES.items()}
FRAME_HEIGHTS = {orientation: size[1] - TOP_MARGIN - BOTTOM_MARGIN - 2 * FRAME_PADDING
                 for orientation, size in PAGE_SIZES.items()}


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
    "approval_head": ParagraphStyle("approval_head", fontName=FONT_BOLD, fontSize=8.5, leading=11, spaceAfter=2),
    "approval": ParagraphStyle("approval", fontName=FONT, fontSize=8.5, leading=11),
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
    language: str = "fr"       # the form's: its page header and footer, part titles and signature labels
    approvals: tuple = ()      # the meanings of its signed approvals (21 CFR 11.50), oldest first


# What the PDF writes around a form's own text, in the form's language (French unless told otherwise).
CHROME = {
    "fr": {"sponsor": "Promoteur : {}", "version": "{kind} — Version {number} du {date}",
           "no_opinion": "Sans avis favorable", "page": "page {} / {}", "fingerprint": "Empreinte {}",
           "do_not_use": "{} — ne pas utiliser pour recueillir un consentement",
           "signature_rows": ("Nom et prénom", "Date (jj/mm/aaaa)", "Heure (hh:mm)", "Signature"),
           "approvals": "Approbation de cette version (signatures électroniques, 21 CFR 11.50)",
           "parts": {"emergency": ("Note d'information", "Attestation de l'investigateur"),
                     None: ("Note d'information", "Formulaire de consentement")}},
    "en": {"sponsor": "Sponsor: {}", "version": "{kind} — Version {number} of {date}",
           "no_opinion": "No favourable opinion", "page": "page {} / {}", "fingerprint": "Fingerprint {}",
           "do_not_use": "{} — do not use to obtain consent",
           "signature_rows": ("Full name", "Date (dd/mm/yyyy)", "Time (hh:mm)", "Signature"),
           "approvals": "Approval of this version (electronic signatures, 21 CFR 11.50)",
           "parts": {"emergency": ("Information sheet", "Investigator's attestation"),
                     None: ("Information sheet", "Consent form")}},
}


def _chrome(language: str) -> dict:
    return CHROME.get(language, CHROME["fr"])


PART_TITLES = {kind: titles for kind, titles in CHROME["fr"]["parts"].items() if kind}
DEFAULT_PART_TITLES = CHROME["fr"]["parts"][None]


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
        return list(_paragraphs_of(cls, html or ""))


@lru_cache(maxsize=4096)
def _paragraphs_of(parser_class, html: str) -> tuple[str, ...]:
    """The same rich text is printed again and again (each master, each consent record): parsed once."""
    parser = parser_class()
    parser.feed(html)
    parser.close()
    parser._flush()
    return tuple(parser.paragraphs)


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


def _block_flowables(block: dict, language: str = "fr") -> list:
    kind, value = block["type"], block["value"]
    if kind == "heading":
        return [_heading(Paragraph(_text(value["text"]), STYLES[int(value.get("level") or 1)]))]
    if kind == "paragraph":
        return [Paragraph(p, STYLES["body"]) for p in _SafeMarkup.paragraphs_of(value)]
    if kind == "list":
        numbered = value.get("style") == "numbered"
        # room for the widest number ("10." overran a fixed 14 pt indent into the item's text)
        indent = max(14.0, round(pdfmetrics.stringWidth(f"{len(value['items'])}.", FONT, 10) + 4, 1)) \
            if numbered else 14
        items = [ListItem(Paragraph(_text(item), STYLES["body"]), leftIndent=indent) for item in value["items"]]
        if numbered:
            return [ListFlowable(items, bulletType="1", bulletFontName=FONT, leftIndent=indent)]
        return [ListFlowable(items, bulletType="bullet", start="•", bulletFontName=FONT, leftIndent=14)]
    if kind == "table":
        return _table_flowables(value)
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
        return _fill_in_flowables(value["label"])
    if kind == "signature":
        label = Paragraph(f"<b>{_text(value['label'])}</b>", STYLES["body"])
        rows = [[label, ""], *[[name, ""] for name in _chrome(language)["signature_rows"]]]
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


FILL_IN_LABEL_WIDTH = 60 * mm
FILL_IN_LINE_HEIGHT = 9 * mm


def _fill_in_flowables(label_text: str) -> list:
    """A blank to fill in: a short label on the left of its writing line; a long one (a declaration of several
    lines) across the page, whole, with the writing line below it. Rows grow with their text, never over it."""
    cell_padding = 6  # reportlab's default cell padding, on each side
    label = Paragraph(_text(label_text), STYLES["body"])
    _width, height = label.wrap(FILL_IN_LABEL_WIDTH - 2 * cell_padding, FRAME_HEIGHTS[PORTRAIT])
    if height <= 3 * STYLES["body"].leading:
        table = Table([[label, ""]], colWidths=[FILL_IN_LABEL_WIDTH, None], minRowHeights=[FILL_IN_LINE_HEIGHT])
        table.setStyle(_style(*[("LINEBELOW", (1, 0), (1, 0), 0.6, colors.black),
                                ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
        return [table]
    # Not a table row: a paragraph splits across pages however long the label is
    label = Paragraph(_text(label_text), ParagraphStyle("fill-in-label", parent=STYLES["body"],
                                                        leftIndent=cell_padding, rightIndent=cell_padding))
    line = Table([[""]], colWidths=["100%"], rowHeights=[FILL_IN_LINE_HEIGHT])
    line.setStyle(_style(("LINEBELOW", (0, 0), (0, 0), 0.6, colors.black)))
    return [KeepTogether([label, line, Spacer(1, 4)])]


# --------------------------------------------------------------------------------------------------------------
# Tables: whatever their width, they print
# --------------------------------------------------------------------------------------------------------------

ORDINARY_CELL_SIZE = 9.0
_ORDINARY_PADDING = 6.0  # reportlab's default, kept for the tables that fit as they are
# Tried in this order, first with words kept whole, then with long words broken: shrink a little, then turn the
# page, then shrink further. Beyond that the table is split into parts of columns.
_LAYOUTS = ((PORTRAIT, 9.0), (PORTRAIT, 8.0), (LANDSCAPE, 9.0), (LANDSCAPE, 8.0), (LANDSCAPE, 7.0),
            (LANDSCAPE, 6.0))
_SPLIT_SIZE = 7.0
_WHOLE_WORDS_EMS, _BROKEN_WORDS_EMS, _MIN_EMS = 20.0, 7.0, 1.5
_TALL_ROW = 0.8  # a row taller than this share of the page height may be split across pages


@dataclass(frozen=True)
class TablePlan:
    """How one table block prints. `widths` is None for a table printed as it is (equal columns, 9 pt)."""

    rows: int
    columns: int
    orientation: str
    font_size: float
    parts: tuple[tuple[int, ...], ...]  # the columns printed in each part: one part unless the table is split
    widths: tuple[tuple[float, ...], ...] | None
    repeat_header: bool
    split_rows: bool  # some row is taller than a page: rows may break across pages

    @property
    def adjusted(self) -> bool:
        return self.widths is not None or self.split_rows


def _table_rows(value: dict) -> list[list[str]]:
    rows = [[cell or "" for cell in row] for row in value.get("rows") or [] if row]
    width = max((len(row) for row in rows), default=0)
    return [row + [""] * (width - len(row)) for row in rows]


def _padding(size: float) -> float:
    return round(size * 0.35, 2)


def _cell_style(size: float) -> ParagraphStyle:
    if size == ORDINARY_CELL_SIZE:
        return STYLES["cell"]
    return ParagraphStyle(f"cell-{size}", parent=STYLES["cell"], fontSize=size, leading=round(size * 1.28, 2))


def plan_table(value: dict) -> TablePlan | None:
    """Choose how a table prints so that it always fits the page: as it is if its columns fit; else smaller text,
    then a landscape page, then smaller text again; else it is printed in parts of columns, the first column
    repeated in each. The header row repeats on every page; a row taller than a page breaks across pages."""
    rows = _table_rows(value)
    if not rows:
        return None
    _register_fonts()
    columns = len(rows[0])
    longest = [0.0] * columns  # in ems (widths at 1 pt)
    natural = [0.0] * columns
    for row in rows:
        for index, cell in enumerate(row):
            for line in cell.split("\n"):
                natural[index] = max(natural[index], pdfmetrics.stringWidth(line, FONT, 1))
                for word in line.split():
                    longest[index] = max(longest[index], pdfmetrics.stringWidth(word, FONT, 1))
    header = bool(value.get("first_row_is_header"))

    def need(size: float, cap: float, pad: float) -> list[float]:
        return [max(min(ems, cap), _MIN_EMS) * size + 2 * pad for ems in longest]

    everything = tuple(range(columns))
    ordinary = need(ORDINARY_CELL_SIZE, _WHOLE_WORDS_EMS, _ORDINARY_PADDING)
    if max(ordinary) <= FRAME_WIDTHS[PORTRAIT] / columns:
        widths = [FRAME_WIDTHS[PORTRAIT] / columns] * columns
        split = _has_tall_row(rows, widths, ORDINARY_CELL_SIZE, _ORDINARY_PADDING, PORTRAIT)
        return TablePlan(len(rows), columns, PORTRAIT, ORDINARY_CELL_SIZE, (everything,), None, header, split)
    for cap in (_WHOLE_WORDS_EMS, _BROKEN_WORDS_EMS):
        for orientation, size in _LAYOUTS:
            pad = _padding(size)
            needed = need(size, cap, pad)
            if sum(needed) <= FRAME_WIDTHS[orientation]:
                widths = _spread(needed, [ems * size + 2 * pad for ems in natural], FRAME_WIDTHS[orientation])
                split = _has_tall_row(rows, widths, size, pad, orientation)
                return TablePlan(len(rows), columns, orientation, size, (everything,), (tuple(widths),), header,
                                 split)
    pad = _padding(_SPLIT_SIZE)
    frame = FRAME_WIDTHS[LANDSCAPE]
    needed = need(_SPLIT_SIZE, _BROKEN_WORDS_EMS, pad)
    needed[0] = min(needed[0], frame / 3)  # the repeated first column leaves room for the others
    parts: list[list[int]] = [[0]]
    for index in range(1, columns):
        if len(parts[-1]) > 1 and sum(needed[i] for i in parts[-1]) + needed[index] > frame:
            parts.append([0])
        parts[-1].append(index)
    natural_widths = [ems * _SPLIT_SIZE + 2 * pad for ems in natural]
    part_widths = [tuple(_spread([needed[i] for i in part], [natural_widths[i] for i in part], frame))
                   for part in parts]
    split = any(_has_tall_row([[row[i] for i in part] for row in rows], widths, _SPLIT_SIZE, pad, LANDSCAPE)
                for part, widths in zip(parts, part_widths, strict=True))
    return TablePlan(len(rows), columns, LANDSCAPE, _SPLIT_SIZE, tuple(tuple(part) for part in parts),
                     tuple(part_widths), header, split)


def _spread(needed: list[float], natural: list[float], frame: float) -> list[float]:
    """Column widths filling the frame: each at least what it needs, the room left shared by what text wants."""
    natural = [max(n, m) for n, m in zip(natural, needed, strict=True)]
    if sum(natural) <= frame:
        return [round(width * frame / sum(natural), 2) for width in natural]
    room = frame - sum(needed)
    wants = [n - m for n, m in zip(natural, needed, strict=True)]
    total = sum(wants) or 1.0
    return [round(m + room * want / total, 2) for m, want in zip(needed, wants, strict=True)]


def _has_tall_row(rows: list[list[str]], widths: list[float], size: float, pad: float, orientation: str) -> bool:
    style = _cell_style(size)
    limit = FRAME_HEIGHTS[orientation] * _TALL_ROW
    for row in rows:
        for cell, width in zip(row, widths, strict=True):
            if (len(cell) + cell.count("\n") + 1) * style.leading <= limit:  # even one character a line fits
                continue
            if Paragraph(_text(cell), style).wrap(max(width - 2 * pad, 1), limit * 10)[1] > limit:
                return True
    return False


def _table_flowables(value: dict) -> list:
    plan = plan_table(value)
    if plan is None:
        return []
    rows = _table_rows(value)
    style = _cell_style(plan.font_size)
    pad = _ORDINARY_PADDING if plan.widths is None else _padding(plan.font_size)
    commands = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if plan.widths is not None:
        commands += [("LEFTPADDING", (0, 0), (-1, -1), pad), ("RIGHTPADDING", (0, 0), (-1, -1), pad),
                     ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if plan.repeat_header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
    flowables: list = []
    for number, part in enumerate(plan.parts):
        if len(plan.parts) > 1:
            caption = (f"Tableau en {len(plan.parts)} parties — partie {number + 1} : colonnes "
                       f"{column_ranges(part)} sur {plan.columns}")
            flowables.append(Paragraph(caption, STYLES["small"]))
        data = [[Paragraph(_text(row[i]), style) for i in part] for row in rows]
        table = Table(data, colWidths=list(plan.widths[number]) if plan.widths else None,
                      repeatRows=1 if plan.repeat_header else 0,
                      splitInRow=1 if plan.split_rows else 0)
        table.setStyle(_style(*commands))
        flowables += [table, Spacer(1, 6 if len(plan.parts) > 1 else 4)]
    for flowable in flowables:
        flowable.orientation = plan.orientation
    return flowables


def column_ranges(columns: tuple[int, ...]) -> str:
    """Column indexes as people number them: (0, 17, 18, 19) → "1, 18–20"."""
    ranges: list[list[int]] = []
    for index in columns:
        if ranges and index == ranges[-1][-1] + 1:
            ranges[-1].append(index)
        else:
            ranges.append([index])
    return ", ".join(f"{r[0] + 1}–{r[-1] + 1}" if len(r) > 1 else f"{r[0] + 1}" for r in ranges)


def table_plans(blocks: list[dict]) -> list[tuple[int, dict, TablePlan]]:
    """(number among the tables, block value, plan) of every table block, numbered from 1."""
    tables = [block["value"] for block in blocks if block.get("type") == "table"]
    return [(number, value, plan) for number, value in enumerate(tables, start=1)
            if (plan := plan_table(value)) is not None]


def _heading(paragraph: Paragraph) -> Paragraph:
    paragraph.is_heading = True
    return paragraph


def _oriented(story: list) -> list:
    """Switch to a landscape page for the flowables that need one, and back to portrait after them."""
    result: list = []
    current = PORTRAIT
    for flowable in story:
        if isinstance(flowable, PageBreak) and not isinstance(flowable, PageBreakIfNotEmpty):
            if current != PORTRAIT:
                flowable = PageBreak(nextTemplate=PORTRAIT)
                current = PORTRAIT
            result.append(flowable)
            continue
        wanted = getattr(flowable, "orientation", PORTRAIT)
        if wanted != current:
            headings = []  # the headings just above a landscape table go with it, not alone at a page's foot
            while wanted == LANDSCAPE and result and getattr(result[-1], "is_heading", False):
                headings.insert(0, result.pop())
            result.append(PageBreakIfNotEmpty(nextTemplate=wanted))
            result.extend(headings)
            current = wanted
        result.append(flowable)
    if current != PORTRAIT:
        result.append(NextPageTemplate(PORTRAIT))
    return result


def _form_story(form: FormToPrint, index: int, filled=None) -> list:
    """The form to print; with `filled` (a function of a consent block's position and the block), its consent
    part as it was answered and signed instead of blank."""
    parts = _chrome(form.language)["parts"]
    information_title, consent_title = parts.get(form.kind, parts[None])
    story = [_FormStart(index), Paragraph(_text(form.title), STYLES["title"])]
    if form.information:
        story.append(_heading(Paragraph(information_title, STYLES["part"])))
        for block in form.information:
            story.extend(_block_flowables(block, form.language))
        if form.consent:
            story.append(PageBreak())
    if form.consent:
        story.append(_heading(Paragraph(consent_title, STYLES["part"])))
        for position, block in enumerate(form.consent):
            story.extend(filled(position, block) if filled else _block_flowables(block, form.language))
    if form.approvals:
        story.append(Spacer(1, 6 * mm))
        story.append(Paragraph(_chrome(form.language)["approvals"], STYLES["approval_head"]))
        story.extend(Paragraph(_text(meaning), STYLES["approval"]) for meaning in form.approvals)
    return _oriented(story)


def _canvas_class(forms: list[FormToPrint], header: TrialHeader):
    class FormCanvas(ArchivalCanvas):
        """Draws header, footer and watermark once the page count of each form is known (PDF/A-2b: cms/pdfa.py)."""

        def __init__(self, *args, **kwargs):
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
    page_width, page_height = canvas._pagesize  # a landscape page for a wide table
    chrome = _chrome(form.language)
    canvas.saveState()
    top = page_height - 10 * mm
    canvas.setFont(FONT_BOLD, 8.5)
    name = header.nct_number if header.short_name == header.nct_number else f"{header.short_name} — {header.nct_number}"
    canvas.drawString(MARGIN, top, name)
    canvas.setFont(FONT, 7.5)
    canvas.drawRightString(page_width - MARGIN, top, chrome["sponsor"].format(header.sponsor))
    title = header.title if len(header.title) <= 150 else header.title[:147] + "…"
    canvas.drawString(MARGIN, top - 10, title)
    canvas.setLineWidth(0.4)
    canvas.line(MARGIN, top - 14, page_width - MARGIN, top - 14)

    bottom = 8 * mm
    canvas.line(MARGIN, bottom + 17, page_width - MARGIN, bottom + 17)
    canvas.setFont(FONT, 7.5)
    right_width = 42 * mm
    left_width = page_width - 2 * MARGIN - right_width
    canvas.drawString(MARGIN, bottom + 8, _fit(chrome["version"].format(
        kind=form.kind_label, number=form.version_number, date=form.version_date), left_width, 7.5))
    canvas.drawString(MARGIN, bottom, _fit(form.approval_reference or chrome["no_opinion"], left_width, 7.5))
    canvas.drawRightString(page_width - MARGIN, bottom + 8, chrome["page"].format(page, pages))
    canvas.drawRightString(page_width - MARGIN, bottom, chrome["fingerprint"].format(form.content_hash[:16]))
    if form.watermark:
        canvas.setFillColor(colors.Color(0.7, 0.05, 0.05))
        canvas.setFont(FONT_BOLD, 8)
        canvas.drawCentredString(page_width / 2, top - 24,
                                 chrome["do_not_use"].format(form.watermark))
        canvas.setFillColor(colors.Color(0.75, 0.1, 0.1, alpha=0.18))
        canvas.setFont(FONT_BOLD, 64 if len(form.watermark) < 12 else 46)
        canvas.translate(page_width / 2, page_height / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, 0, form.watermark)
    canvas.restoreState()


def _document(buffer: io.BytesIO, *, title: str, header: TrialHeader) -> BaseDocTemplate:
    """A4 portrait pages, and landscape ones for the tables that need them (see `_oriented`)."""
    document = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=TOP_MARGIN, bottomMargin=BOTTOM_MARGIN,
        title=title, author=header.sponsor, subject=header.nct_number, creator="TrialDocs",
        producer="TrialDocs (reportlab)", invariant=1, lang="fr",
    )
    document.addPageTemplates([
        PageTemplate(id=orientation, pagesize=size, frames=[Frame(
            MARGIN, BOTTOM_MARGIN, size[0] - 2 * MARGIN, size[1] - TOP_MARGIN - BOTTOM_MARGIN, id=orientation,
            leftPadding=FRAME_PADDING, rightPadding=FRAME_PADDING, topPadding=FRAME_PADDING,
            bottomPadding=FRAME_PADDING)])
        for orientation, size in PAGE_SIZES.items()])
    return document


def render_forms(forms: list[FormToPrint], *, header: TrialHeader, title: str = "") -> bytes:
    """One PDF with the forms one after the other, each starting on a new page with its own page count."""
    if not forms:
        raise ValueError("Nothing to print.")
    _register_fonts()
    buffer = io.BytesIO()
    document = _document(buffer, title=title or forms[0].title, header=header)
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
    roles: tuple = ()     # the form's signature blocks this signer fills ("participant", "surrogate"…)


@dataclass(frozen=True)
class RecordToPrint:
    """The consent record printed after the form it concerns."""

    participant_code: str
    outcome: str
    facts: list            # [(label, value)]
    statements: list       # [(statement text, answer label, accepted: bool | None)]
    signers: list          # [SignerToPrint]
    verification_url: str
    answers: dict = None   # consent block position → {"type", "answer", "label"}: what was answered there
    comprehension: list = ()        # [(question, what was answered, the right answer, attempts and discussion)]
    countersignature_page: bool = False  # a last page where the later countersignature's stamp will be drawn


# Where the investigator's later countersignature is stamped (points, on the last page, which then holds nothing
# else): `consent.services.records.consent_countersign` signs a new revision with its visible stamp here.
COUNTERSIGNATURE_BOX = (MARGIN, 120 * mm, PAGE_WIDTH - MARGIN, 175 * mm)


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


def _answer_box(ticked: bool, text: str) -> Table:
    table = Table([[MarkedBox(ticked), Paragraph(text, STYLES["body"])]], colWidths=[7 * mm, None])
    table.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                            ("TOPPADDING", (0, 0), (0, 0), 2)]))
    return table


def _signature_flowables(label: str, signer: "SignerToPrint | None") -> list:
    """A signature block of the form, filled with who signed, when, and the hand signature when there is one."""
    from reportlab.platypus import Image

    if signer is None:
        rows = [[Paragraph(f"<b>{_text(label)}</b>", STYLES["body"]), ""],
                [Paragraph("Sans objet pour ce recueil (personne n'a signé à ce titre)", STYLES["cell"]), ""]]
    else:
        picture = ""
        if signer.image_png:
            picture = Image(io.BytesIO(signer.image_png), width=55 * mm, height=20 * mm, kind="proportional")
        else:
            picture = Paragraph("Signature électronique (identifiant et mot de passe)", STYLES["cell"])
        rows = [[Paragraph(f"<b>{_text(label)}</b>", STYLES["body"]), picture],
                [Paragraph(_text(signer.printed_name), STYLES["body"]), ""],
                [Paragraph(f"{_text(signer.meaning)}, le {_text(signer.signed_at)}", STYLES["cell"]), ""]]
    table = Table(rows, colWidths=[95 * mm, None])
    table.setStyle(_style(("SPAN", (1, 0), (1, len(rows) - 1)), ("BOX", (0, 0), (-1, -1), 0.6, colors.grey),
                          ("VALIGN", (0, 0), (-1, -1), "MIDDLE")))
    return [KeepTogether([table, Spacer(1, 6)])]


def _filler(record: RecordToPrint):
    """The consent part as answered: the chosen box of each statement ticked, tick boxes as left, blanks as
    written, signature blocks signed (or marked as not applying)."""
    answers = record.answers or {}
    by_role = {}
    for signer in record.signers:
        for role in signer.roles:
            by_role.setdefault(role, signer)

    def filled(position: int, block: dict) -> list:
        kind, value = block["type"], block["value"]
        answer = answers.get(position)
        if kind == "consent_statement" and answer:
            statement = _text(value["text"]) + (" <b>*</b>" if value.get("mandatory") else "")
            accepted = answer["answer"] == "accept"
            choices = Table([[MarkedBox(accepted), Paragraph(_text(value["accept_label"]), STYLES["body"]),
                              MarkedBox(not accepted), Paragraph(_text(value["refuse_label"]), STYLES["body"])]],
                            colWidths=[7 * mm, 70 * mm, 7 * mm, None])
            choices.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
            return [KeepTogether([Paragraph(statement, STYLES["body"]), choices, Spacer(1, 4)])]
        if kind == "checkbox" and answer:
            return [_answer_box(answer["answer"] == "accept", _text(value["text"]))]
        if kind == "fill_in" and answer:
            table = Table([[Paragraph(_text(value["label"]), STYLES["body"]),
                            Paragraph(f"<b>{_text(answer['label'])}</b>", STYLES["body"])]],
                          colWidths=[FILL_IN_LABEL_WIDTH, None])
            table.setStyle(_style(("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                                  ("LINEBELOW", (1, 0), (1, 0), 0.5, colors.grey)))
            return [table, Spacer(1, 4)]
        if kind == "signature":
            return _signature_flowables(value["label"], by_role.get(value["role"]))
        return _block_flowables(block)

    return filled


def _record_story(record: RecordToPrint) -> list:
    from reportlab.platypus import Image

    story = [PageBreak(), Paragraph("Recueil du consentement", STYLES["part"])]
    facts = [[Paragraph(f"<b>{_text(label)}</b>", STYLES["cell"]), Paragraph(_text(value), STYLES["cell"])]
             for label, value in [("Participant", record.participant_code), ("Décision", record.outcome),
                                  *record.facts]]
    table = Table(facts, colWidths=[55 * mm, None])
    table.setStyle(_style(("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")))
    story += [table, Spacer(1, 6)]
    if record.statements and record.answers is None:  # the answers are not in the form above: list them here
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
    if record.comprehension:
        story.append(Paragraph("Questions de compréhension", STYLES[2]))
        rows = [[Paragraph(f"<b>{_text(question)}</b>", STYLES["cell"]), Paragraph(_text(answer), STYLES["cell"])]
                for question, answer in record.comprehension]
        table = Table(rows, colWidths=[70 * mm, None])
        table.setStyle(_style(("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")))
        story += [table, Spacer(1, 6)]
    verification = Table([[_qr(record.verification_url), Paragraph(
        "Ce document est signé électroniquement (PAdES) par le centre. Pour le vérifier, ouvrez "
        f"<b>{_text(record.verification_url)}</b> ou déposez le fichier PDF sur la page de vérification de "
        "TrialDocs.", STYLES["cell"])]], colWidths=[32 * mm, None])
    verification.setStyle(_style(("VALIGN", (0, 0), (-1, -1), "MIDDLE")))
    story += [Spacer(1, 6), verification]
    if record.countersignature_page:
        story += [PageBreak(), Paragraph("Contresignature de l'investigateur", STYLES["part"]), Paragraph(
            "Ce consentement attend la contresignature de l'investigateur : tant qu'elle n'est pas donnée, ce "
            "document n'est pas un consentement. Elle s'ajoute ci-dessous comme une nouvelle révision signée du "
            "document (les révisions précédentes restent intactes et vérifiables).", STYLES["body"])]
    return story


def render_consent_record(form: FormToPrint, record: RecordToPrint, *, header: TrialHeader) -> bytes:
    """The exact text of the version that was signed, its consent part as it was answered and signed (never a
    blank form to fill), followed by the record of who signed what, and when."""
    _register_fonts()
    buffer = io.BytesIO()
    document = _document(buffer, title=f"Consentement {record.participant_code} — {form.title}", header=header)
    filled = _filler(record) if record.answers is not None else None
    document.build(_form_story(form, 0, filled) + _record_story(record), canvasmaker=_canvas_class([form], header))
    return buffer.getvalue()
