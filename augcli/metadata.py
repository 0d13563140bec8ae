"""``metadata.csv``: the output folder described for Hugging Face ``datasets``' ``imagefolder`` loader.

``load_dataset("imagefolder", data_dir=OUT)`` reads a ``metadata.csv`` at the root of the folder: its
``file_name`` column links each row to an image (a path relative to the folder, with forward slashes),
and every other column becomes a field of the example. With a metadata file, ``datasets`` takes the
label from it, not from the folder names (a nested ``square/studio/x.png`` would be labelled
``studio``), so the class is written in a column named ``label``, the name ``datasets`` gives the
class it infers. ``label_weights`` is the soft label as JSON, ``{label: 1.0}`` for a single-label
image, so the column is text on every row.

The file is made from the final manifest's rows alone, in their order: the same bytes whatever
``--workers``. A run removes it before it writes anything and writes it again last, so it never
lists a folder still being written. It is augcli's when its bytes are what the manifest beside it
gives; any other ``metadata.csv`` (the user's own, or edited) stops the run before anything is
removed. A row whose path, class or sources are not valid UTF-8 is left out: a UTF-8 CSV cannot
hold it (``manifest.csv`` still lists it).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from augcli.errors import InputError
from augcli.io import temp_path
from augcli.manifest import Row
from augcli.paths import shown

METADATA = "metadata.csv"
COLUMNS = ("file_name", "label", "kind", "sources", "seed", "label_weights")


def metadata_csv(rows: Iterable[Row]) -> bytes:
    """The file's bytes for manifest rows, header first, one line per row in the order given."""
    return b"".join(_chunks(rows))


def _chunks(rows: Iterable[Row], batch: int = 4096) -> Iterator[bytes]:
    """The file's bytes a few thousand rows at a time (a manifest may have millions)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for n, row in enumerate(rows, 1):
        if _utf8(row.path, row.label, row.sources):
            weights = row.label_weights or json.dumps({row.label: 1.0}, separators=(",", ":"), ensure_ascii=False)
            writer.writerow((row.path, row.label, row.kind, row.sources, row.seed, weights))
        if n % batch == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _utf8(*texts: str) -> bool:
    """True when every text encodes as UTF-8 (names that are not reach Python as lone surrogates)."""
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write_metadata(out_root: Path, rows: Iterable[Row]) -> None:
    """Write ``metadata.csv`` atomically beside the manifest (streamed to a temporary file, then renamed)."""
    target = out_root / METADATA
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as handle:
            for chunk in _chunks(rows):
                handle.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def owned_metadata(out_root: Path, rows: Iterable[Row]) -> Path | None:
    """The ``metadata.csv`` an earlier run wrote from these manifest rows (to be removed), or None when there
    is none. Its bytes are compared with the rows' as they are read, never held whole.

    Raises:
        InputError: a ``metadata.csv`` is there that augcli did not write from this manifest (the user's
            own, an edited one, a link or a folder); nothing has been removed yet.
    """
    path = out_root / METADATA
    if not path.is_symlink() and not path.exists():
        return None
    if not path.is_symlink() and path.is_file() and _same_bytes(path, _chunks(rows)):
        return path
    raise InputError(f"{shown(path)} is not the one augcli wrote for this folder's manifest (your own, or changed "
                     f"since); augcli writes its own {METADATA} there for Hugging Face datasets: move it out of "
                     "the output folder (or choose another folder), then run again; nothing was deleted")


def _same_bytes(path: Path, chunks: Iterable[bytes]) -> bool:
    """True when the file holds exactly the bytes of the chunks."""
    with open(path, "rb") as handle:
        for chunk in chunks:
            if handle.read(len(chunk)) != chunk:
                return False
        return handle.read(1) == b""
