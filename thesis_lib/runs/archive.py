"""The allocation archive: run records carried back from a lent machine in one tar file, and imported here.

A lent GPU returns only a few files (at most 8, 16 MiB each, at most two folders down), so an allocation cannot
copy the run cache out file by file. It keeps its finished records, each with its outputs, in one uncompressed tar
(the ``.npz`` outputs are compressed already): ``runs.tar``, members ``runs/<profile>/<key>.npz`` then
``runs/<profile>/<key>.json``. :class:`ArchiveWriter` rewrites the archive whole after every record (to a temporary
name, then renamed), so a command killed at its time limit has returned every record that finished before it. A
part that would pass :data:`PART_BYTES` is closed and the next record starts ``runs-2.tar`` (up to
:data:`MAX_PARTS`, far more than one allocation trains: a full-profile record with its outputs is about 0.11 MiB).

:func:`import_archive` trusts nothing it reads: every record is validated exactly as the run cache validates one
on load (:func:`thesis_lib.runs.cache.read_record`: UTF-8 JSON, the key of its name, a spec hashing to that key, the
checksum, finite metrics for every evaluation set) from a temporary folder, and its outputs must be the very file
the record names (sha256) and load. A record that fails is named with the reason and left out; the others are
written into the run cache (outputs first, each atomically), byte for byte as they were saved on the lent machine.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from thesis_lib.core import atomic
from thesis_lib.core.profiles import PROFILES
from thesis_lib.runs import cache

ARCHIVE = "runs.tar"
#: A returned file may be 16 MiB; a part stays below this, leaving room for the tar's own blocks.
PART_BYTES = 15 * 2**20
#: Parts at most: with ``allocation.json``, the log, ``gpu.txt`` and a temporary file a kill may leave behind for
#: each of the two files rewritten, the output folder stays within the 8 files that come back.
MAX_PARTS = 3
_BLOCK, _RECORD = 512, 10240           # tar's block and its default record (the file is padded to whole records)
_MEMBER = re.compile(r"^runs/([a-z]+)/([0-9a-f]+)\.(json|npz)$")


class ArchiveFull(RuntimeError):
    """The archive's parts are full: a further record would not come back."""


def part_name(n: int) -> str:
    """The file name of part ``n`` (1-based): ``runs.tar``, ``runs-2.tar``, ..."""
    return ARCHIVE if n == 1 else f"runs-{n}.tar"


def _tar_bytes(members: list[tuple[str, bytes]]) -> int:
    """The exact size of an uncompressed (GNU) tar of ``members``: a header block and whole data blocks each, two
    end blocks, padded to whole 10 KiB records."""
    size = sum(_BLOCK + -(-len(data) // _BLOCK) * _BLOCK for _, data in members) + 2 * _BLOCK
    return -(-size // _RECORD) * _RECORD


def _write_tar(path: Path, members: list[tuple[str, bytes, float]]) -> None:
    with atomic.atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.GNU_FORMAT) as tf:
                for name, data, mtime in members:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
                    tf.addfile(info, io.BytesIO(data))
            fh.flush()
            os.fsync(fh.fileno())


class ArchiveWriter:
    """The archive of one allocation in ``folder``, rewritten (atomically) by each :meth:`add`."""

    def __init__(self, folder: str | Path, part_bytes: int = PART_BYTES, max_parts: int = MAX_PARTS):
        self.folder, self.part_bytes, self.max_parts = Path(folder), part_bytes, max_parts
        self.parts: list[Path] = []
        self._current: list[tuple[str, bytes, float]] = []   # the members of the last part (earlier ones are closed)
        self.keys: list[str] = []
        self.record_bytes = 0                                 # of the largest record with its outputs so far

    def add(self, record_path: str | Path) -> Path:
        """Put the saved record ``record_path`` (``<root>/<profile>/<key>.json``) and its outputs into the archive
        and rewrite the part holding it; returns that part's path. :class:`ArchiveFull` when no part has room."""
        record_path = Path(record_path)
        profile, key = record_path.parent.name, record_path.name.removesuffix(".json")
        new = []
        npz = record_path.with_suffix(".npz")
        if npz.is_file():                       # outputs first, as the run cache writes them
            new.append((f"runs/{profile}/{key}.npz", npz.read_bytes(), npz.stat().st_mtime))
        new.append((f"runs/{profile}/{key}.json", record_path.read_bytes(), record_path.stat().st_mtime))
        size = _tar_bytes([(n, d) for n, d, _ in new])
        if size > self.part_bytes:
            raise ArchiveFull(f"record {key} with its outputs takes {size} bytes, more than a part's {self.part_bytes}")
        if not self.parts or _tar_bytes([(n, d) for n, d, _ in self._current + new]) > self.part_bytes:
            if len(self.parts) == self.max_parts:
                raise ArchiveFull(f"the archive's {self.max_parts} parts are full; record {key} would not come "
                                  f"back (it stays in this machine's run cache)")
            self.parts.append(self.folder / part_name(len(self.parts) + 1))
            self._current = []
        self._current += new
        _write_tar(self.parts[-1], self._current)
        self.keys.append(key)
        self.record_bytes = max(self.record_bytes, sum(len(d) for _, d, _ in new))
        return self.parts[-1]

    def room_for(self) -> int | None:
        """About how many more records fit (by the largest so far), None before the first."""
        if not self.record_bytes:
            return None
        per = self.record_bytes + 3 * _BLOCK
        used = _tar_bytes([(n, d) for n, d, _ in self._current]) if self.parts else 0
        free_parts = self.max_parts - max(len(self.parts), 1)
        return max(0, (self.part_bytes - used) // per) + free_parts * (self.part_bytes // per)


# --- reading and importing ---------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)     # present, valid, and not byte-identical: kept as cached
    rejected: list[tuple[str, str]] = field(default_factory=list)   # (what, why)

    def summary(self) -> str:
        return (f"{len(self.imported)} imported, {len(self.present)} already present, {len(self.rejected)} rejected"
                + (f" ({len(self.differing)} of those present differ from the archive's copy and were kept as "
                   f"cached)" if self.differing else ""))


def archives_in(path: str | Path) -> list[Path]:
    """The archive parts at ``path``: the file itself, or ``runs.tar``, ``runs-2.tar``, ... in a returned folder."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither an archive nor a folder")
    found = [path / part_name(n) for n in range(1, 100) if (path / part_name(n)).is_file()]
    if not found:
        raise FileNotFoundError(f"no {ARCHIVE} in {path} (the folder an allocation returned holds it)")
    return found


def read_archive(path: str | Path, rejected: list | None = None) -> dict[tuple[str, str], dict[str, bytes]]:
    """``{(profile, key): {"json": bytes, "npz": bytes}}`` of a tar archive. Anything else in it (another name, a
    link, a folder, a second copy) is named in ``rejected`` as ``(name, why)`` and skipped."""
    rejected = rejected if rejected is not None else []
    out: dict = {}
    try:
        tf = tarfile.open(path, mode="r:")
    except (tarfile.TarError, OSError) as err:
        raise ValueError(f"{path} is not a readable tar archive ({err})") from None
    with tf:
        for m in tf:
            match = _MEMBER.match(m.name)
            if m.isdir():
                continue
            if not m.isfile():
                rejected.append((m.name, "not a regular file"))
                continue
            if match is None or match.group(1) not in PROFILES or PurePosixPath(m.name).name.startswith("."):
                rejected.append((m.name, "not a member of the form runs/<profile>/<key>.json or .npz"))
                continue
            profile, key, ext = match.groups()
            entry = out.setdefault((profile, key), {})
            if ext in entry:
                rejected.append((m.name, "a second copy in the archive"))
                continue
            entry[ext] = tf.extractfile(m).read()
    return out


def verify(profile: str, key: str, files: dict[str, bytes]) -> dict:
    """The record of ``files`` (``{"json": bytes, "npz": bytes}``) once validated, else :class:`cache.RecordError`
    naming why: the run cache's own validation (:func:`cache.read_record`, on a temporary copy so that its checks
    on the file's name and folder apply), then its outputs against the sha256 the record names."""
    if "json" not in files:
        raise cache.RecordError("outputs without a record")
    with tempfile.TemporaryDirectory(prefix="thesis-import-") as tmp:
        path = Path(tmp) / profile / f"{key}.json"
        path.parent.mkdir()
        path.write_bytes(files["json"])
        record = cache.read_record(path)
        want = record.get("outputs_sha256")
        if want is None:
            if "npz" in files:
                raise cache.RecordError("it comes with an outputs file its record does not name")
            return record
        if record.get("outputs_file") != f"{key}.npz":
            raise cache.RecordError(f"it names outputs file {record.get('outputs_file')!r}, not {key}.npz")
        if "npz" not in files:
            raise cache.RecordError(f"its outputs file {key}.npz is missing")
        got = hashlib.sha256(files["npz"]).hexdigest()
        if got != want:
            raise cache.RecordError(f"its outputs' sha256 {got[:12]}... is not the {want[:12]}... its record names "
                                    f"(outputs damaged or replaced)")
        path.with_suffix(".npz").write_bytes(files["npz"])
        try:
            cache.load_outputs(key, profile, tmp)
        except Exception as err:  # noqa: BLE001 - any failure to read them is the reason to reject
            raise cache.RecordError(f"its outputs do not load ({type(err).__name__}: {err})") from None
    return record


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic.atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def import_archive(path: str | Path, runs_root: str | Path | None = None) -> ImportReport:
    """Verify every record in the archive(s) at ``path`` (see the module docstring) and write the good ones into
    the run cache ``runs_root`` (default: the project's, ``results/runs``). A record already cached and valid is
    left as it is; a cached one that fails validation is set aside by the cache and replaced."""
    report = ImportReport()
    entries: dict = {}
    for part in archives_in(path):
        for k, files in read_archive(part, report.rejected).items():
            if k in entries:
                report.rejected.append((f"{k[1]} ({part.name})", "a second copy across the archive's parts"))
                continue
            entries[k] = files
    for (profile, key), files in entries.items():
        try:
            record = verify(profile, key, files)
        except cache.RecordError as err:
            report.rejected.append((f"{key} ({profile})", str(err)))
            continue
        spec = cache.spec_from_record(record["spec"])
        dest = cache.path_for(spec, runs_root)
        if dest.exists() and cache.load(spec, runs_root) is not None:   # a bad cached copy is set aside by load
            npz = dest.with_suffix(".npz")
            same = dest.read_bytes() == files["json"] and (npz.read_bytes() if npz.is_file() else None) == \
                files.get("npz")
            report.present.append(key)
            if not same:
                report.differing.append(key)
            continue
        cache.check_writable(profile, runs_root)
        if "npz" in files:                      # outputs first: a record on disk always has its outputs
            _write_bytes(dest.with_suffix(".npz"), files["npz"])
        _write_bytes(dest, files["json"])
        report.imported.append(key)
    return report


__all__ = ["ARCHIVE", "ArchiveFull", "ArchiveWriter", "ImportReport", "archives_in", "import_archive", "part_name",
           "read_archive", "verify"]
