"""The page (A4, portrait or landscape: its margins, and the room flowables get), the paragraph and table styles in
the embedded font, and the words printed around a form's own text in each language (`CHROME`)."""

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import TableStyle

from cms.pdf_fonts import FONT, FONT_BOLD

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
TOP_MARGIN, BOTTOM_MARGIN = 24 * mm, 22 * mm
PORTRAIT, LANDSCAPE = "portrait", "landscape"
PAGE_SIZES = {PORTRAIT: A4, LANDSCAPE: landscape(A4)}
FRAME_PADDING = 6  # reportlab's default inside a frame
# The room flowables get on a page of each orientation
FRAME_WIDTHS = {orientation: size[0] - 2 * MARGIN - 2 * FRAME_PADDING for orientation, size in PAGE_SIZES.items()}
FRAME_HEIGHTS = {orientation: size[1] - TOP_MARGIN - BOTTOM_MARGIN - 2 * FRAME_PADDING
                 for orientation, size in PAGE_SIZES.items()}


STYLES = {
    "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=6, alignment=TA_CENTER),
    "part": ParagraphStyle("part", fontName=FONT_BOLD, fontSize=13, leading=17, spaceBefore=4, spaceAfter=6,
                           textColor=colors.HexColor("#0b3d6e")),
    1: ParagraphStyle("h1", fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
    2: ParagraphStyle("h2", fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=6, spaceAfter=3),
    3: ParagraphStyle("h3", fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=4, spaceAfter=2),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13.5, spaceAfter=4),
    "cell": ParagraphStyle("cell", fontName=FONT, fontSize=9, leading=11.5),
    "small": ParagraphStyle("small", fontName=FONT, fontSize=7.5, leading=9),
    "approval_head": ParagraphStyle("approval_head", fontName=FONT_BOLD, fontSize=8.5, leading=11, spaceAfter=2),
    "approval": ParagraphStyle("approval", fontName=FONT, fontSize=8.5, leading=11),
}


def _style(*commands) -> TableStyle:
    """Every table cell in the embedded font: a bare string cell would otherwise use unembedded Helvetica."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


# What the PDF writes around a form's own text, in the form's language (French unless told otherwise).
CHROME = {
    "fr": {"sponsor": "Promoteur : {}", "version": "{kind} — Version {number} du {date}",
           "no_opinion": "Sans avis favorable", "page": "page {} / {}", "fingerprint": "Empreinte {}",
           "do_not_use": "{} — ne pas utiliser pour recueillir un consentement",
           "signature_rows": ("Nom et prénom", "Date (jj/mm/aaaa)", "Heure (hh:mm)", "Signature"),
           "approvals": "Approbation de cette version (signatures électroniques, 21 CFR 11.50)",
           "parts": {"emergency": ("Note d'information", "Attestation de l'investigateur"),
                     None: ("Note d'information", "Formulaire de consentement")}},
    "en": {"sponsor": "Sponsor: {}", "version": "{kind} — Version {number} of {date}",
           "no_opinion": "No favourable opinion", "page": "page {} / {}", "fingerprint": "Fingerprint {}",
           "do_not_use": "{} — do not use to obtain consent",
           "signature_rows": ("Full name", "Date (dd/mm/yyyy)", "Time (hh:mm)", "Signature"),
           "approvals": "Approval of this version (electronic signatures, 21 CFR 11.50)",
           "parts": {"emergency": ("Information sheet", "Investigator's attestation"),
                     None: ("Information sheet", "Consent form")}},
}


def _chrome(language: str) -> dict:
    return CHROME.get(language, CHROME["fr"])


PART_TITLES = {kind: titles for kind, titles in CHROME["fr"]["parts"].items() if kind}
DEFAULT_PART_TITLES = CHROME["fr"]["parts"][None]
