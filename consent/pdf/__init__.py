"""Print-ready PDF of consent forms (reportlab Platypus): A4, the trial in the header, the form's identity and
"page n / N" in every page's footer, drawn boxes to tick, fill in and sign, an embedded Unicode font, an
optional watermark, and byte-identical output for the same content (before signing). Every file is PDF/A-2b
(`cms.pdfa.ArchivalCanvas`).

The parts: `document` (forms put together, with their page header and footer: `render_forms`), `blocks` (a form's
blocks as flowables), `tables` (how a table prints whatever its width: `plan_table`), `record` (a consent record:
its form as answered and signed, then the record sheet: `render_consent_record`), `styles` (the page, the styles,
the words printed around a form's text), `markup` (text and rich text as paragraph markup), `flowables`
(reportlab's paragraph, table, list and keep-together, cheaper to lay out and draw, for the same output) and
`writer` (the file as reportlab writes it, less its comments, streams compressed once where they can be).
"""

from .document import FormToPrint, TrialHeader, render_forms
from .markup import _SafeMarkup, _text
from .record import COUNTERSIGNATURE_BOX, RecordToPrint, SignerToPrint, render_consent_record
from .styles import DEFAULT_PART_TITLES, FRAME_WIDTHS, LANDSCAPE, PART_TITLES, STYLES
from .tables import ORDINARY_CELL_SIZE, column_ranges, plan_table, table_plans

__all__ = [
    "COUNTERSIGNATURE_BOX",
    "DEFAULT_PART_TITLES",
    "FRAME_WIDTHS",
    "LANDSCAPE",
    "ORDINARY_CELL_SIZE",
    "PART_TITLES",
    "STYLES",
    "FormToPrint",
    "RecordToPrint",
    "SignerToPrint",
    "TrialHeader",
    "_SafeMarkup",  # bench/ prints the same sanitised text another way
    "_text",  # bench/
    "column_ranges",
    "plan_table",
    "render_consent_record",
    "render_forms",
    "table_plans",
]
