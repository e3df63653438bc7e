"""The font every PDF of the project is written in (consent forms, TMF record sheets): DejaVu Sans, shipped in
cms/fonts/ and embedded in each PDF, so French text prints as typed on any machine."""

import weakref
from functools import lru_cache
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
_SUBSETS_KEPT = 64  # per face: a few KiB each


class FontBytes(bytes):
    """Bytes made from a font subset alone (its font program, its ToUnicode map), the same for the same subset
    (`_TTFont`): a PDF writer may keep what it derives from them (their compressed form)."""


class _Widths(pdfdoc.PDFObject):
    """A font's /Widths, in thousandths of an em to three decimals (reportlab writes four: 617.6758 for 1265 of
    DejaVu's 2048 units, 617.676 here). The difference, under 0.0005 thousandths of an em a glyph (a ten-
    thousandth of a point along a line of 10-point text), is nothing on the page (the printed forms rasterise to
    the same pixels at 150 dpi; a few pages of 40-page documents differ by a shade of antialiasing), and far
    within what PDF/A accepts between a font dictionary's widths and its program's (ISO 19005-2 6.2.11.5); it
    saves a byte a character."""

    def __init__(self, widths):
        self.widths = widths

    def format(self, document):
        return b"[ " + fp_str(*(round(width, 3) for width in self.widths)).encode("ascii") + b" ]"


@lru_cache(maxsize=_SUBSETS_KEPT)
def _to_unicode(font_name: str, subset: tuple[int, ...]) -> FontBytes:
    """reportlab's ToUnicode CMap (`ttfonts.makeToUnicodeCMap`) of a first subset whose codes 1 to 31 are unused:
    the same text, without their entries (made once per subset, like its program)."""
    codes = [(0, subset[0]), *enumerate(subset[32:], start=32)]
    return FontBytes("\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap", "/CIDSystemInfo",
        f"<< /Registry ({font_name})", f"/Ordering ({font_name})", "/Supplement 0", ">> def",
        f"/CMapName /{font_name} def", "/CMapType 2 def", "1 begincodespacerange", f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange", f"{len(codes)} beginbfchar", *(f"<{code:02X}> <{value:04X}>" for code, value in codes),
        "endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]).encode("ascii"))


class _TTFont(TTFont):
    """reportlab's TrueType font, cheaper to draw with and to embed, for the same glyphs on the page.

    Subset programs, made once per process: a document's subset is the characters it draws, in the order it
    first draws them, and reportlab builds its font program (glyphs, metrics, cmap) anew for each document, in
    Python. The same characters in the same order make the same program: it is kept (the `_SUBSETS_KEPT` most
    recent per face), as the parsed font file itself is. The same form prints with the same subsets; another
    text makes other subsets, made then.

    Codes from 33: reportlab numbers a subset's characters from code 1, and codes 1 to 31 are control
    characters, which a PDF string writes as four bytes (`\\001`): the first 31 characters a document draws,
    its commonest letters, cost four bytes each time. Codes start at 33 ("!") here, so that up to 94
    characters per face (a French form uses 50 to 80) are written as one byte each: two fifths less page
    content to compress and store. Codes 1 to 32 stay in the subset as spaces, as reportlab sets them up.

    Text to codes at C speed: reportlab maps a string to its codes one Python step per character. Here the
    characters not met before are given their codes by reportlab itself, in the order of their first appearance
    in the string (the order reportlab meets them: the same codes), then the string is mapped in one C call. A
    string with a character that has no code of its own (a no-break space, a character the font lacks) or a
    code beyond the first subset (more than 223 characters in a document) is left to reportlab whole."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        make_subset = self.face.makeSubset  # reportlab's, bound to this face

        @lru_cache(maxsize=_SUBSETS_KEPT)
        def program(codes: tuple) -> FontBytes:
            return FontBytes(make_subset(list(codes)))

        self.subset_programs = program  # (its `cache_clear()`: `forget_subsets`)
        self.face.makeSubset = lambda subset: program(tuple(subset))

    def addObjects(self, doc):  # noqa: N802 (reportlab's name)
        """reportlab's font objects, then: each subset's widths to three decimals (`_Widths`), written in one call
        rather than one formatting step per glyph; in the first subset, when its codes 1 to 31 are the unused
        spaces of `splitString` (codes from 33), neither widths nor Unicode values for them (/FirstChar 32: a code
        below has the font's /MissingWidth, the width of its .notdef glyph); no /Name (obsolescent)."""
        self.__dict__.pop("_last_state", None)  # the document's state ends here (reportlab deletes it)
        state = self.state.get(doc)
        if state is None or state.internalName is None:  # (a font in the document has its name already)
            return super().addObjects(doc)
        names = [self.getSubsetInternalName(n, doc)[1:] for n in range(len(state.subsets))]
        spaced = state.subsets[0][:33] == [0] + [32] * 32
        super().addObjects(doc)
        for number, name in enumerate(names):
            font = doc.idToObject.get(name)
            if "Name" in getattr(font, "__dict__", {}):
                del font.Name  # obsolescent since PDF 1.1 (ISO 32000-1, table 111): the resources name the font
            widths = getattr(font, "Widths", None)
            if not isinstance(widths, pdfdoc.PDFArray) or any(type(w) not in (int, float) for w in widths.sequence):
                continue
            if number == 0 and spaced and font.FirstChar == 0 and isinstance(font.ToUnicode, pdfdoc.PDFObjectReference):
                font.FirstChar = 32
                font.Widths = _Widths(widths.sequence[32:])
                unicode_map = doc.idToObject[font.ToUnicode.name]
                unicode_map.content = _to_unicode(font.BaseFont, tuple(state.subsets[0]))
            else:
                font.Widths = _Widths(widths.sequence)

    def splitString(self, text, doc, encoding="utf-8"):  # noqa: N802 (reportlab's name)
        if not text or not isinstance(text, str):
            return super().splitString(text, doc, encoding)
        last = self.__dict__.get("_last_state")  # (document, its state): the same document, string after string
        if last is not None and last[0]() is doc:
            state = last[1]
        else:
            state = self.state.get(doc)
            if state is None:
                state = self._assignState(doc)  # reportlab's
                if not state.frozen and state.nextCode == 1 and state.subsets == [[0] + [32] * 32]:
                    state.nextCode = 33  # codes from "!" on: see the class's notes
            self._last_state = (weakref.ref(doc), state)
        codes = state.assignments
        try:  # KeyError: a character without its code yet, or none; ValueError: a code beyond subset 0 (>= 256)
            return [(0, bytes(map(codes.__getitem__, map(ord, text))))]
        except (KeyError, ValueError):
            pass
        new = [char for char in dict.fromkeys(text) if ord(char) not in codes]
        if new:
            super().splitString("".join(new), doc, encoding)  # codes given by reportlab, in order of appearance
            try:
                return [(0, bytes(map(codes.__getitem__, map(ord, text))))]
            except (KeyError, ValueError):
                pass
        return super().splitString(text, doc, encoding)


def forget_subsets() -> None:
    """Empty this process's caches of subset programs and ToUnicode maps: the next document pays for its subsets as
    a first print does (`bench/pdf_vs_weasyprint.py` measures both)."""
    _to_unicode.cache_clear()
    for name in (FONT, FONT_BOLD):
        if name in pdfmetrics.getRegisteredFontNames():
            font = pdfmetrics.getFont(name)
            if isinstance(font, _TTFont):
                font.subset_programs.cache_clear()


def register_fonts() -> None:
    """Make FONT and FONT_BOLD known to reportlab (once per process: the font files are parsed here only)."""
    # Known by the bold face, which only this function registers: a "DejaVuSans" registered elsewhere in the
    # process (a test drawing its own PDF) would otherwise leave the family without its bold face.
    if FONT_BOLD in pdfmetrics.getRegisteredFontNames():
        return
    # Page content compressed without the ASCII85 layer reportlab adds by default (a quarter more bytes, for
    # mail systems of the 1990s); every PDF of the project is binary anyway (embedded fonts, ICC profile).
    rl_config.useA85 = 0
    # reportlab's graphics (the QR code of a consent record) start in Helvetica, an unembedded standard font that
    # would then sit in the page's resources: they start in DejaVu instead (PDF/A: every font embedded).
    from reportlab.graphics import shapes

    shapes.STATE_DEFAULTS["fontName"] = FONT
    # asciiReadable=False: a subset holds only the characters the document uses (reportlab otherwise puts the
    # whole of ASCII in the first subset of each face, used or not: half the embedded font bytes of a form)
    pdfmetrics.registerFont(_TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf"), asciiReadable=False))
    pdfmetrics.registerFont(_TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf"), asciiReadable=False))
    # No italic face is shipped: italics print upright rather than falling back to an unembedded font.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
