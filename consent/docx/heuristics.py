"""How blocks are guessed in Word documents we did not write.

The heuristics, documented because users will meet them (`body` applies the style-based ones while walking
the body, `assembly` merges pieces into blocks and gives signatures their role, this module does the rest):

* Heading: a paragraph style named "Heading N"/"Titre N"/... (anywhere in its `basedOn` chain, so "02Heading 2"
  or a localised name works), or an `outlineLvl` on the paragraph or its styles, or "Title" (levels past 3 are
  read as 3). A short line (<= 100 characters, >= 4 letters, not ending with . , ;) whose visible runs are all
  bold is a level-2 heading.
* List: a paragraph numbered through `numPr` (direct or from its style); `numFmt` bullet/none means bullet, any
  other format numbered. Consecutive items of the same numbering instance form one list block.
* Consent statement: a line offering an accept and a refuse choice ("☐ Oui ☐ Non", "_____ Yes _____ No",
  "☐ J'accepte … ☐ Je n'accepte pas …"), or two successive tick-box lines starting with accept then refuse
  words. The statement is the text before the first box, else the paragraph just above. It is mandatory only
  when its text says so (obligatoire/mandatory/required): a form that offers "No" is usually optional.
* Tick box: a line starting with ☐ ☑ ☒ □ ❑ (Wingdings boxes, `w14:checkbox` controls and legacy FORMCHECKBOX
  fields are turned into these glyphs first). A pre-ticked box is reported in `unmapped` (the state is not kept).
* Blank to fill: underscores (____), dotted leaders (..... or ……) or an empty FORMTEXT field; each text before a
  blank becomes a label, text after the last blank a paragraph. A line that is only a blank takes the paragraph
  above as its label.
* Tick boxes in a table (content controls or glyphs, "Statement | ☐Yes | ☐No", "Statement ☐ Oui ☐ Non", a header
  row "| Oui | Non" over rows "Statement | ☐ | ☐", "☐ I agree to…" cells): the table is a form, not data, and
  becomes the statements and tick boxes it asks, read row by row as lines are elsewhere (a row of text alone
  is the statement of the choice row below it). A table that also holds data rows (three or more cells of text
  without a box) stays a table, its boxes as text, and says so in a note.
* Signature: a label (<= 100 characters, <= 12 words, not ending like a sentence) naming a signature (Signature,
  Signé(e), Signed), not a "signature page" title; in tables, a cell starting with such a word turns the table
  into a signature grid (statements become paragraphs, each "Signature of X" cell a signature block, Name/Date
  cells are dropped).
  Role: the earliest role word in the label (investigateur/investigator/médecin → investigator; proche,
  représentant, LAR, parent, tuteur, guardian, référent… → surrogate; témoin/witness → witness; participant,
  patient, minor… → participant), else in the statement row above (grids), else in the nearest heading above,
  else participant.
* Consent split: the consent part starts at the most prominent block announcing it (/formulaire de
  consentement|consentement (libre et) éclairé|recueil du consentement|consent form|consent document|signature
  page|page de signature/i): level-1 headings before level-2 and 3, headings before short (<= 80 characters)
  paragraphs, the earliest among equals, and only where some non-heading content comes before it. Without one,
  everything is information and consent is empty.
* Title: the first heading of the front of the document (Word's "Title" style reads as a level-1 heading), read
  before any body content: short lines above it (organisation, date) are passed over, and so are instructions
  to the author (a heading such as "INSTRUCTIONS:", "General instructions for use of this template", "Consignes"
  and its section, italic-only paragraphs), and lines that are no title (a version or date line, "Draft",
  "Confidential", a placeholder such as "<Title>"). Once a long paragraph, a list, a table or any field is
  reached, a heading further down is a section's, not the document's: no title is proposed. The file name and
  the hidden document properties are never used (they are often those of another version).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .markers import Seg
from .wordxml import BOXES, Style, outline_level

_HEADING_NAME = re.compile(
    r"(?:heading|titre|título|titulo|titolo|überschrift|kop|rubrik|nagłówek|заголовок)\s*([1-9])\b", re.I)
_TITLE_NAME = re.compile(r"^(?:title|titre)$", re.I)
BLANK = re.compile(r"_{4,}|\.{5,}|(?:…\s?){2,}")
_SIGN_WORD = re.compile(r"\b(?:signatures?|sign(?:é|ée|és|ées)|signed|signez|sign here)\b", re.I)
_SIGN_CELL = re.compile(r"^\s*(?:signatures?|sign(?:é|ée)|signed)\b", re.I)
_GRID_LABEL = re.compile(
    r"(?:date|heure|time|nom|name|initials?|initiales|print(?:ed)? name\b.*|nom (?:et|&) prénom.*)\s*:?", re.I)
_CONSENT_ANNOUNCE = re.compile(
    r"formulaire\s+de\s+consentement|consentement\s+(?:libre\s+et\s+)?[ée]clair[ée]|recueil\s+du\s+consentement|"
    r"consent\s+form|consent\s+document|signature\s+pages?|pages?\s+de\s+signatures?", re.I)
ACCEPT = re.compile(r"(?:oui|yes|j['’]accepte|i agree|i accept|j['’]autorise|accepte|d['’]accord)\b", re.I)
REFUSE = re.compile(
    r"(?:non|no|je n['’]accepte pas|je refuse|je n['’]autorise pas|i do not|i don['’]t|refuse|pas d['’]accord)\b",
    re.I)
_BOX_OR_BLANK = re.compile(rf"[{BOXES}]|_{{3,}}")


@dataclass
class Piece:
    """A block in the making; some kinds (list_item, choice, statement…) are merged by `assembly.assemble`."""

    kind: str
    value: Any = None
    key: tuple[str, str] | None = None
    context: str = ""
    guessed: bool = False


def heading_level(ppr: etree._Element | None, chain: list[Style]) -> int | None:
    """Level (1-3) from a direct or styled outline level, else a "Heading N"/"Title" name in the chain."""
    direct = outline_level(ppr)
    if direct is not None:
        return min(direct + 1, 3) if direct < 9 else None
    for style in chain:
        if style.outline is not None:
            return min(style.outline + 1, 3) if style.outline < 9 else None
        match = _HEADING_NAME.search(style.name)
        if match:
            return min(int(match.group(1)), 3)
        if _TITLE_NAME.match(style.name):
            return 1
    return None


def paragraph_html(segs: list[Seg]) -> str:
    """Paragraph HTML in the neutral format: <p>, <b> outside <i>, <br/>; text escaped."""
    parts = []
    for seg in segs:
        text = html.escape(seg.text, quote=False).replace("\n", "<br/>")
        text = f"<i>{text}</i>" if seg.italic else text
        parts.append(f"<b>{text}</b>" if seg.bold else text)
    return f"<p>{''.join(parts)}</p>"


def html_text(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value.replace("<br/>", "\n"))).strip()


def choice_line(text: str) -> dict | None:
    """Recognise "☐ Oui ☐ Non" / "_____ Yes _____ No" / "Oui ☐ Non ☐" lines, with an optional statement before."""
    parts = _BOX_OR_BLANK.split(text)
    if len(parts) != 3:
        return None
    before, first, second = (part.strip() for part in parts)
    if ACCEPT.match(first) and REFUSE.match(second) and not ACCEPT.match(second):
        return {"prefix": before, "accept": first, "refuse": second}
    match = re.match(rf"^(?P<prefix>.*?)\s*(?P<accept>{ACCEPT.pattern})$", before, re.I | re.S)
    if match and not second and REFUSE.fullmatch(first):
        return {"prefix": match.group("prefix").strip(), "accept": match.group("accept"), "refuse": first}
    return None


def is_signature_line(text: str) -> bool:
    """A short label naming a signature, not a sentence that mentions one."""
    label = BLANK.sub(" ", text).strip()
    return (len(label) <= 100 and len(label.split()) <= 12 and not label.endswith((".", "?", "!"))
            and bool(_SIGN_WORD.search(label)) and not _CONSENT_ANNOUNCE.search(label))


def signature_label(text: str) -> str:
    return " ".join(BLANK.sub(" ", text).split()).strip(" :;,")


def fill_ins(text: str) -> list[Piece]:
    """Each text before a blank labels that blank; text after the last blank stays a paragraph."""
    parts = BLANK.split(text)
    pieces = [Piece("fill_in", {"label": label}) for label in map(_clean_label, parts[:-1]) if label]
    if not pieces:
        pieces.append(Piece("fill_in", {"label": ""}))
    tail = parts[-1].strip().lstrip(",;").strip()
    if re.search(r"\w", tail):
        pieces.append(Piece("paragraph", f"<p>{html.escape(tail, quote=False)}</p>".replace("\n", "<br/>")))
    return pieces


def _clean_label(raw: str) -> str:
    return " ".join(raw.split()).lstrip(",;. ").rstrip(":;, ").strip()


def looks_like_heading(segs: list[Seg], text: str, paragraph_bold: bool) -> bool:
    if len(text) > 100 or "\n" in text or text.endswith((".", ",", ";")) or len(re.findall(r"[^\W\d_]", text)) < 4:
        return False
    return all(seg.bold or paragraph_bold for seg in segs if seg.text.strip())


def _only_boxes(text: str) -> bool:
    return bool(text.strip()) and all(char in BOXES or char.isspace() for char in text)


def tick_box_table(rows: list[list[str]]) -> list[Piece] | None:
    """A table of tick boxes as the statements and tick boxes it asks (see the module docstring), or None when
    it is a table of data (or has no box at all)."""
    if not any(char in BOXES for row in rows for cell in row for char in cell):
        return None
    header = [cell.strip() for cell in rows[0]]
    accept_at = next((i for i, cell in enumerate(header) if ACCEPT.fullmatch(cell)), None)
    refuse_at = next((i for i, cell in enumerate(header) if REFUSE.fullmatch(cell) and not ACCEPT.fullmatch(cell)),
                     None)
    labelled = accept_at is not None and refuse_at is not None
    pieces: list[Piece] = []
    for number, row in enumerate(rows):
        cells = [" ".join(cell.split()) for cell in row]
        filled = [cell for cell in cells if cell]
        if not filled or (labelled and number == 0):
            continue
        if labelled and _only_boxes(cells[accept_at]) and _only_boxes(cells[refuse_at]):
            text = " ".join(cell for i, cell in enumerate(cells) if cell and i not in (accept_at, refuse_at))
            pieces.append(Piece("choice", {"prefix": text, "accept": header[accept_at],
                                           "refuse": header[refuse_at]}))
            continue
        joined = "   ".join(filled)
        if not any(char in BOXES for char in joined):
            if len(filled) > 2:
                return None  # a data row: this is a table of data with some boxes in it
            pieces.append(Piece("paragraph", paragraph_html([Seg(joined, False, False)])))
            continue
        choice = choice_line(joined)
        if choice:
            pieces.append(Piece("choice", choice))
            continue
        for cell in filled:
            boxes = sum(char in BOXES for char in cell)
            if boxes == 0:
                pieces.append(Piece("paragraph", paragraph_html([Seg(cell, False, False)])))
            elif boxes == 1 and cell[0] in BOXES and cell[1:].strip():
                pieces.append(Piece("checkbox", {"text": cell[1:].strip()}))
            elif (choice := choice_line(cell)) is not None:
                pieces.append(Piece("choice", choice))
            else:
                return None
    return pieces


def is_signature_grid(rows: list[list[str]]) -> bool:
    return any(_SIGN_CELL.match(cell) and len(cell) <= 80 and not _CONSENT_ANNOUNCE.search(cell)
               for row in rows for cell in row)


def signature_grid(rows: list[list[str]]) -> list[Piece]:
    """A signature table becomes its statements (paragraphs) and one signature block per signature cell."""
    pieces: list[Piece] = []
    context = ""
    for row in rows:
        previous = None
        for cell in row:
            text = cell.strip()
            if not text or text == previous:
                continue
            previous = text
            if _SIGN_CELL.match(text) and len(text) <= 80:
                pieces.append(Piece("signature", {"role": "participant", "label": signature_label(text)},
                                    context=context, guessed=True))
            elif (choice := choice_line(text)) is not None:
                pieces.append(Piece("choice", choice))
            elif text[0] in BOXES and text[1:].strip():
                pieces.append(Piece("checkbox", {"text": text[1:].strip()}))
            elif not _GRID_LABEL.fullmatch(text):
                pieces.append(Piece("paragraph", paragraph_html([Seg(text, False, False)])))
                context = text
    return pieces


# --------------------------------------------------------------------------------------------------------------
# The consent split
# --------------------------------------------------------------------------------------------------------------

def split_consent(blocks: list[dict], *, title_at: int | None = None) -> int | None:
    """Index of the block announcing the consent form (see module docstring), or None. The document's title
    ("Note d'information et formulaire de consentement") announces the whole document, not its consent part."""
    best: tuple[int, int] | None = None
    seen_content = False
    for index, block in enumerate(blocks):
        kind, value = block["type"], block["value"]
        if index == title_at:
            continue
        if kind == "heading" and seen_content and _CONSENT_ANNOUNCE.search(value["text"]):
            rank = value["level"]
        elif kind == "paragraph" and seen_content and len(text := html_text(value)) <= 80 \
                and _CONSENT_ANNOUNCE.search(text):
            rank = 4
        else:
            seen_content = seen_content or kind != "heading"
            continue
        if best is None or rank < best[0]:
            best = (rank, index)
    return best[1] if best else None


# --------------------------------------------------------------------------------------------------------------
# The document's title
# --------------------------------------------------------------------------------------------------------------

_INSTRUCTIONS = re.compile(
    r"^\W*(?:(?:general|template|important|special)\s+)?instructions?\b|^\W*consignes?\b|"
    r"^\W*mode\s+d['’]emploi\b|^\W*(?:guidance|read\s*me|lisez-moi|à\s+lire|note\s+(?:to|for|aux?|à))\b|"
    r"\binstructions?\b.*\b(?:template|modèle|use|utilisation)\b|"
    r"^\W*(?:delete|remove|replace|insert|complete|adapt|use\s+this|supprime[rz]|retire[rz]|remplace[rz]|"
    r"insére[rz]|complète[rz]|complete[rz]|adapte[rz]|utilise[rz]\s+ce)\b",
    re.I)
_NOT_A_TITLE = re.compile(
    r"^\W*(?:version|v\s?\d|draft|brouillon|projet|confidential|confidentiel|not\s+for\s+comment|page\s+\d|"
    r"date\b|table\s+of\s+contents|table\s+des\s+matières|sommaire|contents)\b|^[\W\d_]*$|^\s*[<\[{(].*[>\]})]\s*$",
    re.I)
_TITLE_SCAN = 60  # blocks looked at, at most: a title is at the front
_FRONT_LINE = 200  # a paragraph longer than this is body text: the front has ended
TITLE_MAX_LENGTH = 255  # what a version's title holds


def title_text(text: str) -> str:
    """A heading as a title: one line, without a trailing colon ("ADULTE REFERENT – ENFANT MINEURE :")."""
    return " ".join(text.split()).rstrip(" :").strip()


def _is_title(text: str) -> bool:
    title = title_text(text)
    return (len(re.findall(r"[^\W\d_]", title)) >= 4 and len(title) <= TITLE_MAX_LENGTH
            and not title.endswith((".", "!")) and not _INSTRUCTIONS.search(title) and not _NOT_A_TITLE.search(title))


def _italic_only(value: str) -> bool:
    """Template instructions are commonly set in italics: nothing but italic text in the paragraph."""
    return not re.search(r"[^\W\d_]", html_text(re.sub(r"<i>.*?</i>", "", value, flags=re.S)))


def propose_title(blocks: list[dict]) -> int | None:
    """Index of the heading that titles the document (see the module docstring), or None."""
    skipped_level: int | None = None  # inside an instructions section opened by a heading of this level
    for index, block in enumerate(blocks[:_TITLE_SCAN]):
        kind, value = block["type"], block["value"]
        if kind == "heading":
            text, level = value["text"], int(value.get("level") or 1)
            if _INSTRUCTIONS.search(text):
                skipped_level = level if skipped_level is None else min(skipped_level, level)
                continue
            if skipped_level is not None and (level > skipped_level or text.rstrip().endswith(":")):
                continue  # a sub-heading of the instructions ("Required language:", "Section headings:")
            skipped_level = None
            if _is_title(text):
                return index
            continue
        if skipped_level is not None or kind == "page_break":
            continue
        if kind == "paragraph" and (len(html_text(value)) <= _FRONT_LINE or _italic_only(value)):
            continue
        return None
    return None
