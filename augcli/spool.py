"""External sorting on disk, so that a run of millions of outputs keeps only a bounded part of its
bookkeeping in memory: manifest rows to put in plan order, source stamps to put in path order.

A :class:`Sorter` takes (key, value) items in any order, keeps up to ``limit`` of them (or values of
``BYTES`` bytes, counting bytes and str values) in memory, and
writes each full batch sorted (a *run*) to an anonymous temporary file (no name: nothing is left behind
when the process is killed). :meth:`Sorter.merged` merges the runs and what is still in memory into
one stream in key order; items with equal keys keep the order they were added in. Generic: values are
anything picklable, keys anything comparable; nothing here knows about manifests.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

LIMIT = 16_384  # items held in memory before a sorted run is written
BYTES = 2**18  # or bytes of bytes/str values held (a manifest row packed by marshal: 300-400 bytes)
BLOCK = 256  # items per pickled block: what a run's reader holds at a time (FAN_IN readers when merging)
FAN_IN = 32  # runs merged at once; more are first merged into longer runs


class Sorter:
    """Sort (key, value) items that may not fit in memory; equal keys keep their insertion order."""

    def __init__(self, folder: Path | None = None, limit: int | None = None) -> None:
        self.folder, self.limit = folder, max(1, limit or LIMIT)
        self._items: list[tuple[Any, int, Any]] = []
        self._runs: list[list[tuple[int, int]]] = []  # per run: (offset, size) of its blocks
        self._file: IO[bytes] | None = None
        self._count = 0
        self._bytes = 0
        self.added = 0

    def add(self, key: Any, value: Any) -> None:
        """Add one item."""
        self._items.append((key, self._count, value))
        self._count += 1
        self.added += 1
        self._bytes += len(value) if isinstance(value, (bytes, str)) else 0
        if len(self._items) >= self.limit or self._bytes >= BYTES:
            self._spill()

    def extend(self, items: Iterable[tuple[Any, Any]]) -> None:
        """Add items in order."""
        for key, value in items:
            self.add(key, value)

    def merged(self) -> Iterator[tuple[Any, Any]]:
        """Every item added, in key order (ties in insertion order). Reads the runs; call it once."""
        self._items.sort(key=_order)
        if len(self._runs) + 1 > FAN_IN:
            self._spill()
            while len(self._runs) > FAN_IN:
                self._compact()
        streams = [self._read(run) for run in self._runs] + [iter(self._items)]
        for key, _, value in heapq.merge(*streams, key=_order):
            yield key, value

    def close(self) -> None:
        """Drop the runs and their file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._items, self._runs = [], []

    def __enter__(self) -> Sorter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def spilled(self) -> int:
        """Runs written to disk so far."""
        return len(self._runs)

    def _spill(self) -> None:
        if not self._items:
            return
        self._items.sort(key=_order)
        self._runs.append(self._write(self._items))
        self._items, self._bytes = [], 0

    def _write(self, items: Iterable[tuple[Any, int, Any]]) -> list[tuple[int, int]]:
        """Append items (already sorted) as one run of pickled blocks; return its blocks."""
        handle = self._handle()
        handle.seek(0, 2)
        blocks, block = [], []
        for item in items:
            block.append(item)
            if len(block) == BLOCK:
                blocks.append(self._dump(handle, block))
                block = []
        if block:
            blocks.append(self._dump(handle, block))
        return blocks

    @staticmethod
    def _dump(handle: IO[bytes], block: list[tuple[Any, int, Any]]) -> tuple[int, int]:
        data = pickle.dumps(block, protocol=pickle.HIGHEST_PROTOCOL)
        offset = handle.tell()
        handle.write(data)
        return offset, len(data)

    def _read(self, run: list[tuple[int, int]]) -> Iterator[tuple[Any, int, Any]]:
        """A run's items, a block at a time (other runs' readers move the file position in between)."""
        handle = self._handle()
        for offset, size in run:
            handle.seek(offset)
            yield from pickle.loads(handle.read(size))  # our own file, written just before

    def _compact(self) -> None:
        """Merge the first FAN_IN runs into one longer run at the end of the file."""
        first, self._runs = self._runs[:FAN_IN], self._runs[FAN_IN:]
        merged = heapq.merge(*(self._read(run) for run in first), key=_order)
        # Blocks are read before the merged ones are appended: collect in bounded batches.
        out: list[tuple[int, int]] = []
        batch: list[tuple[Any, int, Any]] = []
        held = 0
        for item in merged:
            batch.append(item)
            held += len(item[2]) if isinstance(item[2], (bytes, str)) else 0
            if len(batch) == self.limit or held >= BYTES:
                out += self._write(batch)
                batch, held = [], 0
        out += self._write(batch)
        self._runs.append(out)

    def _handle(self) -> IO[bytes]:
        if self._file is None:
            self._file = tempfile.TemporaryFile(dir=self.folder)  # noqa: SIM115 - closed by close()
        return self._file


def _order(item: tuple[Any, int, Any]) -> tuple[Any, int]:
    return item[0], item[1]
