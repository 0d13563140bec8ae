"""Path rules every write, delete and manifest read goes through.

Two promises live here, once:
- a path read from a manifest or run record is relative and stays inside its folder
  (:func:`inside`), before anything is opened, compared or removed;
- no file augcli writes lands inside the input tree (:func:`check_not_input`).
"""

from __future__ import annotations

from pathlib import Path

from augcli.errors import InputError


def safe_rel(rel: str) -> bool:
    """True for a non-empty, normalised relative POSIX path with no ``..``, no backslash and no NUL."""
    if not rel or "\\" in rel or "\x00" in rel:
        return False
    # Normalised form only (what PurePosixPath(rel) would print back): no "." or empty parts, no leading
    # or trailing slash, so one file has one name; and no "..". Split, not parsed: it runs on every row.
    return not any(part in _NOT_NAMES for part in rel.split("/"))


_NOT_NAMES = frozenset(("", ".", ".."))


def inside(root: Path, rel: str) -> Path:
    """``root / rel`` when ``rel`` is a safe relative path whose resolved form stays below ``root``.

    Raises:
        ValueError: naming ``rel`` when it is absolute, climbs out, or leads out through a link.
    """
    if not safe_rel(rel):
        raise ValueError(f"path {rel!r} is not a relative path inside {root}")
    target = root / rel
    base = root.resolve()
    resolved = target.parent.resolve() / target.name
    if base != resolved and base not in resolved.parents:
        raise ValueError(f"path {rel!r} leads outside {root} (through a link)")
    return target


def is_within(path: Path, folder: Path) -> bool:
    """True when ``path`` (resolved) is ``folder`` or below it."""
    dst, base = path.resolve(), folder.resolve()
    return dst == base or base in dst.parents


def check_not_input(path: Path, input_root: Path, what: str) -> None:
    """Refuse to write ``path`` (a file or folder augcli is about to write) inside ``input_root``."""
    if is_within(path, input_root):
        raise InputError(f"{what} {path} is inside the input folder {input_root}; write it elsewhere "
                         "(augcli never writes into the input tree)")


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def shown(path: str | Path) -> str:
    """A path fit to print anywhere: bytes of a name that is not UTF-8 and control characters (a carriage
    return, a newline) shown as ``\\xNN`` escapes."""
    text = str(path).translate(_CONTROL)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file system name decodes to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
