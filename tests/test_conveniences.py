"""What a new user reaches for: --version, shell completion, balance --help's target forms, and a note
when a balance target changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import augcli
from augcli import api

REPO = Path(__file__).resolve().parents[1]


def _augcli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "augcli", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_version(cli: Any) -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout == f"augcli, version {augcli.__version__}\n"
    assert augcli.__version__ == "0.1.0"


@pytest.mark.parametrize(("shell", "marker"), [
    ("bash", "_augcli_completion() {"), ("zsh", "#compdef augcli"), ("fish", "function _augcli_completion"),
])
def test_shell_completion_scripts_are_produced(shell: str, marker: str) -> None:
    """The lines the README documents: `_AUGCLI_COMPLETE=bash_source augcli` and its zsh and fish forms."""
    done = _augcli(_AUGCLI_COMPLETE=f"{shell}_source")
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout and "_AUGCLI_COMPLETE" in done.stdout


def test_completion_offers_commands_and_options() -> None:
    done = _augcli(_AUGCLI_COMPLETE="bash_complete", COMP_WORDS="augcli rec", COMP_CWORD="1")
    assert done.stdout.splitlines() == ["plain,recipes"]
    done = _augcli(_AUGCLI_COMPLETE="bash_complete", COMP_WORDS="augcli balance --dry", COMP_CWORD="2")
    assert done.stdout.splitlines() == ["plain,--dry-run"]


def test_balance_help_shows_the_three_target_forms(cli: Any) -> None:
    text = cli("balance", "--help").stdout
    for line in ("  augcli balance in/ out/                  every class up to the largest (max)\n",
                 "  augcli balance in/ out/ --target 500     500 images per class (N, a whole number)\n",
                 "  augcli balance in/ out/ --target 0.5     half the largest class (a RATIO in (0, 1])\n",
                 "--target 1 is one image per class, which adds nothing; --target 1.0 is the ratio (max).\n"):
        assert line in text


@pytest.mark.parametrize(("target", "note"), [
    ("1", "note: --target 1 asks for 1 image per class: every class already has at least that many, so nothing "
          "is added or removed; did you mean --target 1.0 (a ratio: every class up to the largest, 5)?\n"),
    ("2", "note: --target 2 asks for 2 images per class: every class already has at least that many, so nothing "
          "is added or removed; to grow the smaller classes write a larger number (up to 5, the largest) or a "
          "ratio such as --target 1.0 (a ratio: every class up to the largest, 5); --undersample cuts larger "
          "classes down to 2\n"),
    ("0.5", "note: --target 0.5 is 2 images (0.5 of the largest class, 5): every class already has at least that "
            "many, so nothing is added or removed; a larger ratio grows the classes below it, up to --target 1.0 "
            "(a ratio: every class up to the largest, 5)\n"),
])
def test_a_target_that_changes_nothing_says_what_was_probably_meant(cli: Any, make_tree: Any, tmp_path: Path,
                                                                    target: str, note: str) -> None:
    tree = make_tree({"a": 5, "b": 3}, size=(8, 8))
    result = cli("balance", "-w", 1, "--target", target, tree, tmp_path / "o")
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines(keepends=True) if line.startswith("note")] == [note]
    assert "  a            5        5        0        0\n  b            3        3        0        0" in result.stdout


def test_targets_that_change_something_or_balanced_classes(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    tree = make_tree({"a": 5, "b": 3}, size=(8, 8))
    for args in (["--target", "1.0"], ["--target", "4"], ["--target", "2", "--undersample"]):
        result = cli("balance", "-w", 1, "--overwrite", *args, tree, tmp_path / "o")
        assert result.exit_code == 0 and "note" not in result.stderr, args
    even = make_tree({"a": 2, "b": 2}, name="even", size=(8, 8))
    result = api.balance(even, tmp_path / "e", workers=1)
    assert result.notes == ("every class already has 2 images: the classes are balanced, nothing is added",)
    result = api.balance(even, tmp_path / "e1", target=1, workers=1)
    assert result.notes == ("target=1 asks for 1 image per class: every class already has at least that many, so "
                            "nothing is added or removed (the classes are balanced already, 2 each)",)
