"""The run cache: one JSON file per finished run, ``results/runs/<profile>/<key>.json``.

A file is written to a temporary name and atomically renamed, so a killed run leaves either nothing or a whole
result, never a partial one; a cached spec is loaded instead of retrained.

Beside each record, ``<key>.npz`` keeps the run's evaluation outputs: per evaluation set the image indices and the
model's log-softmax outputs on the clean and the FGSM images, float16, compressed (``load_outputs``). With them a
metric fix or a new metric is recomputed on a CPU (:func:`thesis_lib.metrics.metrics_from_outputs`), never retrained.
The outputs file is written first, so a record on disk always has its outputs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

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


def outputs_path_for(spec: RunSpec, root: str | Path | None = None) -> Path:
    return path_for(spec, root).with_suffix(".npz")


def _save_outputs(spec: RunSpec, outputs: dict, root) -> Path:
    path = outputs_path_for(spec, root)
    arrays = {}
    for name, d in outputs.items():
        for field, value in d.items():
            value = np.asarray(value)
            arrays[f"{name}/{field}"] = value.astype(np.int16 if field == "idx" else np.float16)  # indices < 10,000
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.key}.", suffix=".npz.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_outputs(spec_or_key, profile: str | None = None, root: str | Path | None = None) -> dict | None:
    """``{eval set: {"idx", "log_probs", "fgsm_log_probs"}}`` kept beside a record, or None when there is none."""
    if isinstance(spec_or_key, RunSpec):
        path = outputs_path_for(spec_or_key, root)
    else:
        path = runs_dir(root) / profile / f"{spec_or_key}.npz"
    if not path.is_file():
        return None
    out: dict = {}
    with np.load(path) as z:
        for name in z.files:
            eval_set, field = name.split("/", 1)
            out.setdefault(eval_set, {})[field] = z[name]
    return out


def save(spec: RunSpec, record: dict, root: str | Path | None = None) -> Path:
    """Write ``record`` (and its ``"outputs"``, popped into ``<key>.npz``) atomically; returns the record's path."""
    path = path_for(spec, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs = record.pop("outputs", None)
    if outputs:
        record["outputs_file"] = _save_outputs(spec, outputs, root).name
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
