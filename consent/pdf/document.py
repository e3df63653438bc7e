"""Forms put together (`render_forms`): each form's story, with landscape pages for the tables that need them, and
the page header, footer and watermark, drawn once each form's page count is known."""

import functools
import io
import operator
from collections import Counter
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageBreak, PageTemplate
from reportlab.platypus.doctemplate import NextPageTemplate
from reportlab.platypus.flowables import PageBreakIfNotEmpty

from cms.pdf_fonts import FONT, FONT_BOLD
from cms.pdf_fonts import register_fonts as _register_fonts
from cms.pdfa import ArchivalCanvas

from .blocks import _block_flowables, _heading
from .flowables import Para, Space
from .markup import _text
from .styles import BOTTOM_MARGIN, FRAME_PADDING, LANDSCAPE, MARGIN, PAGE_SIZES, PORTRAIT, STYLES, TOP_MARGIN, _chrome
from .writer import compact_format


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


def _form_story(form: FormToPrint, index: int, filled=None) -> list:
    """The form to print; with `filled` (a function of a consent block's position and the block), its consent
    part as it was answered and signed instead of blank."""
    parts = _chrome(form.language)["parts"]
    information_title, consent_title = parts.get(form.kind, parts[None])
    story = [_FormStart(index), Para(_text(form.title), STYLES["title"])]
    if form.information:
        story.append(_heading(Para(information_title, STYLES["part"])))
        for block in form.information:
            story.extend(_block_flowables(block, form.language))
        if form.consent:
            story.append(PageBreak())
    if form.consent:
        story.append(_heading(Para(consent_title, STYLES["part"])))
        for position, block in enumerate(form.consent):
            story.extend(filled(position, block) if filled else _block_flowables(block, form.language))
    if form.approvals:
        story.append(Space(1, 6 * mm))
        story.append(Para(_chrome(form.language)["approvals"], STYLES["approval_head"]))
        story.extend(Para(_text(meaning), STYLES["approval"]) for meaning in form.approvals)
    return _oriented(story)


class _FormStart(Flowable):
    """Invisible marker: the pages from here on belong to form number `index` (for footers and page counts)."""

    width = height = 0

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def drawOn(self, canvas, x, y, _sW=0):  # noqa: N802, N803 (reportlab's names): nothing drawn, nothing written
        canvas.form_index = self.index


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


def _canvas_class(forms: list[FormToPrint], header: TrialHeader):
    """What makes the canvas of these forms (Platypus calls it with the canvas's arguments)."""
    return functools.partial(FormCanvas, forms=forms, header=header)


_STATE = Canvas.STATE_ATTRIBUTES
_state_of = operator.itemgetter(*_STATE)


class FormCanvas(ArchivalCanvas):
    """Draws header, footer and watermark once the page count of each form is known (PDF/A-2b: cms/pdfa.py), and
    writes the file compactly (`writer.compact_format`)."""

    def __init__(self, *args, forms: list[FormToPrint], header: TrialHeader, **kwargs):
        super().__init__(*args, **kwargs)
        self.forms, self.header = forms, header
        self.form_index = 0
        self._pages: list[tuple[dict, int]] = []

    # reportlab's graphics state stack (each `saveState`, a hundred a page: every flowable, cell and paragraph),
    # the same attributes saved and restored, as a tuple instead of a dict built key by key
    def push_state_stack(self):
        self.state_stack.append(_state_of(self.__dict__))
        self._extgstate = self._extgstate.pushCopy()

    def pop_state_stack(self):
        self.__dict__.update(zip(_STATE, self.state_stack.pop(), strict=True))

    # reportlab's drawString and drawRightString for a string in an embedded TrueType font, without rotation,
    # spacing or shaping (the page header and footer, a table's text cells, a list's bullets): the same text
    # object written directly rather than through reportlab's general one
    def drawString(self, x, y, text, mode=None, charSpace=0, direction=None, wordSpace=None, shaping=False):  # noqa: N802, PLR0913
        if mode is not None or charSpace or direction or wordSpace or shaping or not self._plain_text(text):
            return super().drawString(x, y, text, mode, charSpace, direction, wordSpace, shaping)
        return self._draw_text(x, y, text)

    def drawRightString(self, x, y, text, mode=None, charSpace=0, direction=None, wordSpace=None, shaping=False):  # noqa: N802, PLR0913
        if mode is not None or charSpace or direction or wordSpace or shaping or not self._plain_text(text):
            return super().drawRightString(x, y, text, mode, charSpace, direction, wordSpace, shaping)
        return self._draw_text(x - pdfmetrics.stringWidth(text, self._fontname, self._fontsize), y, text)

    def _plain_text(self, text) -> bool:
        return isinstance(text, str) and self.bottomup and pdfmetrics.getFont(self._fontname)._dynamicFont

    def _draw_text(self, x, y, text: str) -> None:
        font, document = pdfmetrics.getFont(self._fontname), self._doc
        runs, subset_now = [], -1
        for subset, encoded in font.splitString(text, document):
            if subset != subset_now:
                runs.append(f"{font.getSubsetInternalName(subset, document)} {fp_str(self._fontsize)} Tf "
                            f"{fp_str(self._leading)} TL")
                subset_now = subset
            runs.append(f"({self._escape(encoded)}) Tj")
        self._code.append(f"BT 1 0 0 1 {fp_str(x, y)} Tm {' '.join(runs)} T* ET")

    def showPage(self):  # noqa: N802 (reportlab's name)
        self._pages.append((dict(self.__dict__), self.form_index))
        self._startPage()

    def save(self):
        totals = Counter(index for _state, index in self._pages)
        seen: Counter = Counter()
        for state, index in self._pages:
            self.__dict__.update(state)
            seen[index] += 1
            _draw_page_chrome(self, self.header, self.forms[index], seen[index], totals[index])
            super().showPage()
        document = self._doc
        document.format = lambda: compact_format(document)  # reportlab's writer, less comments and defaults
        super().save()


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


def _fit(text: str, width: float, size: float) -> str:
    """Shorten a footer line to its width rather than letting it run into its neighbour."""
    if pdfmetrics.stringWidth(text, FONT, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text + "…"
