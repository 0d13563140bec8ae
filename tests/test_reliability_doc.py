"""docs/reliability.md must stay true: numbered rows, real tests, no empty cells.

The table's rows are read from every Markdown table in the page whose first cell is a number; the
test column's node ids are checked against the test files' source with ``ast`` (nothing is imported).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
MIN_ROWS = 60
COLUMNS = ("#", "case", "what augcli does", "test")
NODE_ID = re.compile(r"`([^`]*::[^`]*)`")


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table line (a pipe escaped as \\| stays in its cell)."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", body)]


def _tables() -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table in the page as (header cells, body rows)."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    lines = DOC.read_text(encoding="utf-8").splitlines()
    inside = False
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            inside = False
            continue
        separator = i + 1 < len(lines) and re.fullmatch(r"\s*\|(\s*:?-{3,}:?\s*\|)+\s*", lines[i + 1])
        if not inside and separator:
            tables.append((_cells(line), []))
            inside = True
        elif inside and not re.fullmatch(r"\s*\|(\s*:?-{3,}:?\s*\|)+\s*", line):
            tables[-1][1].append(_cells(line))
    return tables


def _headers() -> list[list[str]]:
    """The headers of the case tables: those whose first column is '#'."""
    return [header for header, _ in _tables() if header[:1] == ["#"]]


def _rows() -> list[list[str]]:
    """Every row of the case tables, in page order."""
    return [row for header, body in _tables() if header[:1] == ["#"] for row in body]


@cache
def _tests_in(path: Path) -> frozenset[str]:
    """Test names in a file: top-level ``test_*`` functions, and ``Class::test_*`` plus the bare method
    name for methods of top-level ``Test*`` classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, functions) and item.name.startswith("test"):
                    names.update({item.name, f"{node.name}::{item.name}"})
    return frozenset(names)


def test_the_case_tables_have_the_documented_columns() -> None:
    headers = _headers()
    assert headers, f"{DOC}: no table with a '#' column"
    for header in headers:
        assert tuple(header) == COLUMNS, f"{DOC}: table header {header}, expected {list(COLUMNS)}"


def test_at_least_60_rows_numbered_without_gaps() -> None:
    numbers = [int(row[0]) for row in _rows()]
    assert len(numbers) >= MIN_ROWS, f"{DOC}: {len(numbers)} rows, expected at least {MIN_ROWS}"
    assert numbers == list(range(1, len(numbers) + 1)), f"{DOC}: rows are not numbered 1..{len(numbers)}"


def test_every_row_has_four_cells_and_non_empty_text() -> None:
    for row in _rows():
        assert len(row) == len(COLUMNS), f"{DOC}: row {row[0]} has {len(row)} cells, expected {len(COLUMNS)}"
        number, case, behaviour, tests = row
        assert case, f"{DOC}: row {number} has no case"
        assert behaviour, f"{DOC}: row {number} does not say what augcli does"
        assert NODE_ID.search(tests), f"{DOC}: row {number} names no test"


def test_every_named_test_exists() -> None:
    missing = []
    for number, _, _, tests in _rows():
        for node in NODE_ID.findall(tests):
            file, _, name = node.partition("::")
            path = ROOT / file
            if "[" in name:
                missing.append(f"row {number}: {node} (name the function, without its [param] part)")
            elif not (file.startswith("tests/") and file.endswith(".py") and path.is_file()):
                missing.append(f"row {number}: {node} (no such test file)")
            elif name not in _tests_in(path):
                missing.append(f"row {number}: {node} (no such test in {file})")
    assert not missing, f"{DOC} names tests that do not exist:\n" + "\n".join(missing)


def test_the_counts_paragraph_states_the_row_count() -> None:
    text = DOC.read_text(encoding="utf-8")
    counts = text.split("## Counts", 1)
    assert len(counts) == 2, f"{DOC}: no '## Counts' section"
    assert re.search(rf"\b{len(_rows())} cases\b", counts[1]), f"{DOC}: the Counts paragraph gives another row count"


@pytest.mark.parametrize(("source", "expected"), [
    ("def test_a(): pass\nasync def test_b(): pass\ndef helper(): pass\n", {"test_a", "test_b"}),
    ("class TestX:\n    def test_m(self): pass\n    def other(self): pass\nclass Plain:\n    def test_n(self): pass\n",
     {"test_m", "TestX::test_m"}),
    ("def outer():\n    def test_inner(): pass\n", set()),
])
def test_the_name_reader_finds_only_collectable_tests(tmp_path: Path, source: str, expected: set[str]) -> None:
    path = tmp_path / "test_sample.py"
    path.write_text(source, encoding="utf-8")
    assert _tests_in(path) == expected
