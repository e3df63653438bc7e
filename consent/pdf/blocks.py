"""A form's blocks as flowables, blank, to be filled in by hand: headings, paragraphs, lists, tables (`tables`),
consent statements and tick boxes, blanks to fill in, signature blocks."""

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable, ListItem, PageBreak, Paragraph

from cms.pdf_fonts import FONT

from .flowables import Keep, List, Para, Space, Table
from .markup import _SafeMarkup, _text
from .styles import FRAME_HEIGHTS, PORTRAIT, STYLES, _chrome, _style
from .tables import _table_flowables


def _block_flowables(block: dict, language: str = "fr") -> list:
    kind, value = block["type"], block["value"]
    if kind == "heading":
        return [_heading(Para(_text(value["text"]), STYLES[int(value.get("level") or 1)]))]
    if kind == "paragraph":
        return [Para(p, STYLES["body"]) for p in _SafeMarkup.paragraphs_of(value)]
    if kind == "list":
        numbered = value.get("style") == "numbered"
        # room for the widest number ("10." overran a fixed 14 pt indent into the item's text)
        indent = max(14.0, round(pdfmetrics.stringWidth(f"{len(value['items'])}.", FONT, 10) + 4, 1)) \
            if numbered else 14
        items = [ListItem(Para(_text(item), STYLES["body"]), leftIndent=indent) for item in value["items"]]
        if numbered:
            return [List(items, bulletType="1", bulletFontName=FONT, leftIndent=indent)]
        return [List(items, bulletType="bullet", start="•", bulletFontName=FONT, leftIndent=14)]
    if kind == "table":
        return _table_flowables(value)
    if kind == "consent_statement":
        statement = _text(value["text"]) + (" <b>*</b>" if value.get("mandatory") else "")
        choices = Table([[TickBox(), Para(_text(value["accept_label"]), STYLES["body"]),
                          TickBox(), Para(_text(value["refuse_label"]), STYLES["body"])]],
                        colWidths=[7 * mm, 70 * mm, 7 * mm, None])
        choices.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        return [Keep([Para(statement, STYLES["body"]), choices, Space(1, 4)])]
    if kind == "checkbox":
        return [_tick_line(_text(value["text"]))]
    if kind == "fill_in":
        return _fill_in_flowables(value["label"])
    if kind == "signature":
        label = Para(f"<b>{_text(value['label'])}</b>", STYLES["body"])
        rows = [[label, ""], *[[name, ""] for name in _chrome(language)["signature_rows"]]]
        table = Table(rows, colWidths=[45 * mm, None], rowHeights=[None, 9 * mm, 9 * mm, 9 * mm, 22 * mm])
        table.setStyle(_style(*[
            ("SPAN", (0, 0), (1, 0)), ("FONTNAME", (0, 1), (0, -1), FONT), ("FONTSIZE", (0, 1), (0, -1), 9),
            ("BOX", (1, 1), (1, -1), 0.8, colors.black), ("INNERGRID", (1, 1), (1, -1), 0.5, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        return [Keep([table, Space(1, 6)])]
    if kind == "page_break":
        return [PageBreak()]
    return []


def _heading(paragraph: Paragraph) -> Paragraph:
    paragraph.is_heading = True
    return paragraph


class TickBox(Flowable):
    """An empty square to tick by hand."""

    def __init__(self, size: float = 4 * mm):
        super().__init__()
        self.size = size
        self.width = self.height = size

    def draw(self):
        self.canv.setLineWidth(0.8)
        self.canv.rect(0, 0, self.size, self.size)


def _tick_line(text: str) -> Table:
    table = Table([[TickBox(), Para(text, STYLES["body"])]], colWidths=[7 * mm, None])
    table.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (0, 0), 2)]))
    return table


FILL_IN_LABEL_WIDTH = 60 * mm
FILL_IN_LINE_HEIGHT = 9 * mm
_CELL_PADDING = 6  # reportlab's default cell padding, on each side
_FILL_IN_WIDE_LABEL = ParagraphStyle("fill-in-label", parent=STYLES["body"], leftIndent=_CELL_PADDING,
                                     rightIndent=_CELL_PADDING)


def _fill_in_flowables(label_text: str) -> list:
    """A blank to fill in: a short label on the left of its writing line; a long one (a declaration of several
    lines) across the page, whole, with the writing line below it. Rows grow with their text, never over it."""
    label = Para(_text(label_text), STYLES["body"])
    _width, height = label.wrap(FILL_IN_LABEL_WIDTH - 2 * _CELL_PADDING, FRAME_HEIGHTS[PORTRAIT])
    if height <= 3 * STYLES["body"].leading:
        table = Table([[label, ""]], colWidths=[FILL_IN_LABEL_WIDTH, None], minRowHeights=[FILL_IN_LINE_HEIGHT])
        table.setStyle(_style(*[("LINEBELOW", (1, 0), (1, 0), 0.6, colors.black),
                                ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
        return [table]
    # Not a table row: a paragraph splits across pages however long the label is
    label = Para(_text(label_text), _FILL_IN_WIDE_LABEL)
    line = Table([[""]], colWidths=["100%"], rowHeights=[FILL_IN_LINE_HEIGHT])
    line.setStyle(_style(("LINEBELOW", (0, 0), (0, 0), 0.6, colors.black)))
    return [Keep([label, line, Space(1, 4)])]
