"""docs/transforms.md is generated from the declarations and must be current."""

from __future__ import annotations

from pathlib import Path

from augcli.compose import GROUPS
from augcli.docs import transforms_markdown, transforms_text
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


def test_reference_documents_every_group_keyword_from_its_declaration() -> None:
    markdown, text = transforms_markdown(), transforms_text()
    for kind, group in GROUPS.items():
        assert f"### `{kind}`" in markdown and f"{kind} (composition): {group.doc}" in text
        for name, param in group.keywords.items():
            assert f"| `{name}` | {param.describe()} |" in markdown
    assert "| `weights` | non-negative numbers, not all 0 (one per step) | `equal` |" in markdown
    assert "| `n` | integer or [lo, hi] in [0, 1000] | `[1, all]` |" in markdown
