"""The seal of a finished run: what a rerun with nothing to do must find unchanged, so it can say so
without reading the manifest (a rerun of millions of outputs otherwise reads and joins millions of rows).

A run that made or kept every planned output, with no input it could not read, seals its folder. The seal
is a few hundred bytes kept in an extended attribute (``user.augcli.seal``) of ``augcli-run.json``, not in
any file's bytes (those stay the same whatever folder a run writes to); every run that takes the full
path rewrites that file first, so the seal goes with it. It holds digests of:
- ``inputs``: the scan (classes, each class's names, the problems left out) and every input's size and
  mtime, taken at the end of the run and checked against the stamps the workers recorded when they read
  the inputs (an input changed during the run gets no seal);
- ``files``: inode, size, mtime and change time of manifest.csv, augcli-sources.csv, errors.csv and
  metadata.csv;
- ``folders``: inode and change time of every folder holding an output. Creating, removing or renaming
  an entry in a folder sets its change time (POSIX), and a change time cannot be set back by hand, so an
  output deleted, added or replaced since the seal shows here. The seal waits until the file system's
  clock has moved past every change time it records, so a change in the same clock tick still shows;
and the number of redrawn rows (the other counts follow from the plan, every output of which is there).

A rerun with the same run record (identity, version, input folder, plan size) checks the files and
folders (one ``lstat`` each), then stats each input (relative to its class folder): all equal, nothing
is read, written or removed. Anything else, including a touched input with the same bytes, takes the
full path (``augcli.outdir.prepare``). ``AUGCLI_FULL_CHECK=1`` always takes the full path; so does a file
system without user extended attributes. What a seal trusts beyond the full path: that no one rewrote a
bookkeeping file in place keeping its inode, size, mtime and change time (the kernel sets the last).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from array import array
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from augcli import forked
from augcli import manifest as M
from augcli.io import temp_path
from augcli.metadata import METADATA
from augcli.sections import Plan, Section

VERSION = 1
ATTRIBUTE = "user.augcli.seal"
_FILES = (M.MANIFEST, M.SOURCES, M.ERRORS, METADATA)
_CLOCK_WAIT = 2.0  # seconds the seal waits at most for the file system's clock to move on


def full_check() -> bool:
    """True when the environment asks every rerun to take the full path."""
    return os.environ.get("AUGCLI_FULL_CHECK", "") not in ("", "0")


def sealable(plan: Plan) -> bool:
    """A plan read class by class from the scan alone (not SMOTE's, planned from features)."""
    return bool(plan.sections) and not plan.tail


def check(out_root: Path, in_root: Path, plan: Plan, problems: Sequence[tuple[str, str]], old: M.RunRecord,
          record: M.RunRecord) -> int | None:
    """The redrawn rows the seal of the earlier run records when the folder and the inputs are as it says
    (nothing to do); else None."""
    if full_check() or not sealable(plan) or old.to_json() != record.to_json():
        return None
    seal = _read(out_root / M.RUN_RECORD)
    if seal is None or seal.get("version") != VERSION:
        return None
    if seal.get("files") != _files_digest(out_root) or seal.get("folders") != _folders_digest(out_root, plan):
        return None
    if seal.get("inputs") != _inputs_digest(in_root, plan, problems):
        return None
    redrawn = seal.get("redrawn")
    return redrawn if isinstance(redrawn, int) and not isinstance(redrawn, bool) else None


def write(out_root: Path, in_root: Path, plan: Plan, problems: Sequence[tuple[str, str]], redrawn: int) -> bool:
    """Seal a run that just finished every planned output; False when it cannot be sealed (an input
    changed since it was read, the file system's clock did not move, no extended attributes)."""
    inputs = _inputs_digest(in_root, plan, problems, out_root / M.SOURCES)
    if inputs is None:
        return False
    files, folders = _measure_files(out_root), _measure_folders(out_root, plan)
    latest = max([item[3] for item in files.values() if item] + [item[1] for item in folders.values()], default=0)
    if not _clock_after(out_root, latest):
        return False
    if _measure_files(out_root) != files or _measure_folders(out_root, plan) != folders:
        return False  # something moved while the seal was being made
    seal = {"version": VERSION, "inputs": inputs, "files": _hash(files),
            "folders": _hash(folders), "redrawn": redrawn}
    try:
        os.setxattr(out_root / M.RUN_RECORD, ATTRIBUTE, json.dumps(seal, sort_keys=True).encode(),
                    follow_symlinks=False)
    except (OSError, AttributeError):  # no user extended attributes here (or on this system)
        return False
    return True


def counts(plan: Plan) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per class and rows that are not originals per class, when every planned output was made."""
    labels, added = {}, {}
    for section in plan.sections:
        kept = section.kept()
        originals = (len(section.names) if kept is None else len(kept)) * int(section.original)
        if section.count:
            labels[section.label] = section.count
            added[section.label] = section.count - originals
    return labels, added


def _read(record: Path) -> Mapping[str, Any] | None:
    try:
        seal = json.loads(os.getxattr(record, ATTRIBUTE, follow_symlinks=False))
    except (OSError, AttributeError, ValueError):
        return None
    return seal if isinstance(seal, dict) else None


def _hash(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=20).hexdigest()


def _files_digest(out_root: Path) -> str:
    return _hash(_measure_files(out_root))


def _folders_digest(out_root: Path, plan: Plan) -> str:
    return _hash(_measure_folders(out_root, plan))


# ---------------------------------------------------------------- the output folder


def _measure_files(out_root: Path) -> dict[str, list[int] | None]:
    """(inode, size, mtime, change time) of each bookkeeping file; None for one that is not there."""
    found: dict[str, list[int] | None] = {}
    for name in _FILES:
        try:
            stat = os.lstat(out_root / name)
        except FileNotFoundError:
            found[name] = None
            continue
        found[name] = [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
    return found


def _measure_folders(out_root: Path, plan: Plan) -> dict[str, list[int]]:
    """(inode, change time) of every folder the plan writes into; -1s for one that is not there."""
    found = {}
    for folder in output_folders(plan):
        try:
            stat = os.lstat(out_root / folder)
            found[folder] = [stat.st_ino, stat.st_ctime_ns]
        except OSError:
            found[folder] = [-1, -1]
    return found


def output_folders(plan: Plan) -> list[str]:
    """The folders of every planned output (a class folder and the sub-folders its names have), sorted."""
    folders: set[str] = set()
    for section in plan.sections:
        folders.add(section.label)
        if section.names.has_folders():
            folders.update(f"{section.label}/{name.rpartition('/')[0]}" for name in section.names if "/" in name)
    return sorted(folders)


def _clock_after(out_root: Path, latest: int) -> bool:
    """Wait until a file made now in ``out_root`` gets a change time after ``latest`` (this file system's
    clock, whatever its tick): a later change to a sealed folder then always shows."""
    probe = temp_path(out_root / "seal")
    deadline = time.monotonic() + _CLOCK_WAIT
    try:
        while True:
            fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            try:
                now = os.fstat(fd).st_ctime_ns
            finally:
                os.close(fd)
                os.unlink(probe)
            if now > latest:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
    except OSError:
        return False


# ---------------------------------------------------------------- the inputs


def _inputs_digest(in_root: Path, plan: Plan, problems: Sequence[tuple[str, str]],
                   stamps: Path | None = None) -> str | None:
    """One digest of the scan (classes, names, problems) and of every input's size and mtime, class by
    class (one class's numbers in memory at a time); None when an input cannot be stat'ed or, given the
    run's ``stamps``, when one differs from its stamp (it changed after it was read)."""
    sections = plan.sections
    order = sorted(range(len(sections)), key=lambda k: sections[k].label + "/")  # the stamps' order
    if stamps is None:
        found = _digests_shared(in_root, plan, order)
    else:
        records = _stamp_records(stamps)
        found = {k: _class_digest(in_root, sections[k], records) for k in order}
        if not records.finished():
            return None
    if found is None or any(digest is None for digest in found.values()):
        return None
    whole = hashlib.blake2b(b"augcli-seal-inputs-1", digest_size=20)
    for k in range(len(sections)):
        whole.update(found[k] or b"")
    for path, reason in sorted(problems):
        whole.update(b"\1" + path.encode("utf-8", "surrogatepass") + b"\0" + reason.encode("utf-8", "surrogatepass"))
    return whole.hexdigest()


def _class_digest(in_root: Path, section: Section, records: _StampRecords | None = None) -> bytes | None:
    """The digest of one class's label, names, and its inputs' sizes and mtimes; None when one cannot be
    stat'ed or disagrees with its stamp in ``records``."""
    stats = _class_stats(in_root, section.label, section.names)
    if stats is None or (records is not None and not records.agree(section.label, section.names, *stats)):
        return None
    digest = hashlib.blake2b(section.label.encode("utf-8", "surrogatepass") + b"\0", digest_size=20)
    section.names.fingerprint(digest)
    digest.update(stats[0].astype("<i8").tobytes())
    digest.update(stats[1].astype("<i8").tobytes())
    return digest.digest()


SHARE_FROM = 20_000  # inputs from which a rerun stats half of the classes in a second process


def _digests_shared(in_root: Path, plan: Plan, order: list[int]) -> dict[int, bytes | None] | None:
    """Every class's digest; on a large tree a forked child does about half of the classes
    (:mod:`augcli.forked`) and sends 25 bytes a class back."""
    sections = plan.sections
    theirs = forked.their_half({k: len(sections[k].names) for k in order}, SHARE_FROM) if forked.may_fork() else []
    if not theirs:
        return {k: _class_digest(in_root, sections[k]) for k in order}

    def child() -> bytes:
        reply = bytearray()
        for k in theirs:
            digest = _class_digest(in_root, sections[k])
            reply += k.to_bytes(4, "little") + (b"\1" + digest if digest is not None else bytes(21))
        return bytes(reply)

    found, reply = forked.share(lambda: {k: _class_digest(in_root, sections[k]) for k in order if k not in theirs},
                                child)
    merged = _merge(found, reply, theirs) if reply is not None else None
    if merged is None:  # the child did not answer, or not as asked: this process does its half too
        merged = {**found, **{k: _class_digest(in_root, sections[k]) for k in theirs}}
    return merged


def _merge(found: dict[int, bytes | None], reply: bytes, theirs: list[int]) -> dict[int, bytes | None] | None:
    """``found`` with the child's digests added; None when its reply is not one record per class it had."""
    if len(reply) != 25 * len(theirs):
        return None
    found = dict(found)
    for i in range(len(theirs)):
        item = reply[25 * i:25 * (i + 1)]
        k = int.from_bytes(item[:4], "little")
        if k not in theirs or k in found:
            return None
        found[k] = bytes(item[5:]) if item[4] == 1 else None
    return found


def _class_stats(in_root: Path, label: str, names: Sequence[str]
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """Size and mtime of each input of a class (a stat relative to the class folder); None when one
    cannot be stat'ed."""
    try:
        fd = os.open(in_root / label, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    sizes, mtimes = array("q"), array("q")  # 8 bytes a number, not a stat object per input
    try:
        for name in names:
            stat = os.stat(name, dir_fd=fd)
            sizes.append(stat.st_size)
            mtimes.append(stat.st_mtime_ns)
    except OSError:
        return None
    finally:
        os.close(fd)
    return np.frombuffer(sizes, dtype=np.int64), np.frombuffer(mtimes, dtype=np.int64)


class _StampRecords:
    """The run's stamps (sorted by path, so each class's are together, in the order of the classes'
    ``label/``), checked class by class against the inputs' sizes and mtimes."""

    def __init__(self, stamps: Iterator[M.Stamp]) -> None:
        self.stamps = stamps
        self.head = next(stamps, None)
        self.ok = True

    def agree(self, label: str, names: Sequence[str], sizes: npt.NDArray[np.int64],
              mtimes: npt.NDArray[np.int64]) -> bool:
        """Every stamp of this class names one of its inputs, with its size and mtime now."""
        prefix = label + "/"
        j = 0
        while self.ok and self.head is not None and self.head.path < prefix + "\U0010ffff":
            stamp = self.head
            if not stamp.path.startswith(prefix):
                return self._fail()  # a stamp of no class: not from this plan
            name = stamp.path[len(prefix):]
            while j < len(names) and names[j] < name:
                j += 1
            if j == len(names) or names[j] != name or (stamp.size, stamp.mtime_ns) != (int(sizes[j]), int(mtimes[j])):
                return self._fail()
            self.head = self._next()
        return self.ok

    def finished(self) -> bool:
        """Every stamp was one of a class's inputs."""
        return self.ok and self.head is None

    def _next(self) -> M.Stamp | None:
        try:
            return next(self.stamps, None)
        except ValueError:
            self.ok = False
            return None

    def _fail(self) -> bool:
        self.ok = False
        return False


def _stamp_records(path: Path) -> _StampRecords:
    records = _StampRecords(iter(()))
    try:
        records = _StampRecords(M.stream_stamps(path))
    except ValueError:
        records.ok = False
    return records
