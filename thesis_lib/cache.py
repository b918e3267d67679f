"""The run cache: one JSON file per finished run, ``results/runs/<profile>/<key>.json``.

A file is written to a temporary name and atomically renamed, so a killed run leaves either nothing or a whole
result, never a partial one; a cached spec is loaded instead of retrained.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from thesis_lib.profiles import default_results_dir
from thesis_lib.runspec import RunSpec


def runs_dir(root: str | Path | None = None) -> Path:
    return Path(root) if root else Path(os.environ.get("THESIS_RUNS_DIR") or default_results_dir() / "runs")


def path_for(spec: RunSpec, root: str | Path | None = None) -> Path:
    return runs_dir(root) / spec.profile / f"{spec.key}.json"


def load(spec: RunSpec, root: str | Path | None = None) -> dict | None:
    path = path_for(spec, root)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # cannot happen with atomic writes; treat a damaged file as absent and recompute
    return record if record.get("key") == spec.key else None


def save(spec: RunSpec, record: dict, root: str | Path | None = None) -> Path:
    path = path_for(spec, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.key}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, indent=1, sort_keys=True, default=float)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
