"""The body of an uploaded .docx walked in document order into pieces (`heuristics.Piece`), with notes.

Paragraphs and tables become pieces: the TrialDocs styles and captions (`markers`) are read exactly, other
documents through `heuristics`. What is not kept is said in `Notes`, which become `ImportResult.unmapped`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .heuristics import (
    BLANK,
    Piece,
    choice_line,
    fill_ins,
    heading_level,
    is_signature_grid,
    is_signature_line,
    looks_like_heading,
    paragraph_html,
    signature_grid,
    signature_label,
    tick_box_table,
)
from .markers import (
    BODY_BOOKMARK,
    CAPTION_SIGNATURE,
    CAPTION_TABLE,
    CONSENT_BOOKMARK,
    OWN_STYLES,
    ROLES,
    STYLE_CHECKBOX,
    STYLE_CHOICES,
    STYLE_PARAGRAPH,
    STYLE_STATEMENT,
    STYLE_STATEMENT_MANDATORY,
    VAL,
    Seg,
    W,
)
from .safety import plural
from .wordxml import (
    BOXES,
    CHECKED_BOXES,
    LINK_NOTE,
    PAGE,
    Numbering,
    Runs,
    Style,
    Styles,
    excerpt,
    paragraph_numbering,
    word_flag,
)

_MAX_NOTES_PER_KIND = 20
_TOC_NAME = re.compile(r"^(?:toc|tdm|table of figures|table des illustrations)\b", re.I)
_LIST_NAME = re.compile(r"list (bullet|number)|liste à puces|liste numérotée", re.I)


class Notes:
    """Unmapped notes, capped per kind so a protocol with 200 cross-references stays readable."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.counts: Counter[str] = Counter()

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= _MAX_NOTES_PER_KIND:
            self.items.append(message)

    def result(self) -> list[str]:
        extra = [(f"… et {n - _MAX_NOTES_PER_KIND} autres liens hypertexte, conservés de même avec leur adresse."
                  if kind == LINK_NOTE else f"… et {n - _MAX_NOTES_PER_KIND} autres éléments « {kind} » non repris.")
                 for kind, n in self.counts.items() if n > _MAX_NOTES_PER_KIND]
        return self.items + extra


@dataclass(frozen=True)
class _ParaProps:
    style_name: str
    heading: int | None
    list_key: tuple[str, str] | None
    page_break_before: bool
    bold: bool
    toc: bool


class BodyReader:
    """Walk the body in document order (content controls included) and turn it into pieces."""

    def __init__(self, document: Any, footnotes: dict[str, str]) -> None:
        self.footnotes = footnotes
        self.links = {rel_id: rel.target_ref for rel_id, rel in document.part.rels.items() if rel.is_external}
        self.styles = Styles(document.styles.element)
        self.numbering = Numbering(document.part.numbering_part.element, self.styles)
        self.notes = Notes()
        self.pieces: list[Piece] = []
        self.paragraph_no = 0
        self.table_no = 0
        self.last_heading = ""
        self.toc_noted = False

    def read(self, container: etree._Element) -> None:
        for child in container:
            if child.tag == W["p"]:
                self._paragraph(child)
            elif child.tag == W["tbl"]:
                self._table(child)
            elif child.tag in (W["sdt"], W["customXml"]):
                content = child.find(W["sdtContent"]) if child.tag == W["sdt"] else child
                if content is not None:
                    self.read(content)
            elif child.tag == W["altChunk"]:
                self.notes.add("contenu importé", f"Contenu importé (altChunk) non repris — après paragraphe "
                                                  f"{self.paragraph_no}")

    # paragraphs -------------------------------------------------------------------------------------------

    def _paragraph(self, p: etree._Element) -> None:
        self.paragraph_no += 1
        props = self._props(p)
        if props.toc:
            if not self.toc_noted:
                self.notes.add("table des matières", "Table des matières non reprise (elle se régénère)")
                self.toc_noted = True
            return
        runs = Runs(self.styles, self.footnotes, self.links).walk(p)
        for marker in runs.markers & {BODY_BOOKMARK, CONSENT_BOOKMARK}:
            self.pieces.append(Piece(marker))
        text = runs.text().strip()
        where = f"paragraphe {self.paragraph_no}"
        where += f" « {excerpt(text, 50)} »" if text.strip(PAGE) else (
            f" (après « {excerpt(self.last_heading, 50)} »)" if self.last_heading else "")
        for kind, message in runs.notes:
            self.notes.add(kind, f"{message} — {where}")
        if props.page_break_before and text:
            self.pieces.append(Piece("page_break"))
        for index, chunk in enumerate(_split_pages(runs.segs)):
            if index:
                self.pieces.append(Piece("page_break"))
            self._classify(chunk, props, where)

    def _props(self, p: etree._Element) -> _ParaProps:
        ppr = p.find(W["pPr"])
        style = ppr.find(W["pStyle"]) if ppr is not None else None
        style_id = style.get(VAL, "") if style is not None else self.styles.default_paragraph
        chain = self.styles.chain(style_id)
        name = chain[0].name if chain else style_id
        direct_break = word_flag(ppr.find(W["pageBreakBefore"])) if ppr is not None else None
        return _ParaProps(
            style_name=name,
            heading=heading_level(ppr, chain),
            list_key=self._list_key(ppr, style_id, chain),
            page_break_before=bool(direct_break if direct_break is not None else self.styles.first(
                style_id, "page_break")),
            bold=bool(self.styles.first(style_id, "bold")),
            toc=bool(chain) and bool(_TOC_NAME.match(chain[0].name)),
        )

    def _list_key(self, ppr: etree._Element | None, style_id: str,
                  chain: list[Style]) -> tuple[str, str] | None:
        numbering = paragraph_numbering(ppr) or next((s.num for s in chain if s.num is not None), None)
        if numbering is not None:
            kind = self.numbering.kind(numbering[0], numbering[1])
            return (numbering[0], kind) if kind else None
        for style in chain:
            match = _LIST_NAME.search(style.name)
            if match:
                numbered = "number" in match.group(0).lower() or "numérotée" in match.group(0).lower()
                return style_id, "numbered" if numbered else "bullet"
        return None

    def _classify(self, segs: list[Seg], props: _ParaProps, where: str) -> None:
        segs = _trim(segs)
        text = "".join(s.text for s in segs)
        if not text:
            return
        if props.style_name in OWN_STYLES:
            self.pieces.append(_own_piece(props.style_name, segs, text))
        elif props.heading and len(text) <= 255:
            self._heading(text, props.heading)
        elif props.list_key:
            self.pieces.append(Piece("list_item", text, key=props.list_key))
        else:
            self.pieces.extend(self._guess(segs, text, props, where))

    def _heading(self, text: str, level: int) -> None:
        self.last_heading = text
        self.pieces.append(Piece("heading", {"text": text, "level": level}))

    def _guess(self, segs: list[Seg], text: str, props: _ParaProps, where: str) -> list[Piece]:
        choice = choice_line(text)
        if choice:
            if any(box in text for box in CHECKED_BOXES):
                self.notes.add("case cochée", f"Case cochée d'avance (l'état coché n'est pas repris) — {where}")
            return [Piece("choice", choice)]
        if text[0] in BOXES:
            if text[0] in CHECKED_BOXES:
                self.notes.add("case cochée", f"Case cochée d'avance (l'état coché n'est pas repris) — {where}")
            label = text[1:].strip()
            return [Piece("checkbox", {"text": label})] if label else []
        if is_signature_line(text):
            return [Piece("signature", {"role": "participant", "label": signature_label(text)}, guessed=True)]
        if BLANK.search(text):
            return fill_ins(text)
        if looks_like_heading(segs, text, props.bold):
            self.last_heading = text
            return [Piece("heading", {"text": text, "level": 2})]
        return [Piece("paragraph", paragraph_html(segs))]

    # tables -----------------------------------------------------------------------------------------------

    def _table(self, tbl: etree._Element) -> None:
        self.table_no += 1
        caption_element = tbl.find(f"{W['tblPr']}/{W['tblCaption']}")
        caption = caption_element.get(VAL, "") if caption_element is not None else ""
        rows, header_flags = self._rows(tbl, self.table_no)
        if not rows:
            return
        if caption.startswith(CAPTION_SIGNATURE):
            role = caption[len(CAPTION_SIGNATURE):]
            label = (rows[0][0] if rows[0] else "") or "Signature"
            self.pieces.append(Piece("signature", {"role": role if role in ROLES else "participant",
                                                   "label": label}))
            return
        if caption != CAPTION_TABLE and is_signature_grid(rows):
            self.pieces.extend(signature_grid(rows))
            return
        boxes = caption != CAPTION_TABLE and any(box in cell for row in rows for cell in row for box in BOXES)
        if boxes:
            asked = tick_box_table(rows)
            where = f"tableau {self.table_no} « {excerpt(' | '.join(c for c in rows[0] if c), 50)} »"
            if any(box in cell for row in rows for cell in row for box in CHECKED_BOXES):
                self.notes.add("case cochée", f"Case cochée d'avance (l'état coché n'est pas repris) — {where}")
            if asked is not None:
                self.pieces.extend(asked)
                self.notes.add("tableau de cases à cocher", (
                    f"Tableau de cases à cocher lu comme les déclarations et cases qu'il pose au signataire "
                    f"({plural(sum(p.kind == 'choice' for p in asked), 'choix')} Oui/Non, "
                    f"{plural(sum(p.kind == 'checkbox' for p in asked), 'case')}) — {where}"))
                return
            self.notes.add("tableau de cases à cocher", f"Cases à cocher laissées en texte dans un tableau de "
                                                         f"données (à reprendre à la main si le signataire doit y "
                                                         f"répondre) — {where}")
        first = _children(tbl, W["tr"])[0]
        header = word_flag(first.find(f"{W['trPr']}/{W['tblHeader']}")) is True
        if not header and caption != CAPTION_TABLE:
            header = header_flags
        self.pieces.append(Piece("table", {"first_row_is_header": header, "rows": rows}))

    def _rows(self, tbl: etree._Element, number: int) -> tuple[list[list[str]], bool]:
        """Cell texts row by row (merged cells padded with ""), and whether the first row is all bold."""
        rows: list[list[str]] = []
        first_row_bold = False
        for r_index, tr in enumerate(_children(tbl, W["tr"]), start=1):
            row: list[str] = []
            bold_cells: list[bool] = []
            for c_index, tc in enumerate(_children(tr, W["tc"]), start=1):
                text, bold = self._cell(tc, f"tableau {number}, ligne {r_index}, cellule {c_index}")
                row.append(text)
                bold_cells.append(bold)
                span = tc.find(f"{W['tcPr']}/{W['gridSpan']}")
                value = span.get(VAL, "1") if span is not None else "1"
                row.extend([""] * (int(value) - 1 if value.isdigit() and 1 < int(value) <= 64 else 0))
            if r_index == 1:
                first_row_bold = any(row) and all(bold for bold, text in zip(bold_cells, row, strict=False) if text)
            rows.append(row)
        return rows, first_row_bold

    def _cell(self, tc: etree._Element, where: str) -> tuple[str, bool]:
        """The cell's text (paragraphs joined by newlines, nested tables flattened) and whether it is all bold."""
        lines: list[str] = []
        bold = True
        for child in _children(tc, W["p"], W["tbl"]):
            if child.tag == W["tbl"]:
                nested, _ = self._rows(child, self.table_no)
                self.notes.add("tableau imbriqué", f"Tableau imbriqué aplati en texte — {where}")
                lines.extend(" | ".join(cell for cell in row if cell) for row in nested)
                continue
            runs = Runs(self.styles, self.footnotes, self.links).walk(child)
            for kind, message in runs.notes:
                self.notes.add(kind, f"{message} — {where}")
            lines.append(runs.text().replace(PAGE, "").strip())
            style = child.find(f"{W['pPr']}/{W['pStyle']}")
            style_bold = bool(self.styles.first(style.get(VAL, "") if style is not None else "", "bold"))
            bold = bold and all(s.bold or style_bold for s in runs.segs if s.text.strip())
        text = "\n".join(lines).strip("\n")
        return text, bold and bool(text)


def _split_pages(segs: list[Seg]) -> list[list[Seg]]:
    chunks: list[list[Seg]] = [[]]
    for seg in segs:
        for index, part in enumerate(seg.text.split(PAGE)):
            if index:
                chunks.append([])
            if part:
                chunks[-1].append(Seg(part, seg.bold, seg.italic))
    return chunks


def _trim(segs: list[Seg]) -> list[Seg]:
    """Drop leading and trailing whitespace across segments, keeping inner spacing as written."""
    segs = [Seg(s.text, s.bold, s.italic) for s in segs]
    while segs and not segs[0].text.strip():
        segs.pop(0)
    while segs and not segs[-1].text.strip():
        segs.pop()
    if segs:
        segs[0].text = segs[0].text.lstrip()
        segs[-1].text = segs[-1].text.rstrip()
    return segs


def _own_piece(style_name: str, segs: list[Seg], text: str) -> Piece:
    """Paragraphs written by `export_docx`: read exactly, no guessing."""
    if style_name == STYLE_PARAGRAPH:
        return Piece("paragraph", paragraph_html(segs))
    if style_name in (STYLE_STATEMENT, STYLE_STATEMENT_MANDATORY):
        return Piece("statement", {"text": text, "mandatory": style_name == STYLE_STATEMENT_MANDATORY})
    if style_name == STYLE_CHOICES:
        labels = [part.strip() for part in text.split("☐")]
        return Piece("choices", (labels[1] if len(labels) > 1 else "", labels[2] if len(labels) > 2 else ""))
    if style_name == STYLE_CHECKBOX:
        label = re.sub(rf"^[{BOXES}] ?", "", text)
        return Piece("checkbox", {"text": label}) if label else Piece("paragraph", paragraph_html(segs))
    return Piece("fill_in", {"label": re.sub(r"\s?: _+$", "", text)})


def _children(element: etree._Element, *tags: str) -> list[etree._Element]:
    """Children with the given tags, looking through content controls and custom XML wrappers."""
    found: list[etree._Element] = []
    for child in element:
        if child.tag in tags:
            found.append(child)
        elif child.tag == W["sdt"]:
            content = child.find(W["sdtContent"])
            found.extend(_children(content, *tags) if content is not None else [])
        elif child.tag == W["customXml"]:
            found.extend(_children(child, *tags))
    return found
