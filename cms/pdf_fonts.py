"""The font every PDF of the project is written in (consent forms, TMF record sheets): DejaVu Sans, shipped in
cms/fonts/ and embedded in each PDF, so French text prints as typed on any machine."""

from pathlib import Path

from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"


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
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf"), asciiReadable=False))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf"), asciiReadable=False))
    # No italic face is shipped: italics print upright rather than falling back to an unembedded font.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
