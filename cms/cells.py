"""CSV cells a spreadsheet shows as text and never runs (CSV injection), for every CSV the project writes: the
audit trail, the TMF index and completeness, the consent records' index."""

# A spreadsheet reads a cell starting with one of these as a formula: such cells get a leading quote.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text, never runs: one starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
