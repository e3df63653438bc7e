"""Text as reportlab paragraph markup: plain text escaped (`_text`), rich text reduced to bold, italics and line
breaks (`_SafeMarkup`)."""

from functools import lru_cache
from html import escape
from html.parser import HTMLParser


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
