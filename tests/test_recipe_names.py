"""Recipes by name: the bundled recipes resolve from --recipe, --then-recipe and preview's --recipe,
an existing file of the same name wins, and `augcli recipes` lists and shows them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from augcli import api
from augcli.errors import RecipeError
from augcli.manifest import MANIFEST, RUN_RECORD
from augcli.recipe import AUTO, Bundled, bundled_names, load_recipe, resolve

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NAMES = sorted(p.stem for p in CONFIGS.glob("*.yaml"))  # the oracle: the files shipped in configs/


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != RUN_RECORD}


def test_the_bundled_names_are_the_configs_files_and_auto_is_not_one() -> None:
    assert bundled_names() == NAMES
    assert {"default", "light", "heavy", "photos", "documents", "faces", "medical_gray", "rand_augment"} <= set(NAMES)
    assert AUTO not in NAMES and not (CONFIGS / f"{AUTO}.yaml").exists()


@pytest.mark.parametrize("name", NAMES)
def test_every_bundled_recipe_opens_with_its_name_and_a_one_line_purpose(name: str) -> None:
    first = (CONFIGS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(rf"# {name}: (.+)", first)
    assert match and len(first) <= 104, first
    assert Bundled(name).purpose() == match.group(1)
    assert load_recipe(name).digest() == load_recipe(CONFIGS / f"{name}.yaml").digest()


def test_recipes_lists_every_name_with_its_purpose(cli: Any) -> None:
    result = cli("recipes")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    for line, name in zip(lines, NAMES, strict=True):
        first = (CONFIGS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
        assert line.split(None, 1)[1] == first.split(": ", 1)[1]
    assert "--recipe light" in result.stderr and "augcli recipes show light > my.yaml" in result.stderr


def test_recipes_show_prints_the_file_as_shipped(cli: Any) -> None:
    result = cli("recipes", "show", "light")
    assert result.exit_code == 0 and result.stdout == (CONFIGS / "light.yaml").read_text(encoding="utf-8")
    wrong = cli("recipes", "show", "lihgt")
    assert wrong.exit_code == 2 and wrong.stdout == ""
    assert wrong.stderr == (f"Error: recipes show: expected a bundled recipe name ({', '.join(NAMES)}), "
                            "got 'lihgt'; did you mean 'light'?\n")


def test_recipe_by_name_gives_the_same_run_as_its_file(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    tree = make_tree({"a": 2, "b": 1})
    by_file, by_name = tmp_path / "file", tmp_path / "name"
    assert cli("expand", "-q", "-w", 1, "--recipe", CONFIGS / "light.yaml", tree, by_file).exit_code == 0
    assert cli("expand", "-q", "-w", 1, "--recipe", "light", tree, by_name).exit_code == 0
    assert _files(by_name) == _files(by_file) and len(_files(by_file)) == 3 + 3 * 3  # manifest, metadata, sources, 9 images
    record = json.loads((by_name / RUN_RECORD).read_text())
    assert record["recipe_source"] == "<bundled recipe light>"
    assert record["recipe_digest"] == load_recipe(CONFIGS / "light.yaml").digest()
    assert json.loads((by_file / RUN_RECORD).read_text())["recipe_source"] == str(CONFIGS / "light.yaml")
    # the source is context, not identity: the run by name resumes in the folder the file made
    again = cli("expand", "-w", 1, "--recipe", "light", tree, by_file)
    assert again.exit_code == 0 and "0 images written, 9 kept" in again.stdout


def test_default_by_name_is_the_packaged_default_and_runs_default_to_auto(make_tree: Any, tmp_path: Path) -> None:
    """No recipe: a run (which has an input to look at) uses auto, the suggested recipe; without an input
    (load_recipe, augment) it is the packaged default, which ``--recipe default`` names."""
    assert load_recipe("default").to_data() == load_recipe(None).to_data()
    tree = make_tree({"a": 1})
    api.expand(tree, tmp_path / "o", recipe="auto", copies=1, workers=1)
    again = api.expand(tree, tmp_path / "o", copies=1, workers=1)  # same identity: resumed, not refused
    assert again.kept == 2 and again.made == 0
    record = json.loads((tmp_path / "o" / "augcli-run.json").read_text())
    assert record["recipe"] == api.suggested_recipe(tree).to_data() != load_recipe("default").to_data()
    assert record["recipe_source"] == "<recipe auto: suggested from the input>"
    with pytest.raises(RecipeError, match="needs an input tree to suggest a recipe from"):
        load_recipe("auto")


def test_an_existing_file_of_that_name_wins(cli: Any, make_tree: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree({"a": 1})
    monkeypatch.chdir(tmp_path)
    Path("light").write_text("pipeline: [vflip]\n")
    assert resolve("light") == Path("light")
    assert cli("expand", "-q", "-w", 1, "-n", 1, "--recipe", "light", tree, tmp_path / "o").exit_code == 0
    row = (tmp_path / "o" / MANIFEST).read_text().splitlines()[2]
    assert row.split(",", 6)[6].startswith('"[{""name"":""vflip"",""params"":{}}]"')
    os.mkdir("photos")  # a folder is never a recipe: the bundled one of that name is used
    assert resolve("photos") == Bundled("photos")


def test_then_recipe_and_preview_take_names(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    tree = make_tree({"a": 4, "b": 2})
    result = cli("balance", "-q", "-w", 1, "--method", "smote", "--k-neighbors", 1, "--then-recipe", "light",
                 tree, tmp_path / "b")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "b" / RUN_RECORD).read_text())
    assert record["smote"]["then_recipe"] == load_recipe(CONFIGS / "light.yaml").to_data()
    shown = cli("preview", "--recipe", "heavy", "--images", 1, "--variants", 2, tree, tmp_path / "p.png")
    assert shown.exit_code == 0 and (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize(("args", "message"), [
    (["--recipe", "ligth"], "Error: --recipe: expected an existing recipe file or a bundled recipe name ("
                            + ", ".join(NAMES) + "), got 'ligth'; did you mean 'light'?\n"),
    (["--recipe", "light.yaml"], "Error: --recipe: expected an existing recipe file, got light.yaml; for the "
                                 "bundled recipe pass --recipe light\n"),
    (["--method", "smote", "--then-recipe", "hevy"], "Error: --then-recipe: expected an existing recipe file or a "
                                                     "bundled recipe name (" + ", ".join(NAMES)
                                                     + "), got 'hevy'; did you mean 'heavy'?\n"),
])
def test_unknown_names_exit_2_with_a_did_you_mean(cli: Any, make_tree: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, args: list[str],
                                                  message: str) -> None:
    tree = make_tree({"a": 1})
    monkeypatch.chdir(tmp_path)
    result = cli("balance", *args, tree, tmp_path / "o")
    assert result.exit_code == 2 and result.stderr == message
    assert not (tmp_path / "o").exists()


def test_a_folder_or_a_hostile_name_is_a_recipe_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkdir("data")
    with pytest.raises(RecipeError, match=r"got 'data' \(a folder\)$"):
        load_recipe("data")
    with pytest.raises(RecipeError, match=r"bundled recipe name \(.*\), got 'x+\[\.\.\.\]$"):
        load_recipe("x" * 5000)  # too long a name for the file system: no OSError escapes, the value is cut
    with pytest.raises(RecipeError, match=r"^recipe: expected an existing recipe file, got d/x+\.yaml$"):
        load_recipe("d/" + "x" * 5000 + ".yaml")
    with pytest.raises(RecipeError, match="expected an existing recipe file, got a\x00b"):
        load_recipe("a\x00b")
    with pytest.raises(RecipeError, match=r"got \.\./light; for the bundled recipe pass recipe='light'$"):
        load_recipe("../light")


def test_shell_completion_offers_bundled_names_then_files() -> None:
    env = {**os.environ, "_AUGCLI_COMPLETE": "bash_complete", "COMP_WORDS": "augcli expand --recipe li",
           "COMP_CWORD": "3", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "augcli"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["plain,light", "file,li"]
