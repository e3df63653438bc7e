"""Paragraph-level comparison of two consent-form versions, side by side (the ethics committee's table)."""

import difflib
import re
from dataclasses import dataclass
from html import unescape

TAGS = re.compile(r"<[^>]+>")


def _plain(html: str) -> list[str]:
    parts = re.split(r"</p>|<br\s*/?>", html or "")
    return [unescape(TAGS.sub("", part)).strip() for part in parts if unescape(TAGS.sub("", part)).strip()]


def block_lines(blocks: list[dict]) -> list[str]:
    """Each block as the lines a reader compares: headings, paragraphs, list items, table rows, statements."""
    lines = []
    for block in blocks:
        kind, value = block["type"], block["value"]
        if kind == "heading":
            lines.append(f"# {value['text']}")
        elif kind == "paragraph":
            lines.extend(_plain(value))
        elif kind == "list":
            lines.extend(f"• {item}" for item in value["items"])
        elif kind == "table":
            lines.extend(" | ".join(row) for row in value["rows"])
        elif kind == "consent_statement":
            lines.append(f"{value['text']} [☐ {value['accept_label']} ☐ {value['refuse_label']}]"
                         + (" *" if value.get("mandatory") else ""))
        elif kind == "checkbox":
            lines.append(f"☐ {value['text']}")
        elif kind == "fill_in":
            lines.append(f"{value['label']} : ____")
        elif kind == "signature":
            lines.append(f"[Signature — {value['label']}]")
        elif kind == "page_break":
            lines.append("[saut de page]")
    return lines


@dataclass(frozen=True)
class Row:
    change: str  # "same", "changed", "added", "removed"
    left: str
    right: str


def compare_lines(left: list[str], right: list[str]) -> list[Row]:
    rows = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_opcodes():
        if tag == "equal":
            rows.extend(Row("same", line, line) for line in left[i1:i2])
        elif tag == "delete":
            rows.extend(Row("removed", line, "") for line in left[i1:i2])
        elif tag == "insert":
            rows.extend(Row("added", "", line) for line in right[j1:j2])
        else:
            old, new = left[i1:i2], right[j1:j2]
            for index in range(max(len(old), len(new))):
                a = old[index] if index < len(old) else ""
                b = new[index] if index < len(new) else ""
                rows.append(Row("changed" if a and b else ("removed" if a else "added"), a, b))
    return rows


def compare_versions(left, right) -> dict[str, list[Row]]:
    """{"information": rows, "consent": rows} for two versions (anything with .information/.consent)."""
    from .blocks import neutral

    return {part: compare_lines(block_lines(neutral(getattr(left, part))), block_lines(neutral(getattr(right, part))))
            for part in ("information", "consent")}


CHANGE_LABELS = {"same": "", "changed": "Modifié", "added": "Ajouté", "removed": "Supprimé"}


def comparison_docx(left, right, comparison: dict[str, list[Row]]) -> bytes:
    """The comparison table as a Word file, for an ethics submission."""
    import io

    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, RGBColor

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, margin, Cm(1.5))
    document.add_heading("Tableau comparatif des versions", level=1)
    document.add_paragraph(f"{left.title} (version {left.version_number} du {left.version_date:%d/%m/%Y}) → "
                           f"{right.title} (version {right.version_number} du {right.version_date:%d/%m/%Y})")
    for part, title in (("information", "Note d'information"), ("consent", "Formulaire de consentement")):
        document.add_heading(title, level=2)
        table = document.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        header = table.rows[0].cells
        header[0].text = f"Version {left.version_number}"
        header[1].text = f"Version {right.version_number}"
        header[2].text = "Modification"
        for row in comparison[part]:
            if row.change == "same":
                continue
            cells = table.add_row().cells
            cells[0].text, cells[1].text, cells[2].text = row.left, row.right, CHANGE_LABELS[row.change]
            for cell in cells[:2]:
                for run in cell.paragraphs[0].runs:
                    run.font.color.rgb = RGBColor(0x1D, 0x27, 0x33)
        if len(table.rows) == 1:
            document.add_paragraph("Aucune modification.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
