"""Scanning an ImageFolder tree: one sub-folder per class, images anywhere below it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from augcli.errors import InputError
from augcli.io import is_image_name


@dataclass(frozen=True)
class Source:
    """One input image: its POSIX path relative to the input folder, and its class."""

    rel: str
    label: str


@dataclass(frozen=True)
class Dataset:
    """The sorted classes and images of an input tree."""

    root: Path
    classes: tuple[str, ...]
    sources: tuple[Source, ...]

    def by_label(self) -> dict[str, list[Source]]:
        """Sources grouped by class, classes and files in sorted order."""
        groups: dict[str, list[Source]] = {label: [] for label in self.classes}
        for source in self.sources:
            groups[source.label].append(source)
        return groups


def _hidden(name: str) -> bool:
    """Hidden files and folders (dot names) are skipped."""
    return name.startswith(".")


def _class_files(root: Path, label: str) -> list[str]:
    """Sorted relative POSIX paths of the images below one class folder."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root / label):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        rel_folder = Path(folder).relative_to(root).as_posix()
        found.extend(f"{rel_folder}/{name}" for name in files if not _hidden(name) and is_image_name(name))
    return sorted(found)


def scan(root: str | Path) -> Dataset:
    """Scan ``root`` into classes and images, all sorted; hidden and non-image files are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"input folder {root} does not exist or is not a folder")
    labels = sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not _hidden(entry.name))
    sources = [Source(rel, label) for label in labels for rel in _class_files(root, label)]
    if not sources:
        loose = [name for name in os.listdir(root) if is_image_name(name)]
        hint = (f"; it holds {len(loose)} images directly: put them in a sub-folder named after their class"
                if loose else "")
        raise InputError(f"no images found in {root}: expected {root}/<class>/<image>{hint}")
    used = {source.label for source in sources}
    classes = tuple(label for label in labels if label in used)
    return Dataset(root=root, classes=classes, sources=tuple(sources))
