"""The command line: exit statuses, messages, the fast --help, and the installed console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_help_imports_neither_opencv_numpy_nor_imblearn() -> None:
    code = ("import sys\nfrom augcli.cli import main\nsys.argv=['augcli','--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('cv2','numpy','imblearn','sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_expand_summary_and_exit_zero(cli, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"a": 3, "b": 1})
    result = cli("expand", "-q", "--copies", 2, "--workers", 1, tree, tmp_path / "out")
    assert result.exit_code == 0, result.output
    result = cli("expand", "--copies", 2, "--workers", 1, tree, tmp_path / "out")
    assert result.exit_code == 0
    assert "0 images written, 12 kept from an earlier run, 12 planned" in result.stdout
    assert "  class   before    after\n  a            3        9\n  b            1        3\n" in result.stdout


def test_recipe_error_exit_2_without_traceback(cli, make_tree, tmp_path: Path) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("pipeline:\n  - rotate: {degres: 5}\n")
    result = cli("expand", "--recipe", recipe, make_tree({"a": 1}), tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: {recipe}:2: pipeline[0].rotate.degres: expected a parameter of 'rotate' "
                                     "(degrees, border, fill, interpolation), got 'degres'; did you mean 'degrees'?")
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "Invalid value for '--workers'"),
    (["--copies", "-1"], "Invalid value for '--copies'"),
    (["--recipe", "missing.yaml"], "--recipe: expected an existing recipe file, got missing.yaml"),
])
def test_usage_errors_exit_2(cli, make_tree, tmp_path: Path, args: list[str], message: str) -> None:
    result = cli("expand", *args, make_tree({"a": 1}), tmp_path / "out")
    assert result.exit_code == 2
    assert message in result.stderr


def test_output_inside_input_exit_2(cli, make_tree) -> None:
    tree = make_tree({"a": 1})
    result = cli("expand", tree, tree / "out")
    assert result.exit_code == 2
    assert "is inside the input folder" in result.stderr


def test_strict_turns_unreadable_inputs_into_exit_1(cli, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"a": 2})
    (tree / "a" / "zz.png").write_bytes(b"nope")
    lenient = cli("expand", "-q", "--copies", 1, "--workers", 1, tree, tmp_path / "o1")
    assert lenient.exit_code == 0
    assert "1 input problem(s): files skipped or unreadable (2 outputs not made)" in lenient.stderr
    strict = cli("expand", "-q", "--strict", "--copies", 1, "--workers", 1, tree, tmp_path / "o2")
    assert strict.exit_code == 1
    assert "a/zz.png: not a readable image" in strict.stderr


def test_transforms_lists_every_registered_transform(cli) -> None:
    from augcli.registry import REGISTRY

    result = cli("transforms")
    assert result.exit_code == 0
    for name in REGISTRY:
        assert f"\n{name} (" in "\n" + result.stdout


def test_console_script_runs_readme_command_on_sample_data(tmp_path: Path) -> None:
    exe = shutil.which("augcli", path=str(Path(sys.executable).parent))
    assert exe is not None, "the augcli console script is not installed next to this Python"
    out = tmp_path / "out"
    done = subprocess.run([exe, "balance", "--quiet", str(REPO / "sample_data"), str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    counts = {d.name: sum(1 for p in d.rglob("*") if p.is_file()) for d in out.iterdir() if d.is_dir()}
    assert counts == {"circle": 40, "square": 40, "triangle": 40}
    assert (out / "manifest.csv").read_text().count("\n") == 121


def test_installed_package_ships_the_default_recipe(tmp_path: Path) -> None:
    """Outside the source tree, the recipe comes from the installed package's data."""
    code = ("import importlib.resources as r, augcli.recipe as m\n"
            "print(r.files('augcli.configs').joinpath('default.yaml').is_file(), bool(m.load_recipe().pipeline))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_package_api_names_stay_functions_after_every_module_is_imported() -> None:
    """Command modules must not shadow the package's API functions (augcli.balance and friends)."""
    code = ("import importlib, pkgutil, augcli\n"
            "for m in pkgutil.walk_packages(augcli.__path__, 'augcli.'):\n"
            "    m.name.endswith('__main__') or importlib.import_module(m.name)\n"
            "from augcli import balance, preview, replay, inspect, expand\n"
            "print(all(callable(f) and f.__module__ == 'augcli.api' for f in "
            "(augcli.balance, augcli.preview, augcli.replay, augcli.inspect, balance, preview, replay, inspect, expand)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "True", done.stderr


def test_progress_bar_on_stderr_and_quiet_silences_everything(cli, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"a": 2})
    loud = cli("expand", "--copies", 1, "--workers", 1, tree, tmp_path / "o1")
    assert "expand: 100%" in loud.stderr and "4/4" in loud.stderr
    quiet = cli("expand", "-q", "--copies", 1, "--workers", 1, tree, tmp_path / "o2")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_summary_names_fixed_values(cli, make_tree, tmp_path: Path) -> None:
    """A single number on a range parameter is exact in augcli (albumentations reads it as ±): the summary says so."""
    tree = make_tree({"a": 2})
    recipe = tmp_path / "r.yaml"
    recipe.write_text("pipeline:\n  - rotate: {degrees: 30}\n  - hflip: {p: 0.5}\n")
    result = cli("expand", "--copies", 1, "--workers", 1, "--recipe", recipe, tree, tmp_path / "out")
    assert result.exit_code == 0
    assert ("note: fixed values (a single number is that exact value, not a ± range): "
            "rotate.degrees = 30 (fixed, not ±30)") in result.stderr
    quiet = cli("expand", "-q", "--copies", 1, "--workers", 1, "--recipe", recipe, tree, tmp_path / "out2")
    assert quiet.stderr == ""


def test_the_api_names_keywords_and_the_cli_names_flags(cli, make_tree, tmp_path: Path) -> None:
    """One message, two spellings: the library says the keyword, the command line the flag."""
    from augcli import api
    from augcli.errors import InputError

    tree, out = make_tree({"a": 3, "b": 1}), tmp_path / "out"
    api.expand(tree, out, copies=1, workers=1)
    with pytest.raises(InputError, match=r"different copies; .*: pass overwrite=True to replace that run"):
        api.expand(tree, out, copies=2, workers=1)
    assert "pass --overwrite to replace that run" in cli("expand", "-n", 2, "-w", 1, tree, out).stderr
    with pytest.raises(InputError, match=r"^k_neighbors: expected method='smote' for SMOTE options, got "
                                         r"method='transforms' instead; add method='smote' or leave them out$"):
        api.balance(tree, tmp_path / "b", k_neighbors=3, workers=1)
    result = cli("balance", "--k-neighbors", 3, tree, tmp_path / "b")
    assert result.exit_code == 2
    assert ("Error: --k-neighbors: expected --method smote for SMOTE options, got --method transforms instead; "
            "add --method smote or leave them out") in result.stderr


def test_results_carry_their_status_and_the_cli_maps_it(cli, make_tree, tmp_path: Path) -> None:
    """strict makes a run with unreadable inputs FAILED; the CLI turns that into exit 1 and says why."""
    from augcli import api
    from augcli.errors import Status

    tree = make_tree({"a": 2})
    (tree / "a" / "zz.png").write_bytes(b"not an image")
    loose = api.expand(tree, tmp_path / "o1", copies=1, workers=1)
    assert loose.status is Status.OK and loose.failure is None
    strict = api.expand(tree, tmp_path / "o2", copies=1, workers=1, strict=True)
    assert strict.status is Status.FAILED and str(strict.failure) == "input problems and strict=True given"
    result = cli("expand", "-q", "--strict", "-n", 1, "-w", 1, tree, tmp_path / "o3")
    assert result.exit_code == 1 and result.stderr.endswith("Error: input problems and --strict given\n")


def test_exit_statuses_are_mapped_in_one_place() -> None:
    from augcli.cli import exit_status
    from augcli.errors import InputError, RecipeError, RunError, Status
    from augcli.run import Interrupted

    class Result:
        def __init__(self, status: Status) -> None:
            self.status = status

    cases = [(Result(Status.OK), 0), (None, 0), (Result(Status.FAILED), 1), (RunError("x"), 1),
             (OSError("x"), 1), (InputError("x"), 2), (RecipeError("x"), 2), (KeyboardInterrupt(), 130),
             (Interrupted(1, 2, "interrupted"), 130), (Interrupted(1, 2, "terminated"), 143)]
    assert [exit_status(outcome) for outcome, _ in cases] == [status for _, status in cases]


def test_the_package_exports_the_api_names_only() -> None:
    import augcli
    from augcli import api

    assert set(augcli.__all__) == {"__version__", *api.__all__}
