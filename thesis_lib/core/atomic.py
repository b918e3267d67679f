"""Atomic output files: written under a temporary name in the same folder, then renamed over the target, so a
killed or failed write leaves the previous file (or nothing), never a half-written one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

#: Outputs are readable by everyone (mkstemp alone would leave them 0600).
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path`` (same suffix, so writers that look at it still work); on success it
    is renamed to ``path``, on any error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def check_writable(folder: str | Path, what: str = "output folder") -> Path:
    """Create ``folder`` if needed and prove a file can be written there (a few KB, then removed); raise
    ``OSError`` naming the folder otherwise: a read-only or full disk is found before any work, not after."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"\0" * 65536)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"the {what} {folder} is not writable ({err.strerror or err}); "
                                 f"make it writable (or free space), or point the output elsewhere (THESIS_RESULTS_DIR, "
                                 f"THESIS_RUNS_DIR, THESIS_FIGURES_DIR)") from None
    return folder
