"""Tables: whatever their width, they print. `plan_table` chooses how (as they are, smaller text, a landscape page,
or parts of columns), `_table_flowables` prints them so, `table_plans` tells what printing changes."""

from dataclasses import dataclass
from functools import cache, lru_cache

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics

from cms.pdf_fonts import FONT
from cms.pdf_fonts import register_fonts as _register_fonts

from .flowables import Para, Space, Table
from .markup import _text
from .styles import FRAME_HEIGHTS, FRAME_WIDTHS, LANDSCAPE, PORTRAIT, STYLES, _style

ORDINARY_CELL_SIZE = 9.0
_ORDINARY_PADDING = 6.0  # reportlab's default, kept for the tables that fit as they are
# Tried in this order, first with words kept whole, then with long words broken: shrink a little, then turn the
# page, then shrink further. Beyond that the table is split into parts of columns.
_LAYOUTS = ((PORTRAIT, 9.0), (PORTRAIT, 8.0), (LANDSCAPE, 9.0), (LANDSCAPE, 8.0), (LANDSCAPE, 7.0),
            (LANDSCAPE, 6.0))
_SPLIT_SIZE = 7.0
_WHOLE_WORDS_EMS, _BROKEN_WORDS_EMS, _MIN_EMS = 20.0, 7.0, 1.5
_TALL_ROW = 0.8  # a row taller than this share of the page height may be split across pages


@dataclass(frozen=True)
class TablePlan:
    """How one table block prints. `widths` is None for a table printed as it is (equal columns, 9 pt)."""

    rows: int
    columns: int
    orientation: str
    font_size: float
    parts: tuple[tuple[int, ...], ...]  # the columns printed in each part: one part unless the table is split
    widths: tuple[tuple[float, ...], ...] | None
    repeat_header: bool
    split_rows: bool  # some row is taller than a page: rows may break across pages

    @property
    def adjusted(self) -> bool:
        return self.widths is not None or self.split_rows


def plan_table(value: dict) -> TablePlan | None:
    """Choose how a table prints so that it always fits the page: as it is if its columns fit; else smaller text,
    then a landscape page, then smaller text again; else it is printed in parts of columns, the first column
    repeated in each. The header row repeats on every page; a row taller than a page breaks across pages."""
    rows = _table_rows(value)
    if not rows:
        return None
    return _plan(tuple(map(tuple, rows)), bool(value.get("first_row_is_header")))


@lru_cache(maxsize=1024)
def _plan(rows: tuple, header: bool) -> TablePlan:
    """`plan_table` of the table's cells (a plan depends on nothing else): made once per table text, like the
    paragraphs' parsed markup."""
    _register_fonts()
    columns = len(rows[0])
    longest = [0.0] * columns  # in ems (widths at 1 pt)
    natural = [0.0] * columns
    for row in rows:
        for index, cell in enumerate(row):
            for line in cell.split("\n"):
                natural[index] = max(natural[index], pdfmetrics.stringWidth(line, FONT, 1))
                for word in line.split():
                    longest[index] = max(longest[index], pdfmetrics.stringWidth(word, FONT, 1))

    def need(size: float, cap: float, pad: float) -> list[float]:
        return [max(min(ems, cap), _MIN_EMS) * size + 2 * pad for ems in longest]

    everything = tuple(range(columns))
    ordinary = need(ORDINARY_CELL_SIZE, _WHOLE_WORDS_EMS, _ORDINARY_PADDING)
    if max(ordinary) <= FRAME_WIDTHS[PORTRAIT] / columns:
        widths = [FRAME_WIDTHS[PORTRAIT] / columns] * columns
        split = _has_tall_row(rows, widths, ORDINARY_CELL_SIZE, _ORDINARY_PADDING, PORTRAIT)
        return TablePlan(len(rows), columns, PORTRAIT, ORDINARY_CELL_SIZE, (everything,), None, header, split)
    for cap in (_WHOLE_WORDS_EMS, _BROKEN_WORDS_EMS):
        for orientation, size in _LAYOUTS:
            pad = _padding(size)
            needed = need(size, cap, pad)
            if sum(needed) <= FRAME_WIDTHS[orientation]:
                widths = _spread(needed, [ems * size + 2 * pad for ems in natural], FRAME_WIDTHS[orientation])
                split = _has_tall_row(rows, widths, size, pad, orientation)
                return TablePlan(len(rows), columns, orientation, size, (everything,), (tuple(widths),), header,
                                 split)
    pad = _padding(_SPLIT_SIZE)
    frame = FRAME_WIDTHS[LANDSCAPE]
    needed = need(_SPLIT_SIZE, _BROKEN_WORDS_EMS, pad)
    needed[0] = min(needed[0], frame / 3)  # the repeated first column leaves room for the others
    parts: list[list[int]] = [[0]]
    for index in range(1, columns):
        if len(parts[-1]) > 1 and sum(needed[i] for i in parts[-1]) + needed[index] > frame:
            parts.append([0])
        parts[-1].append(index)
    natural_widths = [ems * _SPLIT_SIZE + 2 * pad for ems in natural]
    part_widths = [tuple(_spread([needed[i] for i in part], [natural_widths[i] for i in part], frame))
                   for part in parts]
    split = any(_has_tall_row([[row[i] for i in part] for row in rows], widths, _SPLIT_SIZE, pad, LANDSCAPE)
                for part, widths in zip(parts, part_widths, strict=True))
    return TablePlan(len(rows), columns, LANDSCAPE, _SPLIT_SIZE, tuple(tuple(part) for part in parts),
                     tuple(part_widths), header, split)


def _spread(needed: list[float], natural: list[float], frame: float) -> list[float]:
    """Column widths filling the frame: each at least what it needs, the room left shared by what text wants."""
    natural = [max(n, m) for n, m in zip(natural, needed, strict=True)]
    if sum(natural) <= frame:
        return [round(width * frame / sum(natural), 2) for width in natural]
    room = frame - sum(needed)
    wants = [n - m for n, m in zip(natural, needed, strict=True)]
    total = sum(wants) or 1.0
    return [round(m + room * want / total, 2) for m, want in zip(needed, wants, strict=True)]


def _has_tall_row(rows: list[list[str]], widths: list[float], size: float, pad: float, orientation: str) -> bool:
    style = _cell_style(size)
    limit = FRAME_HEIGHTS[orientation] * _TALL_ROW
    for row in rows:
        for cell, width in zip(row, widths, strict=True):
            if (len(cell) + cell.count("\n") + 1) * style.leading <= limit:  # even one character a line fits
                continue
            if Para(_text(cell), style).wrap(max(width - 2 * pad, 1), limit * 10)[1] > limit:
                return True
    return False


def _table_rows(value: dict) -> list[list[str]]:
    rows = [[cell or "" for cell in row] for row in value.get("rows") or [] if row]
    width = max((len(row) for row in rows), default=0)
    return [row + [""] * (width - len(row)) for row in rows]


def _padding(size: float) -> float:
    return round(size * 0.35, 2)


@cache  # one style object per size: paragraphs' parsed markup is cached per text and style
def _cell_style(size: float) -> ParagraphStyle:
    if size == ORDINARY_CELL_SIZE:
        return STYLES["cell"]
    return ParagraphStyle(f"cell-{size}", parent=STYLES["cell"], fontSize=size, leading=round(size * 1.28, 2))


def _table_flowables(value: dict) -> list:
    plan = plan_table(value)
    if plan is None:
        return []
    rows = _table_rows(value)
    style = _cell_style(plan.font_size)
    pad = _ORDINARY_PADDING if plan.widths is None else _padding(plan.font_size)
    commands = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if plan.widths is not None:
        commands += [("LEFTPADDING", (0, 0), (-1, -1), pad), ("RIGHTPADDING", (0, 0), (-1, -1), pad),
                     ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if plan.repeat_header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
    flowables: list = []
    for number, part in enumerate(plan.parts):
        if len(plan.parts) > 1:
            caption = (f"Tableau en {len(plan.parts)} parties — partie {number + 1} : colonnes "
                       f"{column_ranges(part)} sur {plan.columns}")
            flowables.append(Para(caption, STYLES["small"]))
        data = [[Para(_text(row[i]), style) for i in part] for row in rows]
        table = Table(data, colWidths=list(plan.widths[number]) if plan.widths else None,
                      repeatRows=1 if plan.repeat_header else 0,
                      splitInRow=1 if plan.split_rows else 0)
        table.setStyle(_style(*commands))
        flowables += [table, Space(1, 6 if len(plan.parts) > 1 else 4)]
    for flowable in flowables:
        flowable.orientation = plan.orientation
    return flowables


def column_ranges(columns: tuple[int, ...]) -> str:
    """Column indexes as people number them: (0, 17, 18, 19) → "1, 18–20"."""
    ranges: list[list[int]] = []
    for index in columns:
        if ranges and index == ranges[-1][-1] + 1:
            ranges[-1].append(index)
        else:
            ranges.append([index])
    return ", ".join(f"{r[0] + 1}–{r[-1] + 1}" if len(r) > 1 else f"{r[0] + 1}" for r in ranges)


def table_plans(blocks: list[dict]) -> list[tuple[int, dict, TablePlan]]:
    """(number among the tables, block value, plan) of every table block, numbered from 1."""
    tables = [block["value"] for block in blocks if block.get("type") == "table"]
    return [(number, value, plan) for number, value in enumerate(tables, start=1)
            if (plan := plan_table(value)) is not None]
