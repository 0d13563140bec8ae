"""Every example in README.md and docs/*.md runs as written, from a fresh clone's root, against sample_data/.

How blocks are classified (the fence's language says what a block holds; an unmarked block fails):

- ```bash: commands run as written, block after block in document order, by bash with ``set -euo pipefail``
  in a folder holding a copy of sample_data/ and configs/ (a fresh clone's root, for these commands). ``augcli``
  and ``python`` there are this checkout's. Three kinds of command are checked, not run: ``pip install``
  (no network; the extras it names must exist in pyproject.toml), ``python -m pytest`` (this suite) and
  ``bash .ci/run`` (CI itself).
- ```yaml: a recipe; it must load and run on sample_data/ (expand, one copy per image, or its test-time set).
  A first line ``# save as NAME`` saves it there under NAME, for the blocks after it, as a reader would.
- ```python: run as a script in that folder, after the blocks before it. A block importing torch,
  torchvision or datasets (not dependencies of augcli or of its test extra) runs where they are installed
  and is compiled elsewhere; the metadata.csv that datasets reads is checked in tests/test_metadata.py.
- ```text: schematic usage, error messages, trees. Nothing runnable may hide there: a line that calls augcli
  must hold a placeholder (in/, NAME, [...]) that no fresh clone has and no example makes.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

from augcli import api
from augcli.errors import RecipeError, Status
from augcli.recipe import parse_recipe

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
KINDS = ("bash", "yaml", "python", "text")
CLONE = ("sample_data", "configs")  # what the examples read from the repository
OPTIONAL = {"torch", "torchvision", "datasets"}  # shown in examples, installed by the reader
PLACEHOLDERS = ("in/", "NAME", "[", "...")  # words no fresh clone has, and the README's examples never make
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>.*)$")
SAVE_AS = re.compile(r"# save as (?P<name>[\w.-]+)$")


@dataclass(frozen=True)
class Block:
    """A fenced block: the line of its opening fence, what the fence says it holds, its text (dedented)."""

    doc: Path
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        where = self.doc.relative_to(REPO) if self.doc.is_relative_to(REPO) else self.doc.name
        return f"{where}:{self.line} ({self.kind})"


def blocks(doc: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, in order."""
    found, lines = [], doc.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, body, start = len(opening["indent"]), [], i + 1
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        found.append(Block(doc, start, opening["info"].strip().split(" ")[0], "\n".join(body) + "\n"))
        i += 1
    return found


ALL = [block for doc in DOCS for block in blocks(doc)]


# ---------------------------------------------------------------- what a bash block runs

PIP = re.compile(r"^(python -m )?pip install (-e )?(?P<spec>\S+)$")
PYTEST = re.compile(r"^python -m pytest\b")
CI = re.compile(r"^bash \.ci/run$")


def runnable(text: str) -> tuple[str, list[str]]:
    """The block as bash runs it here, and the commands checked but not run (pip install, pytest, CI)."""
    kept, checked = [], []
    for line in text.splitlines():
        code, _, comment = line.partition("  #")
        parts = [part.strip() for part in code.split("&&")]
        meta = [part for part in parts if PIP.match(part) or PYTEST.match(part) or CI.match(part)]
        rest = [part for part in parts if part not in meta]
        checked += meta
        if rest and any(rest):
            kept.append(" && ".join(rest) + (f"  #{comment}" if comment else ""))
    return "\n".join(kept) + "\n", checked


def test_every_block_says_what_it_holds() -> None:
    assert {block.kind for block in ALL} <= set(KINDS), [str(b) for b in ALL if b.kind not in KINDS]
    readme = [block.kind for block in ALL if block.doc.name == "README.md"]
    assert {"bash", "yaml", "python", "text"} <= set(readme)


def hidden_commands(block: Block) -> list[str]:
    """Lines of a text block that call augcli with no placeholder: they would run as written."""
    calls = re.compile(r"(^|\$ |python -m )augcli(\s|$)|_AUGCLI_COMPLETE")
    return [line.strip() for line in block.text.splitlines()
            if calls.search(line.strip()) and not any(mark in line for mark in PLACEHOLDERS)]


def test_text_blocks_hide_nothing_runnable() -> None:
    hidden = {str(block): hidden_commands(block) for block in ALL if block.kind == "text" and hidden_commands(block)}
    assert not hidden, f"runnable commands in text blocks: make them bash blocks, or show a placeholder: {hidden}"


def _extras() -> set[str]:
    """The names of pyproject.toml's optional dependencies (tomllib is not in Python 3.10)."""
    section = (REPO / "pyproject.toml").read_text().split("[project.optional-dependencies]\n", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([\w-]+) = \[", section, flags=re.M))


def test_install_lines_name_extras_that_exist() -> None:
    assert {"test", "bench"} <= _extras()  # the parser reads what pyproject.toml declares
    extras = _extras()
    named = []
    for block in (b for b in ALL if b.kind == "bash"):
        for command in runnable(block.text)[1]:
            pip = PIP.match(command)
            if pip:
                spec = pip["spec"].strip("\"'")
                match = re.fullmatch(r"\.(\[(?P<extras>[\w,-]+)\])?", spec)
                assert match, f"{block}: installs {spec!r}, not this checkout"
                named += (match["extras"] or "").split(",") if match["extras"] else []
            elif CI.match(command):
                assert (REPO / ".ci" / "run").is_file()
    assert named and set(named) <= extras, named


def test_runnable_lines_are_only_held_back_when_they_install_test_or_run_ci() -> None:
    script, checked = runnable("python -m pip install . && augcli balance sample_data out\n"
                               "python -m pip install \".[test]\" && python -m pytest\n"
                               "bash .ci/run          # CI\naugcli inspect sample_data  # counts\n")
    assert script == "augcli balance sample_data out\naugcli inspect sample_data  # counts\n"
    assert checked == ["python -m pip install .", 'python -m pip install ".[test]"', "python -m pytest",
                       "bash .ci/run"]


# ---------------------------------------------------------------- running them


def _workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder laid out as a fresh clone's root for the examples, and the environment they run in."""
    root = tmp_path / "clone"
    for name in CLONE:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "augcli").write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m augcli \"$@\"\n")
    (bin_dir / "augcli").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    (tmp_path / "home").mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO),
           "HOME": str(tmp_path / "home")}
    return root, env


def _run_bash(block: Block, root: Path, env: dict[str, str]) -> None:
    script = "set -euo pipefail\n" + runnable(block.text)[0]
    done = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, f"{block} failed:\n{done.stdout}\n{done.stderr}"


def _imports(text: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _run_python(block: Block, root: Path, env: dict[str, str]) -> bool:
    """Run the block (True), or only compile it when it needs a package this environment lacks (False)."""
    compile(block.text, str(block), "exec")
    if any(importlib.util.find_spec(name) is None for name in _imports(block.text) & OPTIONAL):
        return False
    done = subprocess.run([sys.executable, "-"], input=block.text, cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{block} failed:\n{done.stdout}\n{done.stderr}"
    return True


def _run_yaml(block: Block, root: Path, runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = block.text.splitlines()[0]
    saved = SAVE_AS.fullmatch(first)
    if saved:
        (root / saved["name"]).write_text(block.text, encoding="utf-8")
    monkeypatch.chdir(root)  # relative paths in a recipe (background images) resolve as the reader's would
    recipe = parse_recipe(block.text, source=str(block))
    result = api.expand(root / "sample_data", runs / f"{block.line}", recipe=recipe, copies=None if recipe.tta else 1,
                        originals=False, workers=1)
    assert result.status is Status.OK and result.made >= 56 and not result.errors, f"{block}: {result}"


def test_the_runner_fails_what_does_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("```bash\naugcli balance nowhere out\n```\n\n```yaml\npipeline: [rotat]\n```\n\n"
                   "```text\naugcli inspect sample_data\naugcli inspect in/\n```\n\n  ```\n  unmarked\n  ```\n")
    found = blocks(doc)
    assert [(b.kind, b.line) for b in found] == [("bash", 1), ("yaml", 5), ("text", 9), ("", 14)]
    root, env = _workspace(tmp_path)
    with pytest.raises(AssertionError, match=r"doc\.md:1 \(bash\) failed"):
        _run_bash(found[0], root, env)
    with pytest.raises(RecipeError, match="did you mean 'rotate'"):
        _run_yaml(found[1], root, tmp_path / "runs", monkeypatch)
    assert hidden_commands(found[2]) == ["augcli inspect sample_data"]
    assert found[3].text == "unmarked\n"


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_examples_run_as_written(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, env = _workspace(tmp_path)
    ran = []
    for block in blocks(doc):
        if block.kind == "bash":
            _run_bash(block, root, env)
        elif block.kind == "yaml":
            _run_yaml(block, root, tmp_path / "recipes", monkeypatch)
        elif block.kind == "python" and not _run_python(block, root, env):
            continue
        ran.append(block.kind)
    if doc.name == "README.md":
        assert ran.count("bash") >= 8 and ran.count("yaml") >= 4 and ran.count("python") >= 3, ran
        assert (root / "out" / "metadata.csv").is_file() and (root / "light_out" / "manifest.csv").is_file()
        ignored = [line[1:].rstrip("/") for line in (REPO / ".gitignore").read_text().splitlines()
                   if line.startswith("/")]
        left = sorted(p.name for p in root.iterdir() if p.name not in CLONE
                      and not any(fnmatch(p.name, pattern) for pattern in ignored))
        assert not left, f"following README.md leaves {left} in the repository's root: add them to .gitignore"
