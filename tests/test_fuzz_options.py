"""Property tests: any value for any numeric option either runs or exits 2 with a message naming it.

Every run is capped with ``--max-outputs 12`` on a one-image tree, so a value that would plan a huge
run is refused up front (exit 2) instead of taking time: that cap is itself one of the promises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import build_tree

VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["0", "1", "-1", "1.0", "0.5", "max", "inf", "nan", "1e309", "", " ", "0x10", "١٢"]),
    st.text(max_size=12),
)
EXPAND = ["--copies", "--seed", "--workers", "--max-pixels"]
BALANCE = ["--target", "--seed", "--workers", "--k-neighbors", "--max-pixels"]
PREVIEW = ["--images", "--variants", "--cell", "--seed"]
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _check(result: Any, option: str) -> None:
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr.strip(), "an exit 2 says why"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    if not root.exists():
        build_tree(root, {"a": 1, "b": 2}, size=(12, 16))
    return root


@FUZZ
@given(option=st.sampled_from(EXPAND), value=VALUES)
def test_expand_options(cli: Any, tmp_path: Path, option: str, value: Any) -> None:
    out = tmp_path / "out"
    result = cli("expand", "-q", "--max-outputs", 12, "--overwrite", "--copies", 1, "-w", 1, option, value,
                 _tree(tmp_path), out)
    _check(result, option)


@FUZZ
@given(option=st.sampled_from(BALANCE), value=VALUES)
def test_balance_options(cli: Any, tmp_path: Path, option: str, value: Any) -> None:
    extra = ["--method", "smote"] if option == "--k-neighbors" else []
    result = cli("balance", "-q", "--max-outputs", 12, "--overwrite", "-w", 1, *extra, option, value,
                 _tree(tmp_path), tmp_path / "out")
    _check(result, option)


@FUZZ
@given(option=st.sampled_from(PREVIEW), value=VALUES)
def test_preview_options(cli: Any, tmp_path: Path, option: str, value: Any) -> None:
    result = cli("preview", "--images", 1, "--variants", 1, "--cell", 32, option, value, _tree(tmp_path),
                 tmp_path / "sheet.png")
    _check(result, option)
