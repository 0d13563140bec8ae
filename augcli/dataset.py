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
import pickle
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from augcli import forked
from augcli.errors import InputError
from augcli.io import IMAGE_EXTENSIONS, is_image_name, unsupported_reason

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
_IMAGE_SUFFIXES = frozenset(IMAGE_EXTENSIONS)
_CODEC = ("utf-8", "surrogatepass")  # every str, lone surrogates of names that are not UTF-8 included


@dataclass(frozen=True)
class Source:
    """One input image: its POSIX path relative to the input folder, and its class."""

    rel: str
    label: str


class Names(Sequence[str]):
    """Sorted names packed into one byte string, about (length + 5) bytes each instead of a Python
    object per name: what the scan keeps of a class (names only, relative to the class folder).

    Names are UTF-8 (lone surrogates of names that are not UTF-8 kept with "surrogatepass") and end with
    a NUL byte, which no file name holds: a run of them decodes and splits at C speed.
    """

    __slots__ = ("_blob", "_ends")

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = list(names)
        text = "\0".join(names)
        if text.count("\0") != max(len(names) - 1, 0):
            raise ValueError("a name holds a NUL character")
        self._pack((text + "\0").encode(*_CODEC) if names else b"")

    @classmethod
    def from_blob(cls, blob: bytes) -> Names:
        """Names from the packed bytes of another Names (:attr:`blob`), as they are."""
        if blob and not blob.endswith(b"\0"):
            raise ValueError("packed names end with a NUL byte")
        names = cls.__new__(cls)
        names._pack(blob)
        return names

    def _pack(self, blob: bytes) -> None:
        self._blob = blob
        ends = np.flatnonzero(np.frombuffer(self._blob, dtype=np.uint8) == 0)  # where each name's NUL is
        self._ends: npt.NDArray[np.integer] = ends.astype(np.uint32) if len(self._blob) < 2**32 else ends

    @property
    def blob(self) -> bytes:
        """The packed bytes: every name, encoded, each followed by a NUL byte."""
        return self._blob

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                return [self[j] for j in range(start, stop, step)]
            return self.between(start, stop)
        n = len(self)
        if not -n <= i < n:
            raise IndexError("name index out of range")
        i %= n
        return self._blob[self._start(i):int(self._ends[i])].decode(*_CODEC)

    def _start(self, i: int) -> int:
        return int(self._ends[i - 1]) + 1 if i else 0

    def between(self, start: int, stop: int) -> list[str]:
        """The names ``start`` to ``stop`` (excluded), decoded at once."""
        if stop <= start:
            return []
        return self._blob[self._start(start):int(self._ends[stop - 1])].decode(*_CODEC).split("\0")

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), _BATCH):
            yield from self.between(start, min(start + _BATCH, len(self)))

    @property
    def nbytes(self) -> int:
        """The memory the packed names take."""
        return len(self._blob) + self._ends.nbytes

    def has_folders(self) -> bool:
        """True when a name has a folder in it (an image in a sub-folder of its class)."""
        return b"/" in self._blob

    def fingerprint(self, digest: Any) -> None:
        """Feed the names to a hashlib digest (the packed bytes), without decoding."""
        digest.update(self._blob)


_BATCH = 4096  # names decoded at once when iterating


class Sources(Sequence[Source]):
    """The inputs of a scan in order (class by class, names sorted), made into :class:`Source` on demand."""

    __slots__ = ("_labels", "_names", "_starts")

    def __init__(self, classes: dict[str, Names]) -> None:
        self._labels = list(classes)
        self._names = list(classes.values())
        self._starts = np.cumsum([0, *(len(n) for n in self._names)]).tolist()

    def __len__(self) -> int:
        return int(self._starts[-1])

    @overload
    def __getitem__(self, i: int) -> Source: ...

    @overload
    def __getitem__(self, i: slice) -> list[Source]: ...

    def __getitem__(self, i: int | slice) -> Source | list[Source]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("source index out of range")
        i %= n
        k = bisect_right(self._starts, i) - 1
        label = self._labels[k]
        return Source(f"{label}/{self._names[k][i - self._starts[k]]}", label)

    def __iter__(self) -> Iterator[Source]:
        for label, names in zip(self._labels, self._names, strict=True):
            for name in names:
                yield Source(f"{label}/{name}", label)

    def of(self, label: str) -> Sequence[Source]:
        """The sources of one class, in order."""
        k = self._labels.index(label)
        return _ClassSources(label, self._names[k])

    def names(self, label: str) -> Names:
        """The names of one class's sources, relative to the class folder."""
        return self._names[self._labels.index(label)]

    @property
    def nbytes(self) -> int:
        """The memory the packed names take."""
        return sum(names.nbytes for names in self._names)


class _ClassSources(Sequence[Source]):
    """One class's sources, made on demand from its packed names."""

    __slots__ = ("_label", "_names")

    def __init__(self, label: str, names: Names) -> None:
        self._label, self._names = label, names

    def __len__(self) -> int:
        return len(self._names)

    @overload
    def __getitem__(self, i: int) -> Source: ...

    @overload
    def __getitem__(self, i: slice) -> list[Source]: ...

    def __getitem__(self, i: int | slice) -> Source | list[Source]:
        if isinstance(i, slice):
            return [Source(f"{self._label}/{name}", self._label) for name in self._names[i]]
        return Source(f"{self._label}/{self._names[i]}", self._label)

    def __iter__(self) -> Iterator[Source]:
        return (Source(f"{self._label}/{name}", self._label) for name in self._names)


@dataclass(frozen=True)
class Dataset:
    """The sorted classes and images of an input tree, and what was left out and why.

    ``sources`` is a sequence made on demand from names packed per class (about 20 bytes an image),
    so a tree of millions of images is held in tens of megabytes, never as an object per file.
    """

    root: Path
    classes: tuple[str, ...]
    sources: Sources
    problems: tuple[Problem, ...] = field(default=())

    def by_label(self) -> dict[str, Sequence[Source]]:
        """Sources grouped by class, classes and files in sorted order."""
        return {label: self.sources.of(label) for label in self.classes}

    def counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        return {label: len(self.sources.names(label)) for label in self.classes}


def _hidden(name: str) -> bool:
    """Hidden files and folders (dot names) are skipped."""
    return name.startswith(".")


def _file_problem(entry: os.DirEntry[str]) -> str | None:
    """Why a non-folder entry is left out; None when it is an image to use or a file to ignore quietly."""
    reason = unsupported_reason(entry.name)
    if reason is not None or not is_image_name(entry.name):
        return reason
    return None if entry.is_file() else NOT_A_FILE


def _visit(entry: os.DirEntry[str], name: str, rel: str, folders: list[str], found: list[str],
           problems: list[Problem]) -> None:
    """Sort one entry below a class folder (``name``: its path in the class, ``rel``: in the input) into
    sub-folders to walk, images, and problems."""
    if entry.is_dir(follow_symlinks=False):
        folders.append(name)
    elif entry.is_symlink() and entry.is_dir():
        problems.append((rel, LINKED_FOLDER))
    elif (reason := _file_problem(entry)) is not None:
        problems.append((rel, reason))
    elif is_image_name(entry.name):
        found.append(name)


def _class_files(root: Path, label: str, problems: list[Problem]) -> list[str]:
    """Sorted paths (relative to the class folder) of the images below one class folder; links to folders
    are not followed."""
    found: list[str] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        try:
            images, inner, trouble = _folder_files(root, label, folder)
        except OSError as exc:  # a folder that cannot be listed: nothing of it is used
            problems.append((f"{label}/{folder}".rstrip("/"),
                             f"cannot read folder ({exc.strerror or exc}); its images are left out"))
            continue
        found += images
        folders += inner
        problems += trouble
    found.sort()
    return found


def _folder_files(root: Path, label: str, folder: str) -> tuple[list[str], list[str], list[Problem]]:
    """One folder of a class, read as it is listed (no DirEntry kept): its images, sub-folders and problems."""
    found: list[str] = []
    folders: list[str] = []
    problems: list[Problem] = []
    prefix, images = f"{folder}/" if folder else "", _IMAGE_SUFFIXES
    with os.scandir(root / label / folder) as listing:
        for entry in listing:
            name = entry.name
            if name.startswith("."):
                continue
            dot = name.rfind(".")
            try:
                if 0 < dot < len(name) - 1 and name[dot:].lower() in images and entry.is_file(follow_symlinks=False):
                    found.append(prefix + name if prefix else name)  # the common case, from the listing alone
                else:
                    _visit(entry, prefix + name, f"{label}/{prefix}{name}", folders, found, problems)
            except OSError as exc:
                problems.append((f"{label}/{prefix}{name}", f"cannot check it ({exc.strerror or exc}); left out"))
    return found, folders, problems


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

    One pass over the tree, class by class: each class's names are packed as soon as it is listed,
    so the scan holds the Python strings of one class at a time.

    Raises:
        InputError: ``root`` is not a readable folder, or no class folder holds a usable image.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"input folder {root} does not exist or is not a folder")
    problems: list[Problem] = []
    labels = _top_level(root, problems)
    listed = _listed(root, labels, problems)
    packed = {label: listed[label] for label in labels if listed[label]}
    reported = {path for path, _ in problems}
    problems.extend((label, EMPTY_CLASS) for label in labels if label not in packed and label not in reported)
    if not packed:
        raise _no_images(root, problems)
    return Dataset(root=root, classes=tuple(packed), sources=Sources(packed), problems=tuple(sorted(problems)))


def _class_names(root: Path, label: str, problems: list[Problem]) -> Names:
    """One class's images, packed; names the manifest cannot hold are problems."""
    names = _class_files(root, label, problems)
    joined = label + "\0" + "\0".join(names)
    if any(char in joined for char in UNSAFE_CHARS):
        unsafe = [name for name in names if any(char in f"{label}/{name}" for char in UNSAFE_CHARS)]
        problems.extend((f"{label}/{name}", UNSAFE_NAME) for name in unsafe)
        left_out = set(unsafe)
        names = [name for name in names if name not in left_out]
    return Names(names)


SHARE_FROM_BYTES = 256 * 1024  # class folders' own sizes (about 20 bytes an entry) from which a child lists half


def _listed(root: Path, labels: list[str], problems: list[Problem]) -> dict[str, Names]:
    """Every class's names; in a large tree a forked child lists about half of the classes
    (:mod:`augcli.forked`) and sends their packed names and problems back."""
    theirs = forked.their_half(_folder_sizes(root, labels), SHARE_FROM_BYTES) if forked.may_fork() else []
    if not theirs:
        return {label: _class_names(root, label, problems) for label in labels}

    def child() -> bytes:
        trouble: list[Problem] = []
        blobs = {label: _class_names(root, label, trouble).blob for label in theirs}
        return pickle.dumps((blobs, trouble), protocol=pickle.HIGHEST_PROTOCOL)

    mine = [label for label in labels if label not in set(theirs)]
    found, reply = forked.share(lambda: {label: _class_names(root, label, problems) for label in mine}, child)
    if reply is None:  # the child did not answer: this process lists its classes too
        return {**found, **{label: _class_names(root, label, problems) for label in theirs}}
    blobs, trouble = pickle.loads(reply)  # our own child's bytes, just made
    problems.extend(trouble)
    return {**found, **{label: Names.from_blob(blob) for label, blob in blobs.items()}}


def _folder_sizes(root: Path, labels: list[str]) -> dict[str, int]:
    """Each class folder's own size (its listing's, on most file systems about 20 bytes an entry)."""
    sizes = {}
    for label in labels:
        try:
            sizes[label] = os.stat(root / label).st_size
        except OSError:
            sizes[label] = 0
    return sizes


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
