"""`export_docx`: blocks written as a Word document an investigator can edit and `import_docx` reads back exactly.

Every block gets a TrialDocs paragraph style or table caption and the body and consent parts start at bookmarks
(see `markers`), so the reader never has to guess on its own output.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser
from typing import Any

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from lxml import etree

from .markers import (
    BODY_BOOKMARK,
    CAPTION_SIGNATURE,
    CAPTION_TABLE,
    CONSENT_BOOKMARK,
    OWN_STYLES,
    ROLES,
    STYLE_CHECKBOX,
    STYLE_CHOICES,
    STYLE_FILL_IN,
    STYLE_PARAGRAPH,
    STYLE_STATEMENT,
    STYLE_STATEMENT_MANDATORY,
    VAL,
    Seg,
    W,
)


def export_docx(*, title: str, subtitle: str, information: list[dict], consent: list[dict], footer: str) -> bytes:
    """Write a Word document an investigator can edit and that `import_docx` reads back to the same blocks."""
    document = docx.Document()
    _add_own_styles(document)
    document.core_properties.title = title
    document.add_paragraph(title, style="Title")
    if subtitle:
        document.add_paragraph(subtitle, style="Subtitle")
    _add_marker(document, BODY_BOOKMARK, 1)
    _write_blocks(document, information)
    _add_marker(document, CONSENT_BOOKMARK, 2)
    _write_blocks(document, consent)
    document.sections[0].footer.paragraphs[0].text = footer
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def _add_own_styles(document: Any) -> None:
    for name, style_id in OWN_STYLES.items():
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.style_id = style_id
        style.base_style = document.styles["Normal"]
        style.paragraph_format.space_after = Pt(6)
        if name == STYLE_CHOICES:
            style.paragraph_format.left_indent = Cm(1)
        if name == STYLE_STATEMENT_MANDATORY:
            style.font.bold = True


def _add_marker(document: Any, name: str, bookmark_id: int) -> None:
    """An empty paragraph holding a bookmark: invisible in Word, exact for the importer."""
    paragraph = document.add_paragraph()
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), str(bookmark_id))
    start.set(qn("w:name"), name)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), str(bookmark_id))
    paragraph._p.append(start)
    paragraph._p.append(end)


def _write_blocks(document: Any, blocks: list[dict]) -> None:
    for block in blocks:
        writer = _WRITERS.get(block.get("type"))
        if writer is None:
            raise ValueError(f"Unknown block type: {block.get('type')!r}")
        writer(document, block.get("value"))


def _write_heading(document: Any, value: dict) -> None:
    document.add_heading(value["text"], level=min(max(int(value.get("level", 1)), 1), 3))


class _InlineHtml(HTMLParser):
    """The paragraph HTML subset (<p>, <b>/<strong>, <i>/<em>, <br/>) as paragraphs of formatted runs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[Seg]] = [[]]
        self.bold = 0
        self.italic = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("b", "strong"):
            self.bold += 1
        elif tag in ("i", "em"):
            self.italic += 1
        elif tag == "br":
            self.handle_data("\n")
        elif tag == "p" and self.paragraphs[-1]:
            self.paragraphs.append([])

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br":
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("b", "strong"):
            self.bold = max(self.bold - 1, 0)
        elif tag in ("i", "em"):
            self.italic = max(self.italic - 1, 0)

    def handle_data(self, data: str) -> None:
        self.paragraphs[-1].append(Seg(data, self.bold > 0, self.italic > 0))


def _write_paragraph(document: Any, value: str) -> None:
    parser = _InlineHtml()
    parser.feed(value or "")
    parser.close()
    for segs in parser.paragraphs:
        if not segs:
            continue
        paragraph = document.add_paragraph(style=STYLE_PARAGRAPH)
        for seg in segs:
            run = paragraph.add_run(seg.text)
            run.bold = seg.bold or None
            run.italic = seg.italic or None


def _write_list(document: Any, value: dict) -> None:
    numbered = value.get("style") == "numbered"
    style_name = "List Number" if numbered else "List Bullet"
    num_id = _new_numbering(document, style_name, restart=numbered)
    for item in value.get("items", []):
        paragraph = document.add_paragraph(style=style_name)
        paragraph.add_run(item)
        num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_ilvl().val = 0
        num_pr.get_or_add_numId().val = num_id


def _new_numbering(document: Any, style_name: str, *, restart: bool) -> int:
    """One numbering instance per list, so two adjacent lists stay two lists and each restarts at 1."""
    style_num = document.styles[style_name].element.find(f"{W['pPr']}/{W['numPr']}/{W['numId']}")
    numbering = document.part.numbering_part.element
    base = next(n for n in numbering.iter(W["num"]) if n.get(qn("w:numId")) == style_num.get(VAL))
    num = numbering.add_num(int(base.find(W["abstractNumId"]).get(VAL)))
    if restart:
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
    return int(num.get(qn("w:numId")))


def _write_table(document: Any, value: dict) -> None:
    rows = [list(row) for row in value.get("rows", [])]
    if not rows:
        return
    header = bool(value.get("first_row_is_header"))
    table = document.add_table(rows=len(rows), cols=max(max(len(row) for row in rows), 1))
    table.style = document.styles["Table Grid"]
    _set_caption(table, CAPTION_TABLE)
    for row_index, (row, cells) in enumerate(zip(table.rows, rows, strict=True)):
        for cell, text in zip(row.cells, cells, strict=False):
            cell.paragraphs[0].add_run(text).bold = (header and row_index == 0) or None
        missing = len(row.cells) - max(len(cells), 1)
        for tc in row._tr.tc_lst[len(row._tr.tc_lst) - missing:] if missing else []:
            row._tr.remove(tc)
        if missing:
            _append(row._tr.get_or_add_trPr(), "w:gridAfter", str(missing))
        if header and row_index == 0:
            _append(row._tr.get_or_add_trPr(), "w:tblHeader", "1")


def _append(parent: etree._Element, tag: str, value: str) -> None:
    element = OxmlElement(tag)
    element.set(VAL, value)
    parent.append(element)


def _set_caption(table: Any, caption: str) -> None:
    _append(table._tbl.tblPr, "w:tblCaption", caption)


def _write_statement(document: Any, value: dict) -> None:
    style = STYLE_STATEMENT_MANDATORY if value.get("mandatory") else STYLE_STATEMENT
    document.add_paragraph(value["text"], style=style)
    document.add_paragraph(f"☐ {value['accept_label']}   ☐ {value['refuse_label']}", style=STYLE_CHOICES)


def _write_checkbox(document: Any, value: dict) -> None:
    document.add_paragraph(f"☐ {value['text']}", style=STYLE_CHECKBOX)


def _write_fill_in(document: Any, value: dict) -> None:
    document.add_paragraph(f"{value['label']} : {'_' * 30}", style=STYLE_FILL_IN)


def _write_signature(document: Any, value: dict) -> None:
    """Label across the top, then Nom / Date / Heure / Signature lines to complete by hand."""
    role = value.get("role") if value.get("role") in ROLES else "participant"
    table = document.add_table(rows=5, cols=2)
    table.style = document.styles["Table Grid"]
    _set_caption(table, f"{CAPTION_SIGNATURE}{role}")
    label_cell = table.cell(0, 0).merge(table.cell(0, 1))
    label_cell.paragraphs[0].add_run(value.get("label", "")).bold = True
    for row_index, caption in enumerate(("Nom", "Date", "Heure", "Signature"), start=1):
        table.cell(row_index, 0).paragraphs[0].add_run(caption)
    table.rows[4].height = Cm(2)


def _write_page_break(document: Any, value: Any) -> None:
    document.add_page_break()


_WRITERS = {
    "heading": _write_heading,
    "paragraph": _write_paragraph,
    "list": _write_list,
    "table": _write_table,
    "consent_statement": _write_statement,
    "checkbox": _write_checkbox,
    "fill_in": _write_fill_in,
    "signature": _write_signature,
    "page_break": _write_page_break,
}
