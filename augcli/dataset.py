"""Scanning an ImageFolder tree: one sub-folder per class, images anywhere below it.

Nothing is dropped silently: whatever could hold images but is left out becomes a
*problem*, a (POSIX path relative to the input folder, reason) pair in ``Dataset.problems``:
- an image directly in the input folder (not in a class folder);
- a file whose extension names an image format augcli does not read (.gif, .heic, .heif,
  .avif, .svg, .ico, .jp2, .jxl; .jfif and .jpe need renaming to .jpg);
- a folder that cannot be listed (no permission), and a file that cannot be checked;
- a broken link, or anything that is not a regular file, named like an image;
- a class folder with no usable image (the class is left out);
- a link to a folder that is not followed (see below).

Hidden files and folders (dot names) and other non-image files (.txt, .csv, .json, ...)
are ignored without a report.

Links: a link to an image file is read like the file. A class folder that is a link is
followed when it points outside the input tree (``in/cat -> /data/cats``), and skipped and
reported when it points to the input folder itself, to a folder above it, or to a folder
inside it: that would make a phantom class holding images of other classes (or all of them).
Below a class folder, links to folders are never followed (no loops, no image counted twice),
and each one is reported.

Names need not be valid UTF-8: such names arrive with lone surrogates (``surrogateescape``)
and stay so in ``Source.rel``; ``os.fsencode`` gives back their bytes.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from augcli.errors import InputError
from augcli.io import is_image_name, unsupported_reason

Problem = tuple[str, str]  # (POSIX path relative to the input folder, reason)

LOOSE = "image directly in the input folder, not in a class folder: move it into a sub-folder named after its class"
EMPTY_CLASS = "class folder holds no usable images; the class is left out"
LINKED_CLASS = ("class folder is a link to {target}, inside or above the input folder; skipped, "
                "so no image is counted twice")
LINKED_FOLDER = "link to a folder, not followed (only class folders may be links); its images are left out"
NOT_A_FILE = "broken link, or not a regular file; left out"
UNSAFE_NAME = ("name holds a backslash, a carriage return or a semicolon (the manifest's separator of "
               "sources), which augcli cannot record safely in its manifest; rename it (left out)")
UNSAFE_CHARS = ("\\", "\r", ";")


@dataclass(frozen=True)
class Source:
    """One input image: its POSIX path relative to the input folder, and its class."""

    rel: str
    label: str


@dataclass(frozen=True)
class Dataset:
    """The sorted classes and images of an input tree, and what was left out and why."""

    root: Path
    classes: tuple[str, ...]
    sources: tuple[Source, ...]
    problems: tuple[Problem, ...] = field(default=())

    def by_label(self) -> dict[str, list[Source]]:
        """Sources grouped by class, classes and files in sorted order."""
        groups: dict[str, list[Source]] = {label: [] for label in self.classes}
        for source in self.sources:
            groups[source.label].append(source)
        return groups


def _hidden(name: str) -> bool:
    """Hidden files and folders (dot names) are skipped."""
    return name.startswith(".")


def _file_problem(entry: os.DirEntry[str]) -> str | None:
    """Why a non-folder entry is left out; None when it is an image to use or a file to ignore quietly."""
    reason = unsupported_reason(entry.name)
    if reason is not None or not is_image_name(entry.name):
        return reason
    return None if entry.is_file() else NOT_A_FILE


def _visit(entry: os.DirEntry[str], rel: str, folders: list[str], found: list[str],
           problems: list[Problem]) -> None:
    """Sort one entry below a class folder into sub-folders to walk, images, and problems."""
    if entry.is_dir(follow_symlinks=False):
        folders.append(rel)
    elif entry.is_symlink() and entry.is_dir():
        problems.append((rel, LINKED_FOLDER))
    elif (reason := _file_problem(entry)) is not None:
        problems.append((rel, reason))
    elif is_image_name(entry.name):
        found.append(rel)


def _class_files(root: Path, label: str, problems: list[Problem]) -> list[str]:
    """Sorted relative POSIX paths of the images below one class folder; links to folders not followed."""
    found: list[str] = []
    folders = [label]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(root / folder) as listing:
                entries = [e for e in listing if not _hidden(e.name)]
        except OSError as exc:
            problems.append((folder, f"cannot read folder ({exc.strerror or exc}); its images are left out"))
            continue
        for entry in entries:
            rel = f"{folder}/{entry.name}"
            try:
                _visit(entry, rel, folders, found, problems)
            except OSError as exc:
                problems.append((rel, f"cannot check it ({exc.strerror or exc}); left out"))
    return sorted(found)


def _linked_class(entry: os.DirEntry[str], root: Path) -> str | None:
    """Why a class folder that is a link is skipped (its target is in or above the tree); None to use it."""
    if not entry.is_symlink():
        return None
    target, base = Path(entry.path).resolve(), root.resolve()
    if target == base or target in base.parents or base in target.parents:
        return LINKED_CLASS.format(target=target)
    return None


def _top_level(root: Path, problems: list[Problem]) -> list[str]:
    """Sorted class folder names of ``root``; loose images, unsupported files and looping links are problems."""
    try:
        with os.scandir(root) as listing:
            entries = [e for e in listing if not _hidden(e.name)]
    except OSError as exc:
        raise InputError(f"input folder {root}: expected a readable folder, got {exc.strerror or exc}") from None
    labels = []
    for entry in entries:
        try:
            if entry.is_dir():
                reason = _linked_class(entry, root)
                if reason is None:
                    labels.append(entry.name)
                else:
                    problems.append((entry.name, reason))
            elif (reason := _file_problem(entry)) is not None or is_image_name(entry.name):
                problems.append((entry.name, reason or LOOSE))
        except OSError as exc:
            problems.append((entry.name, f"cannot check it ({exc.strerror or exc}); left out"))
    return sorted(labels)


def scan(root: str | Path) -> Dataset:
    """Scan ``root`` into classes and images, all sorted, and the problems found on the way.

    Raises:
        InputError: ``root`` is not a readable folder, or no class folder holds a usable image.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"input folder {root} does not exist or is not a folder")
    problems: list[Problem] = []
    labels = _top_level(root, problems)
    sources = [Source(rel, label) for label in labels for rel in _class_files(root, label, problems)]
    unsafe = [source for source in sources if any(char in source.rel for char in UNSAFE_CHARS)]
    problems.extend((source.rel, UNSAFE_NAME) for source in unsafe)
    sources = [source for source in sources if source not in unsafe]
    used = {source.label for source in sources}
    reported = {path for path, _ in problems}
    problems.extend((label, EMPTY_CLASS) for label in labels if label not in used and label not in reported)
    if not sources:
        raise _no_images(root, problems)
    classes = tuple(label for label in labels if label in used)
    return Dataset(root=root, classes=classes, sources=tuple(sources), problems=tuple(sorted(problems)))


def _no_images(root: Path, problems: list[Problem]) -> InputError:
    """The error for a tree without a usable image, with what was found instead."""
    loose = sum(1 for _, reason in problems if reason == LOOSE)
    unsupported = Counter(reason for path, reason in problems if reason == unsupported_reason(path))
    text = f"no images found in {root}: expected {root}/<class>/<image> as PNG, JPEG, BMP, TIFF or WebP"
    if unsupported:
        text += f", got {sum(unsupported.values())} file(s) in formats augcli does not read; "
        text += "; ".join(f"{reason} ({n} file(s))" for reason, n in sorted(unsupported.items()))
    if loose:
        text += f"; it holds {loose} images directly: put them in a sub-folder named after their class"
    unread = [f"{path}: {reason}" for path, reason in problems if reason.startswith("cannot")]
    if unread:
        text += f"; {len(unread)} folder(s) or file(s) could not be read, first {unread[0]}"
    return InputError(text)
