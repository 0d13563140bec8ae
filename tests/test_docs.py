"""docs/transforms.md is generated from the declarations and must be current."""

from __future__ import annotations

from pathlib import Path

from augcli.docs import transforms_markdown
from augcli.registry import REGISTRY

DOC = Path(__file__).resolve().parents[1] / "docs" / "transforms.md"


def test_transforms_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == transforms_markdown(), (
        "docs/transforms.md is stale: run `augcli transforms --markdown > docs/transforms.md`")


def test_reference_documents_every_parameter() -> None:
    text = transforms_markdown()
    for name, spec in REGISTRY.items():
        assert f"### `{name}`" in text
        for pname in spec.params:
            assert f"| `{pname}` |" in text
