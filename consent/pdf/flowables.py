"""The flowables the forms are made of: reportlab's, cheaper to lay out and to draw, for the same output: `Para` (a
paragraph), `Table`, `Keep` (flowables kept on one page), `List` and `Space`. What each saves is said on each.

Platypus measures a form several times over as it lays it out (a table measures its cells when it is sized and
again when drawn, `Keep` measures its content and the frame measures it again), each print starts again from the
text, and reportlab's paragraph code is general (hyphenation, bidirectional text, shaping, images in text,
underlines, links, justification): most of the time went to doing the same work again, or to cases these forms
never have.

Some methods here restate reportlab's own (`Paragraph.breakLines`, `Paragraph.drawPara` and its line drawing,
rl_accel's `sameFrag`) for the cases these forms use, step for step, with the same arithmetic and the same PDF
operators, and leave every other case to reportlab. They were checked against reportlab 5.1's on the printed
forms, consent records, wide and tall tables and DOCX fixtures of the tests: the same bytes (bench/RESULTS.md,
(d)). On another reportlab version they stand aside (`MIRRORS_REPORTLAB`) and reportlab's code runs, until the
comparison is made again.
"""

from contextlib import contextmanager
from functools import lru_cache
from string import whitespace

import reportlab
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import getAscentDescent, getFont, stringWidth
from reportlab.platypus import KeepTogether, ListFlowable, Spacer, paragraph
from reportlab.platypus import Table as _ReportlabTable
from reportlab.platypus.paragraph import (
    _FK_BREAK,
    _FK_TEXT,
    FragLine,
    Paragraph,
    ParaLines,
    _HSFrag,
    _InjectedFrag,
    _processed_frags,
    _SplitFrag,
    _SplitFragH,
    cleanBlockQuotedText,
    lstrip,
    split,
    strip,
    textTransformFrags,
)
from reportlab.platypus.paraparser import ParaFrag, ParaParser

# The reportlab whose code the methods below restate (see the module's notes)
MIRRORS_REPORTLAB = reportlab.Version.split(".")[:2] == ["5", "1"]


class Para(Paragraph):
    """reportlab's `Paragraph`, cheaper to lay out and to draw, for the same bytes:

    - its markup is parsed once per process for a given text and style (`_parsed`: reportlab's parser is an
      HTMLParser run over every paragraph of every print; the fragments it returns are copied for each paragraph,
      never shared with a previous one);
    - its lines are broken once per width (`wrap`): a paragraph is measured several times at the same width, and
      reportlab breaks the lines anew each time. The last result is kept while the width and the fragments stay
      the same (reportlab's `wrap` reads nothing else: not the available height, not the canvas);
    - its lines are broken (`breakLines`) and drawn (`drawPara`) by reportlab's steps for what it holds, without
      those for what it does not, and with the words' widths remembered (`_word_widths`)."""

    def _setup(self, text, style, bulletText, frags, cleaner):
        if frags is not None or bulletText is not None or self.caseSensitive != 1:
            super()._setup(text, style, bulletText, frags, cleaner)
            return
        self.text, self.style, frags, bullet_frags = _parsed(text, style)
        self.frags = [frag.clone() for frag in frags]
        self.bulletText = [frag.clone() for frag in bullet_frags] if bullet_frags else None
        self.debug = 0

    def breakLines(self, width):  # noqa: N802 (reportlab's name)
        """reportlab's line breaking (`Paragraph.breakLines`) for what these forms hold, step for step and with the
        same arithmetic, without the cases they never ask for (hyphenation, soft hyphens, bidirectional text,
        shaping, images in text, end dots, a bullet, autoLeading), which are left to reportlab, as is a word wider
        than a line (reportlab splits it). Two cases: a paragraph in one font without markup (kind 0), and one
        with bold or italic runs or line breaks (kind 1), where reportlab asks for the width of a space and the
        ascent of a font again for each word."""
        frags, style = self.frags, self.style
        if (not MIRRORS_REPORTLAB or not frags or self.bulletText or not _plain_style(style) or _processed_frags(frags)
                or getattr(self, "autoLeading", getattr(style, "autoLeading", "")) not in ("", "off")):
            return super().breakLines(width)
        for frag in frags:
            text = getattr(frag, "text", None)
            if type(frag) is not ParaFrag or not isinstance(text, str) or "\xad" in text or hasattr(frag, "cbDefn"):
                return super().breakLines(width)
        max_widths = list(width) if isinstance(width, (tuple, list)) else [width]
        self._width_max = self.height = self._splitLongWordCount = self._hyphenations = 0
        if len(frags) == 1 and not hasattr(frags[0], "backColor"):
            lines = self._break_plain(frags[0], max_widths)
        else:
            lines = self._break_runs(frags, max_widths)
        return super().breakLines(width) if lines is None else lines

    def _break_plain(self, frag, max_widths: list):
        """reportlab's kind 0 (one fragment); None for a word wider than its line."""
        last = len(max_widths) - 1
        font_name, font_size = frag.fontName, frag.fontSize
        ascent, descent = getAscentDescent(font_name, font_size)
        text = strip(frag.text)
        if not text:
            return frag.clone(kind=0, lines=[], ascent=ascent, descent=descent, fontSize=font_size)
        measure = _word_widths(font_name, font_size)
        words = split(text)
        space = measure(" ")
        shrink = self.style.spaceShrinkage * space
        split_long = self.style.splitLongWords
        lines = []
        line: list = []
        line_number = 0
        max_width = max_widths[0]
        current = -space  # reportlab's start: no space before the first word
        widest = 0
        for word, word_width in zip(words, [measure(word) for word in words], strict=True):
            new_width = current + space + word_width
            limit = max_width + shrink * len(line)
            if new_width > limit and split_long and word_width > max_widths[min(line_number, last)]:
                return None
            if new_width <= limit or not line:
                if word:
                    line.append(word)
                current = new_width
            else:
                if current > widest:
                    widest = current
                lines.append((max_width - current, line))
                line = [word]
                current = word_width
                line_number += 1
                max_width = max_widths[min(last, line_number)]
        if line:
            if current > widest:
                widest = current
            lines.append((max_width - current, line))
        self._width_max = widest
        return frag.clone(kind=0, lines=lines, ascent=ascent, descent=descent, fontSize=font_size)

    def _break_runs(self, frags: list, max_widths: list):  # noqa: C901, PLR0912, PLR0915 (reportlab's loop, kept whole)
        """reportlab's kind 1 (several fragments: runs of another font, line breaks), its loop as it is, with the
        width of a space and the ascent and descent of a font looked up once per font and size; None for a word
        wider than its line. Like reportlab's, it leaves the paragraph's fragments as the words it broke."""
        style = self.style
        space_widths: dict = {}
        extents: dict = {}

        def space_width(font_name, font_size):
            key = font_name, font_size
            width = space_widths.get(key)
            if width is None:
                width = space_widths[key] = stringWidth(" ", font_name, font_size)
            return width

        def ascent_descent(font_name, font_size):
            key = font_name, font_size
            found = extents.get(key)
            if found is None:
                found = extents[key] = getAscentDescent(font_name, font_size)
            return found

        lines = []
        lineno = 0
        maxlineno = len(max_widths) - 1
        maxWidth = max_widths[0]  # noqa: N806 (reportlab's names, to compare with its code)
        spaceShrinkage = style.spaceShrinkage  # noqa: N806
        splitLongWords = style.splitLongWords  # noqa: N806
        njlbv = not style.justifyBreaks
        words = []
        FW = []  # noqa: N806
        sFW = 0  # noqa: N806
        n = spaceWidth = currentWidth = 0  # noqa: N806
        maxSize = maxAscent = minDescent = 0  # noqa: N806
        g = source = None  # the current run, and the fragment it was copied from (same style: `_same_frag`)
        for w in _frag_words(frags):
            FW.append(w)
            f = w[-1][0]
            fontName = f.fontName  # noqa: N806
            fontSize = f.fontSize  # noqa: N806
            if not words:
                n = spaceWidth = currentWidth = 0  # noqa: N806
                maxSize = fontSize  # noqa: N806
                maxAscent, minDescent = ascent_descent(fontName, fontSize)  # noqa: N806
            wordWidth = w[0]  # noqa: N806
            f = w[1][0]
            newWidth = currentWidth + spaceWidth + wordWidth if wordWidth > 0 else currentWidth  # noqa: N806
            lineBreak = f._fkind == _FK_BREAK  # noqa: N806
            limWidth = maxWidth  # noqa: N806
            if spaceShrinkage and newWidth > maxWidth:  # the room spaces may give back matters past the width only
                spaceShrink = spaceWidth  # noqa: N806
                for wi in words:
                    if wi._fkind == _FK_TEXT:
                        ns = wi.text.count(" ")
                        if ns:
                            spaceShrink += ns * space_width(wi.fontName, wi.fontSize)  # noqa: N806
                spaceShrink *= spaceShrinkage  # noqa: N806
                limWidth += spaceShrink  # noqa: N806
            if (not lineBreak and newWidth > limWidth and not isinstance(w, _SplitFragH) and splitLongWords
                    and not isinstance(w, _SplitFrag)):
                nmw = min(lineno, maxlineno)
                if wordWidth > max(max_widths[nmw:nmw + 1]):
                    return None  # a word wider than the line: reportlab splits it
            if not ((newWidth > limWidth and n > 0) or lineBreak):
                nText = w[1][1]  # noqa: N806
                if nText:
                    n += 1
                fontSize = f.fontSize  # noqa: N806
                ascent, descent = ascent_descent(f.fontName, fontSize)
                if fontSize > maxSize:
                    maxSize = fontSize  # noqa: N806
                if ascent > maxAscent:
                    maxAscent = ascent  # noqa: N806
                if descent < minDescent:
                    minDescent = descent  # noqa: N806
                if not words:
                    g = f.clone()
                    source = f
                    words = [g]
                    g.text = nText
                elif f is not source and not _same_frag(g, f):  # a run's next word from the same fragment
                    if spaceWidth:
                        i = len(words) - 1
                        while i >= 0:
                            wi = words[i]
                            i -= 1
                            if wi._fkind == _FK_TEXT:
                                if not wi.text.endswith(" "):
                                    wi.text += " "
                                break
                    g = f.clone()
                    source = f
                    words.append(g)
                    g.text = nText
                elif spaceWidth:
                    if not g.text.endswith(" "):
                        g.text += " " + nText
                    else:
                        g.text += nText
                else:
                    g.text += nText
                spaceWidth = space_width(fontName, fontSize) if isinstance(w, _HSFrag) else 0  # noqa: N806
                ni = 0
                for i in w[2:]:
                    g = i[0].clone()
                    source = i[0]
                    g.text = i[1]
                    if g.text:
                        ni = 1
                    words.append(g)
                    fontSize = g.fontSize  # noqa: N806
                    ascent, descent = ascent_descent(g.fontName, fontSize)
                    if fontSize > maxSize:
                        maxSize = fontSize  # noqa: N806
                    if ascent > maxAscent:
                        maxAscent = ascent  # noqa: N806
                    if descent < minDescent:
                        minDescent = descent  # noqa: N806
                if not nText and ni:
                    n += 1
                currentWidth = newWidth  # noqa: N806
            else:  # it does not fit, or it is a line break
                if lineBreak:
                    g = f.clone()
                    words.append(g)
                    llb = njlbv and not isinstance(w, _InjectedFrag)
                else:
                    llb = False
                if currentWidth > self._width_max:
                    self._width_max = currentWidth
                lines.append(FragLine(extraSpace=maxWidth - currentWidth, wordCount=n, lineBreak=llb, words=words,
                                      fontSize=maxSize, ascent=maxAscent, descent=minDescent, maxWidth=maxWidth,
                                      sFW=sFW))
                sFW = len(FW) - 1  # noqa: N806
                lineno += 1
                maxWidth = max_widths[min(maxlineno, lineno)]  # noqa: N806
                if lineBreak:
                    words = []
                    continue
                spaceWidth = space_width(fontName, fontSize) if isinstance(w, _HSFrag) else 0  # noqa: N806
                currentWidth = wordWidth  # noqa: N806
                n = 1
                g = f.clone()
                source = f
                maxSize = g.fontSize  # noqa: N806
                maxAscent, minDescent = ascent_descent(g.fontName, maxSize)  # noqa: N806
                words = [g]
                g.text = w[1][1]
                for i in w[2:]:
                    g = i[0].clone()
                    source = i[0]
                    g.text = i[1]
                    words.append(g)
                    fontSize = g.fontSize  # noqa: N806
                    ascent, descent = ascent_descent(g.fontName, fontSize)
                    if fontSize > maxSize:
                        maxSize = fontSize  # noqa: N806
                    if ascent > maxAscent:
                        maxAscent = ascent  # noqa: N806
                    if descent < minDescent:
                        minDescent = descent  # noqa: N806
        if words:
            if currentWidth > self._width_max:
                self._width_max = currentWidth
            lines.append(FragLine(extraSpace=(maxWidth - currentWidth), wordCount=n, lineBreak=False, words=words,
                                  fontSize=maxSize, ascent=maxAscent, descent=minDescent, maxWidth=maxWidth, sFW=sFW))
        self.frags = FW
        return ParaLines(kind=1, lines=lines)

    def drawPara(self, debug=0):  # noqa: N802 (reportlab's name)
        """reportlab's drawing of a left-aligned paragraph, the same operators in the same order (a text object,
        each line's runs in their font subset and colour, a word spacing where a line was allowed to shrink),
        written directly rather than through reportlab's general text object and line drawing (which also handle
        underlines, links, backgrounds, images, rises, justification, bullets, indents: all drawn by reportlab)."""
        blPara, style = self.blPara, self.style
        if (not MIRRORS_REPORTLAB or debug or not blPara.lines or style.alignment != TA_LEFT or self.bulletText
                or style.backColor or (style.borderColor and style.borderWidth) or style.firstLineIndent
                or style.wordWrap or style.endDots or "_offsets" in self.__dict__ or not self.canv.bottomup
                or getattr(self, "autoLeading", getattr(style, "autoLeading", "")) not in ("", "off")):
            return super().drawPara(debug)
        if blPara.kind == 0:
            if getattr(blPara, "us_lines", True) or getattr(blPara, "link", True):
                return super().drawPara(debug)
            font = getFont(blPara.fontName)
            if not font._dynamicFont:
                return super().drawPara(debug)
            return self._draw_plain(font)
        for line in blPara.lines:
            for frag in line.words:
                if (not isinstance(getattr(frag, "text", None), str) or hasattr(frag, "cbDefn")
                        or getattr(frag, "us_lines", True) or getattr(frag, "link", True)
                        or getattr(frag, "backColor", None) or getattr(frag, "rise", True)
                        or not getFont(frag.fontName)._dynamicFont):
                    return super().drawPara(debug)
        return self._draw_runs()

    def _draw_plain(self, font):
        """Kind 0: one font, one colour (reportlab's `drawPara` with `_leftDrawParaLine`)."""
        blPara, style = self.blPara, self.style
        canvas = self.canv
        canvas.saveState()
        height = blPara.fontSize if paragraph.paraFontSizeHeightOffset else getattr(blPara, "ascent", blPara.fontSize)
        canvas.setFillColor(blPara.textColor)
        document, escape = canvas._doc, canvas._escape
        code = ["BT", f"1 0 0 1 {fp_str(style.leftIndent, self.height - height)} Tm"]
        font_operator = f"{fp_str(blPara.fontSize)} Tf {fp_str(style.leading)} TL"
        subset_now = -1
        for extra_space, words in blPara.lines:
            text = " ".join(words)
            runs = []
            for subset, encoded in font.splitString(text, document):
                if subset != subset_now:
                    runs.append(f"{font.getSubsetInternalName(subset, document)} {font_operator}")
                    subset_now = subset
                runs.append(f"({escape(encoded)}) Tj")
            spaces = 0 if extra_space > -1e-8 else len(words) + text.count("\xa0") - 1
            if spaces > 0:  # a line allowed to shrink (spaceShrinkage): its spaces narrowed
                code += [f"{fp_str(extra_space / float(spaces))} Tw", " ".join(runs) + " T*", "0 Tw"]
            else:
                code.append(" ".join(runs) + " T*")
        code.append("ET")
        canvas._code.append(" ".join(code))
        canvas.restoreState()

    def _draw_runs(self):
        """Kind 1: runs in several fonts or colours, line breaks (reportlab's `drawPara` with `_leftDrawParaLineX`
        and `_putFragLine`, less what no run here has: underlines, links, backgrounds, rises, images). reportlab's
        text object keeps the state (font, leading, colour, word spacing), its operators written as it writes
        them; only each run's text is written here."""
        style, lines = self.style, self.blPara.lines
        canvas = self.canv
        canvas.saveState()
        first = lines[0]
        height = first.fontSize if paragraph.paraFontSizeHeightOffset else getattr(first, "ascent", first.fontSize)
        tx = canvas.beginText(style.leftIndent, self.height - height)
        tx._fontname = tx._fontsize = tx._leading = None  # as reportlab starts a paragraph's text object
        leading = style.leading
        document, escape, code = canvas._doc, canvas._escape, tx._code
        colour = None
        for line in lines:
            words = line.words
            extra_space = line.extraSpace
            spaces = 0 if extra_space > -1e-8 else line.wordCount + sum(w.text.count("\xa0") for w in words) - 1
            if spaces > 0:
                tx.setWordSpace(extra_space / float(spaces))
            if tx._leading != leading:
                tx.setLeading(leading)
            last = words[-1]
            for frag in words:
                if tx._fontname != frag.fontName or tx._fontsize != frag.fontSize:
                    tx._setFont(frag.fontName, frag.fontSize)
                if colour != frag.textColor:
                    colour = frag.textColor
                    tx.setFillColor(colour)
                font = getFont(tx._fontname)
                runs = []
                operator = None
                for subset, encoded in font.splitString(frag.text, document):
                    if subset != tx._curSubset:
                        if operator is None:
                            operator = f"{fp_str(tx._fontsize)} Tf {fp_str(tx._leading)} TL"
                        runs.append(f"{font.getSubsetInternalName(subset, document)} {operator}")
                        tx._curSubset = subset
                    runs.append(f"({escape(encoded)}) Tj")
                code.append(" ".join(runs) + (" T*" if frag is last else ""))
            if spaces > 0:
                tx.setWordSpace(0)
        canvas.drawText(tx)
        canvas.restoreState()

    def minWidth(self):  # noqa: N802 (reportlab's name)
        """reportlab's (the widest word: how a table sizes a column left without a width), the words' widths from
        `_word_widths`."""
        frags = self.frags
        if (MIRRORS_REPORTLAB and len(frags) == 1 and not _processed_frags(frags)
                and isinstance(getattr(frags[0], "text", None), str)):
            measure = _word_widths(frags[0].fontName, frags[0].fontSize)
            return max(measure(word) for word in split(frags[0].text, " "))
        return super().minWidth()

    def wrap(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        last = self.__dict__.get("_last_wrap")
        if (last is not None and last[0] == availWidth and last[1] is self.frags
                and last[2] is self.__dict__.get("blPara")):  # `split` may drop or replace the lines
            self.width, self.height, self._wrapWidths = last[3:]
            return self.width, self.height
        size = super().wrap(availWidth, availHeight)
        self._last_wrap = (availWidth, self.frags, self.blPara, self.width, self.height, self._wrapWidths)
        return size


class _WithoutFrameCopy:
    """Measured without a deep copy of the current frame: reportlab's `_listWrapOn` (which measures the content of a
    `KeepTogether` or a list) copies the frame for flowables that add content to it while they are measured
    (footnote-like generated content); the ones these forms put there (paragraphs, tables, spacers, images) never
    do, and the copy was most of the cost of measuring a consent statement or a signature block."""

    def wrap(self, aW, aH):  # noqa: N803 (reportlab's names)
        template = getattr(self.canv, "_doctemplate", None)
        frame = getattr(template, "frame", None)
        if frame is None:
            return super().wrap(aW, aH)
        template.frame = None  # `_listWrapOn` copies the frame only when there is one
        try:
            return super().wrap(aW, aH)
        finally:
            template.frame = frame


class Keep(_WithoutFrameCopy, KeepTogether):
    """reportlab's `KeepTogether`: its flowables on one page, if they fit on one."""


class List(_WithoutFrameCopy, ListFlowable):
    """reportlab's `ListFlowable`."""


class Space(Spacer):
    """reportlab's `Spacer` (room between flowables), which draws nothing and now writes nothing either (reportlab
    writes an empty `q 1 0 0 1 x y cm Q` for each)."""

    def drawOn(self, canvas, x, y, _sW=0):  # noqa: N802, N803 (reportlab's names)
        return None


class Table(_ReportlabTable):
    """reportlab's `Table`, sized once per width: reportlab sizes a table (its columns, then each row from its
    cells' flowables) each time it is measured or split, whether in a `Keep`, in the frame or when split. The
    sizes are kept while the width is the same, unless reportlab could have stopped sizing early, which it does
    for a table taller than the room offered (`longTableOptimize`): then it is sized again."""

    def _calc(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        if (self.__dict__.get("_sized_for") == availWidth and self._hmax == self._nrows
                and (not self._longTableOptimize or self._height <= availHeight)):
            return  # every row was sized, and would be again: nothing reportlab's sizing reads has changed
        super()._calc(availWidth, availHeight)
        self._sized_for = availWidth

    def _drawCell(self, cellval, cellstyle, pos, size):  # noqa: N802 (reportlab's name)
        """An empty cell (a box to write in) draws nothing: reportlab writes an empty text object for it (and the
        cell's colour and font, which the next cell then sets if it needs them)."""
        if cellval == "" and not (cellstyle.href or cellstyle.destination):
            return
        super()._drawCell(cellval, cellstyle, pos, size)


_WORD_WIDTHS: dict = {}  # (font name, size) → {word: width}: font metrics, pure, kept per process
_WORDS_KEPT = 50_000  # per font and size, then started afresh


def _word_widths(font_name: str, font_size: float):
    """The width of a word in a font and size (reportlab's `stringWidth`, the same number), remembered: the same
    words come back again and again (a form's, its next print's, the next form's)."""
    key = font_name, font_size
    widths = _WORD_WIDTHS.get(key)
    if widths is None or len(widths) > _WORDS_KEPT:
        widths = _WORD_WIDTHS[key] = {}
    measure = getFont(font_name).stringWidth
    get = widths.get

    def width(word: str) -> float:
        found = get(word)
        if found is None:
            found = widths[word] = measure(word, font_size)
        return found

    return width


def _frag_words(frags: list) -> list:
    """reportlab's `_getFragWords` for fragments of text and line breaks, without soft hyphens (`Para.breakLines`
    checks): the paragraph's words, each `[width, (fragment, text), ...]` (a word may span fragments: "<b>a</b>b"),
    an `_HSFrag` when a space follows it, a line break as `[0, (fragment, "")]`. The same steps, the widths
    from `_word_widths`."""
    words = []
    add = words.append
    word: list = []
    width = 0
    hanging_space = False
    hanging_strip = True
    for frag in frags:
        text = frag.text
        if text != "":
            frag._fkind = _FK_TEXT
            if hanging_strip:
                text = lstrip(text)
                if not text:
                    continue
                hanging_strip = False
            measure = _word_widths(frag.fontName, frag.fontSize)
            pieces = split(text)
            if text[0] in whitespace or not pieces:
                if word:
                    word.insert(0, width)
                    add(word)
                    spaced = hanging_space
                    word = []
                    hanging_space = False
                    width = 0
                else:
                    spaced = words and isinstance(words[-1], _HSFrag)
                if not spaced:
                    pieces.insert(0, "")
                elif not pieces:
                    continue
            for piece in pieces[:-1]:
                word.append((frag, piece))
                width += measure(piece)
                word.insert(0, width)
                add(_HSFrag(word))
                word = []
                width = 0
            hanging_space = False
            piece = pieces[-1]
            word.append((frag, piece))
            width += measure(piece)
            if text and text[-1] in whitespace:
                word.insert(0, width)
                add(_HSFrag(word))
                word = []
                width = 0
        elif hasattr(frag, "lineBreak"):
            if word:
                word.insert(0, width)
                add(word)
                word = []
                width = 0
                hanging_space = False
            frag._fkind = _FK_BREAK
            add([0, (frag, "")])
            hanging_strip = True
    if word:
        word.insert(0, width)
        add(word)
    if not words and frags:
        frags[0]._fkind = _FK_TEXT
        words = [[0, (frags[0], "")]]
    return words


_SAME_FRAG_KEYS = ("fontName", "fontSize", "textColor", "rise", "us_lines", "link", "backColor", "nobr")
_MISSING = object()


def _same_frag(f, g, _c_same_frag=paragraph.sameFrag) -> bool:
    """rl_accel's `sameFrag` (may two fragments print as one run of text?), the same answer, seven times faster on
    the paraparser's fragments (0.5 µs instead of 4: the C function asks each fragment for its attributes with
    `getattr`, and most it asks for are absent, each absence an AttributeError raised and cleared; it runs once
    per word of a paragraph with bold or italics). The same rule: a callback or a line break is never the same;
    otherwise the eight attributes equal (the same object, or `!=` false), or absent from both."""
    if type(f) is not ParaFrag or type(g) is not ParaFrag:  # noqa: E721 (exact class: no class attributes)
        return _c_same_frag(f, g)
    f_attrs, g_attrs = f.__dict__, g.__dict__
    if "cbDefn" in f_attrs or "lineBreak" in f_attrs or "cbDefn" in g_attrs or "lineBreak" in g_attrs:
        return False
    for key in _SAME_FRAG_KEYS:
        mine, theirs = f_attrs.get(key, _MISSING), g_attrs.get(key, _MISSING)
        if mine is not theirs and mine != theirs:
            return False
    return True


# reportlab's line breaking calls it by its module's global name (for the paragraphs `Para` leaves to it, and for
# the other reportlab documents of the process: the same answers)
if MIRRORS_REPORTLAB and not any(hasattr(ParaFrag, key) for key in (*_SAME_FRAG_KEYS, "cbDefn", "lineBreak")):
    paragraph.sameFrag = _same_frag


@contextmanager
def reportlab_code():
    """Within it, reportlab's own code runs where this module restates it (breaking and drawing paragraphs,
    `sameFrag`): what the comparison of the module's notes renders against (bench/pdf_vs_weasyprint.py). For one
    thread at a time: it changes module globals."""
    global MIRRORS_REPORTLAB
    mirrors, same_frag = MIRRORS_REPORTLAB, paragraph.sameFrag
    MIRRORS_REPORTLAB, paragraph.sameFrag = False, _same_frag.__defaults__[0]
    try:
        yield
    finally:
        MIRRORS_REPORTLAB, paragraph.sameFrag = mirrors, same_frag


@lru_cache(maxsize=256)
def _plain_style(style: ParagraphStyle) -> bool:
    """The style asks for nothing `Para.breakLines` leaves to reportlab (keyed by identity, like `_parsed`)."""
    return not (style.wordWrap or style.endDots or style.shaping or getattr(style, "hyphenationLang", "")
                or style.uriWasteReduce or style.embeddedHyphenation or style.spaceShrinkage < 0)


@lru_cache(maxsize=8192)
def _parsed(text: str, style: ParagraphStyle) -> tuple:
    """What `Paragraph._setup` makes of a text in a style (the style objects are constants of this package, keyed by
    identity): the cleaned text, the style, the fragments and the bullet's fragments, to be copied, never used."""
    text = cleanBlockQuotedText(text)
    parser = ParaParser()
    parser.caseSensitive = 1
    style, frags, bullet_frags = parser.parse(text, style)
    if frags is None:
        raise ValueError(f"xml parser error ({parser.errors[0]}) in paragraph beginning\n'{text[:30]}'")
    textTransformFrags(frags, style)
    return text, style, tuple(frags), tuple(bullet_frags) if bullet_frags else None
