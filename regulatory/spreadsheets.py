"""Excel (XLSX) cells written as what they are: text as text, numbers as numbers, never a formula.

CSV has no cell types, so a CSV cell that starts like a formula gets a leading quote (`cms.cells.csv_cell`).
XLSX has them: a string cell (shared string, type "s") is shown as typed and never evaluated by Excel or
LibreOffice, so it needs no quote, and the reader sees the title exactly as filed. openpyxl guesses a formula
for any string starting with "=", hence the explicit type here. Characters XML 1.0 cannot hold (control
characters other than tab, line feed and carriage return) would make openpyxl refuse the whole file: each is
replaced by U+FFFD, so a hostile title still exports.
"""

from collections.abc import Iterable

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING

REPLACEMENT = "\ufffd"


def text(value) -> str:
    """The string a text cell holds: `value` as text, characters XML cannot carry replaced."""
    return ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, "" if value is None else str(value))


def append_row(sheet, values: Iterable, *, font=None) -> None:
    """Append one row: ints, floats and None as they are, everything else as a text cell (never a formula)."""
    values = [value if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
              else text(value) for value in values]
    sheet.append(values)
    for cell, value in zip(sheet[sheet.max_row], values, strict=False):
        if isinstance(value, str):
            cell.data_type = TYPE_STRING
        if font is not None:
            cell.font = font
