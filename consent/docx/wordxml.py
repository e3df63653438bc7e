"""Reading WordprocessingML: styles and numbering through their chains, and one paragraph's runs as text.

Text is read from the XML, not from `Paragraph.text`, which drops `w:ins` and content controls. Tick boxes in
their many Word forms (Wingdings glyphs, `w14:checkbox` controls, legacy FORMCHECKBOX fields) become box glyphs
here, and an empty FORMTEXT field or placeholder becomes a blank, so the heuristics only ever see text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from docx.oxml.ns import qn
from lxml import etree

from .markers import VAL, Seg, W

_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_MC_ALTERNATE = "{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"
_MATH = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"

BOXES = "☐☑☒□❑❒◻⬜"
CHECKED_BOXES = "☑☒"
_WINGDINGS = {"o": "□", "q": "❑", "¨": "☐", "þ": "☑", "ý": "☒", "x": "☒"}
_WINGDINGS_SYM = {0xA8: "☐", 0x6F: "□", 0x71: "❑", 0xFE: "☑", 0xFD: "☒", 0x78: "☒"}
PAGE = "\f"


# --------------------------------------------------------------------------------------------------------------
# Styles and numbering
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Style:
    name: str
    based_on: str | None
    num: tuple[str, int] | None
    outline: int | None
    bold: bool | None
    italic: bool | None
    hidden: bool | None
    page_break: bool | None


def word_flag(element: etree._Element | None) -> bool | None:
    """Word on/off property: present means on unless w:val says 0/false/off."""
    if element is None:
        return None
    return element.get(VAL, "true").lower() not in ("0", "false", "off")


def paragraph_numbering(ppr: etree._Element | None) -> tuple[str, int] | None:
    num_pr = ppr.find(W["numPr"]) if ppr is not None else None
    if num_pr is None:
        return None
    num_id = num_pr.find(W["numId"])
    ilvl = num_pr.find(W["ilvl"])
    if num_id is None:
        return None
    level = ilvl.get(VAL, "0") if ilvl is not None else "0"
    return num_id.get(VAL, "0"), int(level) if level.isdigit() else 0


def outline_level(ppr: etree._Element | None) -> int | None:
    element = ppr.find(W["outlineLvl"]) if ppr is not None else None
    value = element.get(VAL, "") if element is not None else ""
    return int(value) if value.isdigit() else None


class Styles:
    """Style lookups through the `basedOn` chain, memoised because every paragraph asks."""

    def __init__(self, root: etree._Element | None) -> None:
        self.by_id: dict[str, Style] = {}
        self.default_paragraph = ""
        for element in root.iter(W["style"]) if root is not None else ():
            style_id = element.get(qn("w:styleId"), "")
            name = element.find(W["name"])
            based = element.find(W["basedOn"])
            ppr = element.find(W["pPr"])
            rpr = element.find(W["rPr"])
            self.by_id[style_id] = Style(
                name=name.get(VAL, style_id) if name is not None else style_id,
                based_on=based.get(VAL) if based is not None else None,
                num=paragraph_numbering(ppr), outline=outline_level(ppr),
                bold=word_flag(rpr.find(W["b"])) if rpr is not None else None,
                italic=word_flag(rpr.find(W["i"])) if rpr is not None else None,
                hidden=word_flag(rpr.find(W["vanish"])) if rpr is not None else None,
                page_break=word_flag(ppr.find(W["pageBreakBefore"])) if ppr is not None else None,
            )
            if element.get(qn("w:type")) == "paragraph" and element.get(qn("w:default")) in ("1", "true"):
                self.default_paragraph = style_id
        self._chains: dict[str, list[Style]] = {}

    def chain(self, style_id: str) -> list[Style]:
        if style_id not in self._chains:
            chain: list[Style] = []
            current: str | None = style_id
            while current in self.by_id and len(chain) < 20 and self.by_id[current] not in chain:
                chain.append(self.by_id[current])
                current = self.by_id[current].based_on
            self._chains[style_id] = chain
        return self._chains[style_id]

    def first(self, style_id: str, attribute: str) -> Any:
        return next((getattr(s, attribute) for s in self.chain(style_id) if getattr(s, attribute) is not None), None)


class Numbering:
    """numId → list kind, following num → abstractNum (and numStyleLink) as Word does."""

    def __init__(self, root: etree._Element | None, styles: Styles) -> None:
        self.styles = styles
        self.abstract: dict[str, dict[int, str]] = {}
        self.links: dict[str, str] = {}
        self.nums: dict[str, tuple[str, dict[int, str]]] = {}
        if root is None:
            return
        for abstract in root.iter(W["abstractNum"]):
            abstract_id = abstract.get(qn("w:abstractNumId"), "")
            self.abstract[abstract_id] = self._levels(abstract)
            link = abstract.find(W["numStyleLink"])
            if link is not None:
                self.links[abstract_id] = link.get(VAL, "")
        for num in root.iter(W["num"]):
            abstract_id = num.find(W["abstractNumId"])
            overrides = {}
            for override in num.iter(W["lvlOverride"]):
                overrides.update(self._levels(override))
            self.nums[num.get(qn("w:numId"), "")] = (
                abstract_id.get(VAL, "") if abstract_id is not None else "", overrides)

    @staticmethod
    def _levels(element: etree._Element) -> dict[int, str]:
        levels = {}
        for lvl in element.iter(W["lvl"]):
            fmt = next(lvl.iter(W["numFmt"]), None)
            ilvl = lvl.get(qn("w:ilvl"), "0")
            levels[int(ilvl) if ilvl.isdigit() else 0] = fmt.get(VAL, "decimal") if fmt is not None else "decimal"
        return levels

    def kind(self, num_id: str, ilvl: int, depth: int = 0) -> str | None:
        if num_id in ("", "0") or num_id not in self.nums or depth > 3:
            return None
        abstract_id, overrides = self.nums[num_id]
        fmt = overrides.get(ilvl) or self.abstract.get(abstract_id, {}).get(ilvl)
        if fmt is None and abstract_id in self.links:
            linked = self.styles.first(self.links[abstract_id], "num")
            return self.kind(linked[0], ilvl, depth + 1) if linked else None
        if fmt is None:
            fmt = self.abstract.get(abstract_id, {}).get(0, "bullet")
        return "bullet" if fmt in ("bullet", "none") else "numbered"


# --------------------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------------------

@dataclass
class _Field:
    instr: str = ""
    checked: bool | None = None
    result_at: int | None = None


LINK_NOTE = "lien hypertexte"
_FIELD_LINK = re.compile(r'^\s*HYPERLINK\s+(?:"([^"]+)"|(\S+))', re.I)
_R_ID = qn("r:id")


def link_address(target: str) -> str:
    """How an address is printed after its text: a mail address without its "mailto:"."""
    target = target.strip()
    return target[len("mailto:"):] if target.lower().startswith("mailto:") else target


class Runs:
    """Walk one paragraph's inline XML: text with insertions kept and deletions dropped, formatting, notes.

    A hyperlink keeps its text followed by its address in brackets ("the registry (https://…)"), unless the text
    already shows the address, and is noted (`LINK_NOTE`): the neutral text format has no links, and an address
    dropped silently would be lost for the printed form. Links inside the document (to a bookmark) are text."""

    def __init__(self, styles: Styles, footnotes: dict[str, str] | None = None,
                 links: dict[str, str] | None = None) -> None:
        self.styles = styles
        self.footnotes = footnotes or {}
        self.links = links or {}
        self.segs: list[Seg] = []
        self.plain: list[str] = []
        self.notes: list[tuple[str, str]] = []
        self.markers: set[str] = set()
        self.fields: list[_Field] = []

    def text(self) -> str:
        return "".join(self.plain)

    def walk(self, element: etree._Element) -> Runs:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in (W["pPr"], W["del"], W["moveFrom"]):
                continue
            if tag == W["r"]:
                self._run(child)
            elif tag == W["hyperlink"]:
                start = len(self.plain)
                self.walk(child)
                self._link(self.links.get(child.get(_R_ID, ""), ""), start)
            elif tag in (W["ins"], W["moveTo"], W["smartTag"], W["customXml"], W["dir"], W["bdo"]):
                self.walk(child)
            elif tag == W["fldSimple"]:
                instr = child.get(qn("w:instr"), "")
                self._note_field(instr)
                start = len(self.plain)
                self.walk(child)
                self._link(_field_link(instr), start)
            elif tag == W["sdt"]:
                self._sdt(child)
            elif tag == W["bookmarkStart"]:
                self.markers.add(child.get(qn("w:name"), ""))
            elif tag == _MC_ALTERNATE and len(child):
                self.walk(child[0])
            elif tag.startswith(_MATH):
                text = "".join(t.text or "" for t in child.iter(f"{_MATH}t"))
                self.notes.append(("équation", f"Équation non reprise « {excerpt(text)} »"))
        return self

    def _sdt(self, sdt: etree._Element) -> None:
        props = sdt.find(W["sdtPr"])
        content = sdt.find(W["sdtContent"])
        checkbox = props.find(f"{{{_W14}}}checkbox") if props is not None else None
        if checkbox is not None:
            state = checkbox.find(f"{{{_W14}}}checked")
            shown = "".join(t.text or "" for t in content.iter(W["t"])) if content is not None else ""
            if not any(box in shown for box in BOXES):
                checked = state is not None and state.get(f"{{{_W14}}}val", "0") in ("1", "true")
                self._emit("☒" if checked else "☐", False, False)
                return
        if props is not None and props.find(W["showingPlcHdr"]) is not None:
            self._emit("_____", False, False)
            return
        if content is not None:
            self.walk(content)

    def _run(self, run: etree._Element) -> None:
        rpr = run.find(W["rPr"])
        char_style = rpr.find(W["rStyle"]) if rpr is not None else None
        style_id = char_style.get(VAL, "") if char_style is not None else ""

        def prop(tag: str, attribute: str) -> bool:
            direct = word_flag(rpr.find(W[tag])) if rpr is not None else None
            return bool(direct if direct is not None else self.styles.first(style_id, attribute))

        if prop("vanish", "hidden"):
            text = "".join(t.text or "" for t in run.iter(W["t"]))
            if text.strip():
                self.notes.append(("texte masqué", f"Texte masqué non repris « {excerpt(text)} »"))
            return
        fonts = rpr.find(W["rFonts"]) if rpr is not None else None
        font = (fonts.get(qn("w:ascii")) or fonts.get(qn("w:hAnsi")) or "") if fonts is not None else ""
        symbol = "wingdings" in font.lower()
        self._run_children(run, prop("b", "bold"), prop("i", "italic"), symbol)

    def _run_children(self, run: etree._Element, bold: bool, italic: bool, symbol: bool) -> None:
        for child in run:
            tag = child.tag
            if tag == W["t"]:
                text = child.text or ""
                self._emit("".join(_WINGDINGS.get(c, c) for c in text) if symbol else text, bold, italic)
            elif tag in (W["tab"], W["ptab"]):
                self._emit(" ", bold, italic)
            elif tag == W["br"]:
                self._emit(PAGE if child.get(qn("w:type")) == "page" else "\n", bold, italic)
            elif tag == W["cr"]:
                self._emit("\n", bold, italic)
            elif tag == W["noBreakHyphen"]:
                self._emit("-", bold, italic)
            elif tag == W["sym"]:
                self._symbol(child, bold, italic)
            elif tag == W["fldChar"]:
                self._field_char(child)
            elif tag == W["instrText"] and self.fields:
                self.fields[-1].instr += child.text or ""
            elif tag in (W["drawing"], W["pict"], W["object"]):
                self.notes.append(_graphic_note(child))
            elif tag in (W["footnoteReference"], W["endnoteReference"]):
                kind = "note de bas de page" if tag == W["footnoteReference"] else "note de fin"
                key = f"{kind}:{child.get(qn('w:id'), '?')}"
                quoted = excerpt(self.footnotes.get(key, ""))
                self.notes.append((kind, f"{kind.capitalize()} non reprise « {quoted} »"))
            elif tag == _MC_ALTERNATE and len(child):
                self._run_children(child[0], bold, italic, symbol)

    def _symbol(self, sym: etree._Element, bold: bool, italic: bool) -> None:
        font = (sym.get(qn("w:font")) or "").lower()
        code = sym.get(qn("w:char")) or ""
        if not re.fullmatch(r"[0-9A-Fa-f]{1,4}", code):
            return
        value = int(code, 16)
        if "wingdings" in font:
            self._emit(_WINGDINGS_SYM.get(value & 0xFF, ""), bold, italic)
        elif 0x20 <= value < 0xE000 or value > 0xF8FF:  # a real code point ("MS Gothic" ☐), not a symbol-font slot
            self._emit(chr(value), bold, italic)

    def _field_char(self, element: etree._Element) -> None:
        kind = element.get(qn("w:fldCharType"))
        if kind == "begin":
            box = element.find(f"{W['ffData']}/{W['checkBox']}")
            checked = None
            if box is not None:
                state = box.find(W["checked"]) if box.find(W["checked"]) is not None else box.find(W["default"])
                checked = state is not None and state.get(VAL, "1") in ("1", "true")
            self.fields.append(_Field(checked=checked))
        elif kind == "separate" and self.fields:
            self.fields[-1].result_at = len(self.plain)
        elif kind == "end" and self.fields:
            self._end_field(self.fields.pop())

    def _end_field(self, fld: _Field) -> None:
        words = fld.instr.split()
        name = words[0].upper() if words else ""
        if name == "FORMCHECKBOX":
            self._emit("☒ " if fld.checked else "☐ ", False, False)
        elif name == "FORMTEXT":
            start = fld.result_at if fld.result_at is not None else len(self.plain)
            if not "".join(self.plain[start:]).strip():
                self._emit("_____", False, False)
        elif name == "HYPERLINK":
            self._link(_field_link(fld.instr), fld.result_at if fld.result_at is not None else len(self.plain))
        else:
            self._note_field(fld.instr)

    def _link(self, target: str, start: int) -> None:
        """After a link's text (emitted from `start`), its address, unless the text shows it already; noted."""
        address = link_address(target)
        if not address:
            return
        text = " ".join("".join(self.plain[start:]).split())
        bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", address, flags=re.I).rstrip("/").lower()
        if bare and bare not in text.lower():
            self._emit(f" ({address})", False, False)
        self.notes.append((LINK_NOTE, f"Lien hypertexte conservé avec son adresse « {excerpt(text or address)} » "
                                      f"→ {excerpt(address, 120)}"))

    def _note_field(self, instr: str) -> None:
        words = instr.split()
        name = words[0].upper() if words else ""
        if name and name not in ("HYPERLINK", "FORMTEXT", "FORMCHECKBOX", "FORMDROPDOWN"):
            self.notes.append((f"champ {name}", f"Champ Word {name} remplacé par son dernier résultat affiché"))

    def _emit(self, text: str, bold: bool, italic: bool) -> None:
        if not text:
            return
        self.plain.append(text)
        if self.segs and (self.segs[-1].bold, self.segs[-1].italic) == (bold, italic):
            self.segs[-1].text += text
        else:
            self.segs.append(Seg(text, bold, italic))


def _field_link(instr: str) -> str:
    """The address of a HYPERLINK field ("HYPERLINK "https://…" \\o tip"); "" for one to a bookmark (\\l)."""
    match = _FIELD_LINK.match(instr)
    address = (match.group(1) or match.group(2) or "") if match else ""
    return "" if address.startswith("\\") else address


def _graphic_note(element: etree._Element) -> tuple[str, str]:
    """Name what a drawing holds, with its alt text or text, so the author can rebuild it by hand."""
    names = {etree.QName(e).localname for e in element.iter() if isinstance(e.tag, str)}
    text = " ".join(t.text or "" for t in element.iter(W["t"])).strip()
    if "txbxContent" in names and text:
        return "zone de texte", f"Zone de texte non reprise « {excerpt(text)} »"
    if "chart" in names:
        return "graphique", "Graphique non repris"
    if "relIds" in names:
        return "diagramme", "Diagramme SmartArt non repris"
    if element.tag == W["object"] or "OLEObject" in names:
        return "objet", "Objet incorporé (OLE) non repris"
    if "blip" in names or "imagedata" in names:
        described = next((e.get("descr") or e.get("title") or e.get("name") for e in element.iter()
                          if isinstance(e.tag, str) and etree.QName(e).localname == "docPr"), "")
        return "image", f"Image non reprise{f' « {excerpt(described)} »' if described else ''}"
    return "forme", "Forme ou dessin non repris"


def excerpt(text: str, size: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[:size - 1] + "…"
