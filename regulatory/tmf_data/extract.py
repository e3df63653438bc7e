"""Make `tmf_reference_model_v3.3.1.json` from the CDISC/DIA TMF Reference Model spreadsheet.

One-off tool, never imported at run time: the data migration reads the committed JSON file, so the project
does not depend on the spreadsheet (nor on ../shared) once deployed. The data file was made with:

    .venv/bin/python regulatory/tmf_data/extract.py \\
        ../shared/reference/TMF_Reference_Model_v3.3.1_2023-08-11.xlsx \\
        > regulatory/tmf_data/tmf_reference_model_v3.3.1.json

What the spreadsheet holds and how it is read (sheet "V 3.3.1 Clean", header on row 3, one artifact a row):

- "Zone #" and "Section #" are numbers (1 and 1.01) shown zero-padded by a cell format, except zones 10 and 11
  which are text-formatted numbers; they are written as "01" and "01.01" and checked against "Artifact #",
  which is already text ("01.01.01").
- Names carry stray spaces ("Protocol ", "Site Set-up ", "Database  Requirements"); runs of white space are
  collapsed. "Core or Recommended for inclusion" is "Core", "Core " or "Recommended".
- The level columns ("Trial Level Document", "Country/ Region Level Document", "Site Level Document") hold "X"
  (once "x") when the artifact is filed at that level, and are empty (once a single space) otherwise.
- "Recommended Subartifacts" is one sub-artifact a line.
- "Trial Level MILESTONE/EVENT", "Country Level MILESTONE/EVENT", "Site Level MILESTONE/EVENT" name the milestone
  by which the artifact is expected at that level, as "02 Clinical Infrastructure Ready" (once "#2 ..."): only the
  number is kept, checked against the milestones below.

The milestones themselves come from the sheet "Milestones_Events & Description": a phase row ("Start Up"), then
one row per milestone ("#1", name, what it means at trial, country and site level).

openpyxl comes with Wagtail; the script uses nothing from Django.
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

import openpyxl

SHEET = "V 3.3.1 Clean"
HEADER_ROW = 3
VERSION = "3.3.1"
EXPECTED_COUNTS = {"zones": 11, "sections": 48, "artifacts": 250}

COLUMNS = {
    "zone": "Zone #",
    "zone_name": "Zone Name",
    "section": "Section #",
    "section_name": "Section Name",
    "number": "Artifact #",
    "name": "Artifact name",
    "definition": "Definition / Purpose",
    "sub_artifacts": "Recommended Subartifacts -  Documents/documentation recommended to be filed to the artifact.",
    "core": "Core or Recommended for inclusion",
    "unique_id": "Unique ID Number",
    "trial": "Trial Level Document",
    "country": "Country/ Region Level Document",
    "site": "Site Level Document",
    "trial_milestone": "Trial Level MILESTONE/EVENT",
    "country_milestone": "Country Level MILESTONE/EVENT",
    "site_milestone": "Site Level MILESTONE/EVENT",
}
MILESTONE_SHEET = "Milestones_Events & Description"
EXPECTED_MILESTONES = 12


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _flag(value) -> bool:
    flag = _text(value).upper()
    if flag not in ("X", ""):
        raise ValueError(f"unexpected level flag {value!r}")
    return flag == "X"


def _core(value) -> bool:
    core = _text(value)
    if core not in ("Core", "Recommended"):
        raise ValueError(f"unexpected Core/Recommended value {value!r}")
    return core == "Core"


def _milestone_number(value) -> int | None:
    text = _text(value)
    if not text:
        return None
    number = text.split()[0].lstrip("#")
    if not number.isdigit():
        raise ValueError(f"unexpected milestone {value!r}")
    return int(number)


def milestones(workbook) -> list[dict]:
    """The milestones and events of the sheet "Milestones_Events & Description", in their order."""
    found, phase = [], ""
    for row in workbook[MILESTONE_SHEET].iter_rows(min_row=3, values_only=True):
        first = _text(row[0])
        if not first:
            continue
        if not first.startswith("#"):
            phase = first
            continue
        found.append({"number": int(first[1:]), "name": _text(row[1]), "phase": phase,
                      "definitions": {level: " ".join(str(row[column] or "").split())
                                      for level, column in (("trial", 2), ("country", 3), ("site", 4))}})
    if len(found) != EXPECTED_MILESTONES or [m["number"] for m in found] != list(range(1, EXPECTED_MILESTONES + 1)):
        raise ValueError(f"expected milestones #1 to #{EXPECTED_MILESTONES}, read {[m['number'] for m in found]}")
    return found


def _source(sheet, path: Path) -> dict:
    """Version and date as the sheet's title row states them, so a different edition is refused, not mislabelled."""
    title = [_text(cell) for cell in next(sheet.iter_rows(min_row=1, max_row=1, values_only=True))]
    if f"Version {VERSION}" not in title:
        raise ValueError(f"{path.name} is not version {VERSION} of the TMF Reference Model: {title}")
    date = next(datetime.datetime.strptime(t, "%d-%b-%Y").date() for t in title if t.count("-") == 2)
    return {
        "title": "CDISC/DIA TMF Reference Model",
        "version": VERSION,
        "date": date.isoformat(),
        "file": path.name,
        "sheet": SHEET,
    }


def extract(path: Path) -> dict:
    """The zones, sections and artifacts of the spreadsheet at `path`, as written to the JSON data file."""
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    sheet = workbook[SHEET]
    header = [_text(cell) for cell in next(sheet.iter_rows(min_row=HEADER_ROW, max_row=HEADER_ROW, values_only=True))]
    index = {key: header.index(_text(title)) for key, title in COLUMNS.items()}
    source = _source(sheet, path)

    zones, sections, artifacts = {}, {}, []
    for row in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True):
        if row[index["number"]] is None:
            continue
        cell = {key: row[i] for key, i in index.items()}
        zone = f"{int(cell['zone']):02d}"
        section = f"{float(cell['section']):05.2f}"
        number = _text(cell["number"])
        if not number.startswith(f"{section}.") or not section.startswith(f"{zone}.") or len(number) != 8:
            raise ValueError(f"artifact {number!r} is not in section {section!r}")
        zones.setdefault(zone, {"number": zone, "name": _text(cell["zone_name"])})
        sections.setdefault(section, {"number": section, "name": _text(cell["section_name"]), "zone": zone})
        artifacts.append({
            "number": number,
            "section": section,
            "name": _text(cell["name"]),
            "definition": str(cell["definition"] or "").strip(),
            "sub_artifacts": [_text(line) for line in str(cell["sub_artifacts"] or "").splitlines() if line.strip()],
            "core": _core(cell["core"]),
            "unique_id": int(cell["unique_id"]),
            "levels": {level: _flag(cell[level]) for level in ("trial", "country", "site")},
            "milestones": {level: _milestone_number(cell[f"{level}_milestone"])
                           for level in ("trial", "country", "site")},
        })
    events = milestones(workbook)
    workbook.close()
    known = {m["number"] for m in events}
    for artifact in artifacts:
        if not set(filter(None, artifact["milestones"].values())) <= known:
            raise ValueError(f"artifact {artifact['number']} names an unknown milestone")

    data = {
        "source": source,
        "milestones": events,
        "zones": sorted(zones.values(), key=lambda z: z["number"]),
        "sections": sorted(sections.values(), key=lambda s: s["number"]),
        "artifacts": sorted(artifacts, key=lambda a: a["number"]),
    }
    counts = {key: len(data[key]) for key in EXPECTED_COUNTS}
    if counts != EXPECTED_COUNTS:
        raise ValueError(f"expected {EXPECTED_COUNTS}, read {counts}")
    for key in ("number", "unique_id"):
        if len({a[key] for a in artifacts}) != len(artifacts):
            raise ValueError(f"duplicate artifact {key}")
    return data


def dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spreadsheet", type=Path, help="TMF_Reference_Model_v3.3.1_2023-08-11.xlsx")
    args = parser.parse_args(argv)
    sys.stdout.write(dumps(extract(args.spreadsheet)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
