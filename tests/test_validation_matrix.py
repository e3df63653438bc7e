"""The validation pack stays true: every test that docs/VALIDATION.md names still exists, and every requirement row
either names a test or says plainly that no automated test covers it.

Only the test files the matrix names are collected, in a subprocess (`pytest --collect-only -q`), so this stays fast
and a renamed test, a removed parametrisation or a module that no longer imports fails here, with the id."""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "docs" / "VALIDATION.md"
START, END = "<!-- validation-matrix:start -->", "<!-- validation-matrix:end -->"
NOT_COVERED = "not covered by an automated test"
# A pytest node id in backticks: `path/to/test_file.py::test_name` or `…::test_name[param]`.
NODE_ID = re.compile(r"`([\w./-]+\.py::[^`]+)`")
# The requirements issue 7 asks the matrix to trace, one row each.
REQUIREMENTS = [
    *(f"21 CFR 11.10({letter})" for letter in "abcdefghijk"),
    "21 CFR 11.50", "21 CFR 11.70", "21 CFR 11.200", "21 CFR 11.300(d)",
    "EU GMP Annex 11 §9", "EU GMP Annex 11 §14",
    "EU CTR art. 35",
    # issue 15: long-term proof
    "EU CTR art. 58", "EU GMP Annex 11 §7", "EU GMP Annex 11 §17",
    "EU CTR art. 57", "TMF Reference Model QC",  # issue 19
    "EU CTR art. 28(3)", "EU CTR art. 35(3)", "Re-consent (ICH E6(R3), EU CTR art. 29)",
    # issue 17: the consent ceremony
    "ICH E6(R3) informed consent", "21 CFR 50.27(b)", "EU CTR art. 29",
    "CSP L1122-1-1", "CSP L1122-1-2",
    "GDPR art. 4(5)",
    # Issue 19: the investigator's delegation and the essential records (investigator site file).
    "ICH E6(R3) 2.3 (investigator's delegation)", "ICH E6(R3) App. C (essential records)",
]


@dataclass(frozen=True)
class Row:
    requirement: str
    tests_cell: str

    @property
    def test_ids(self) -> list[str]:
        return NODE_ID.findall(self.tests_cell)

    @property
    def says_not_covered(self) -> bool:
        return NOT_COVERED in " ".join(self.tests_cell.split()).lower()


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def parse_matrix(text: str) -> list[Row]:
    """The rows of the table between the two markers; its header must have a "Requirement" and a "Tests" column."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"the matrix must sit between one {START} and one {END}")
    block = text[text.index(START) + len(START):text.index(END)]
    lines = [line for line in block.splitlines() if line.strip().startswith("|")]
    if len(lines) < 3:
        raise ValueError("the matrix has no rows")
    header = [cell.lower() for cell in _cells(lines[0])]
    if "requirement" not in header or "tests" not in header:
        raise ValueError(f"the matrix header needs a Requirement and a Tests column, not {header}")
    if not all(set(cell) <= set(":- ") for cell in _cells(lines[1])):
        raise ValueError("the matrix header must be followed by its |---| separator line")
    requirement_at, tests_at = header.index("requirement"), header.index("tests")
    rows = []
    for line in lines[2:]:
        cells = _cells(line)
        if len(cells) != len(header):
            raise ValueError(f"a row has {len(cells)} cells where the header has {len(header)}: {line[:120]}")
        rows.append(Row(requirement=cells[requirement_at].strip("* "), tests_cell=cells[tests_at]))
    return rows


def named_test_ids(text: str) -> list[str]:
    """Every node id the document names, in the matrix or elsewhere, once each, in order."""
    return list(dict.fromkeys(NODE_ID.findall(text)))


def collected_ids(files: list[str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    if result.returncode not in (0, 5):  # 5: nothing collected, reported below with the missing ids
        pytest.fail(f"collecting the files the matrix names failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return {line.strip() for line in result.stdout.splitlines() if "::" in line}


@pytest.fixture(scope="module")
def text() -> str:
    return MATRIX.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rows(text) -> list[Row]:
    return parse_matrix(text)


def test_the_matrix_names_tests(rows):
    assert sum(len(row.test_ids) for row in rows) > 0, "docs/VALIDATION.md names no test"


def test_every_requirement_has_exactly_one_row(rows):
    found = [row.requirement for row in rows]
    assert sorted(found) == sorted(set(found)), f"a requirement has two rows: {found}"
    assert [r for r in REQUIREMENTS if r not in found] == [], "requirements without a row"
    assert [r for r in found if r not in REQUIREMENTS] == [], "rows for a requirement this test does not know"


def test_every_requirement_row_names_a_test_or_says_it_is_not_covered(rows):
    silent = [row.requirement for row in rows if not row.test_ids and not row.says_not_covered]
    assert silent == [], f"rows with neither a test id nor the words {NOT_COVERED!r}"


def test_every_test_named_in_the_matrix_exists(text):
    named = named_test_ids(text)
    files = sorted({node_id.split("::", 1)[0] for node_id in named})
    absent_files = [name for name in files if not (ROOT / name).is_file()]
    assert absent_files == [], "test files named in docs/VALIDATION.md that do not exist"
    existing = collected_ids(files)
    missing = [node_id for node_id in named if node_id not in existing]
    assert missing == [], ("tests named in docs/VALIDATION.md that pytest no longer collects (renamed, removed, or "
                           "a parametrisation changed): update the matrix, and the claim it supports")


# --- the checker itself ---------------------------------------------------------------------------------------

SAMPLE = f"""
{START}
| Requirement | What it asks | Tests | Limits |
|---|---|---|---|
| **21 CFR 11.10(a)** | validation | `a/test_x.py::test_one`<br>`a/test_x.py::test_two[with space-1]` | SOPs |
| 21 CFR 11.10(h) | device checks | Not covered by an  automated test. | network |
| 21 CFR 11.10(i) | training | see the SOPs | training records |
{END}
`a/test_y.py::test_outside_the_table`
"""


def test_the_checker_reads_ids_parametrisations_and_rows():
    rows = parse_matrix(SAMPLE)
    assert [row.requirement for row in rows] == ["21 CFR 11.10(a)", "21 CFR 11.10(h)", "21 CFR 11.10(i)"]
    assert rows[0].test_ids == ["a/test_x.py::test_one", "a/test_x.py::test_two[with space-1]"]
    assert rows[1].says_not_covered and not rows[1].test_ids
    assert not rows[2].test_ids and not rows[2].says_not_covered  # the row the real check refuses
    assert named_test_ids(SAMPLE)[-1] == "a/test_y.py::test_outside_the_table"


@pytest.mark.parametrize("broken", [
    "no markers at all",
    f"{START}\n| Requirement | Limits |\n|---|---|\n| 21 CFR 11.50 | x |\n{END}",
    f"{START}\n| Requirement | Tests |\n|---|---|\n| 21 CFR 11.50 | `a.py::t` | extra |\n{END}",
    f"{START}\n| Requirement | Tests |\n{END}",
], ids=["no markers", "no Tests column", "ragged row", "no rows"])
def test_the_checker_refuses_a_malformed_matrix(broken):
    with pytest.raises(ValueError):
        parse_matrix(broken)
