"""Per-image evaluation outputs of a cached run, read back at report time, and the metrics recomputed from them.

Every run keeps, beside its record, the model's log-softmax outputs on each evaluation set (``<key>.npz``,
:mod:`thesis_lib.runs.cache`). The soft evaluation labels are not kept; they are rebuilt from the run's spec
through its chapter (``run_data(spec).eval_sets``, the same call that made them for training), and the kept
image indices must equal theirs. From the two, every metric is recomputed on a CPU for any subset of the images,
and a statistic added later (the authors' calibration error) needs no retraining: run records and keys never change.

Two calibration errors come out of the same outputs (:mod:`thesis_lib.training.metrics`):

* ``"calibration_authors"``: the authors' binning, last bin dropped (:func:`~thesis_lib.training.metrics.
  rms_calibration_error_authors`), how the thesis's cells were computed: the one to compare with the thesis;
* ``"calibration"``: every bin (:func:`~thesis_lib.training.metrics.rms_calibration_error`), the correct statistic,
  what a record stores.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from thesis_lib.runs import cache
from thesis_lib.runs.chapters import chapter_module
from thesis_lib.runs.spec import RunSpec
from thesis_lib.training import metrics


class OutputsWarning(UserWarning):
    """A run's kept outputs could not be used (absent, changed since the record, or for other images)."""


@dataclass(frozen=True)
class EvalOutputs:
    """One run's outputs on one evaluation set, per image (all arrays of length n, in the kept order)."""

    idx: np.ndarray           # CIFAR-10 test-set indices of the images
    confidence: np.ndarray    # max softmax probability
    correct: np.ndarray       # bool: predicted class == the soft label's most probable class
    ce: np.ndarray            # soft-label cross-entropy per image
    fgsm: np.ndarray | None   # soft-label cross-entropy on the image's FGSM copy (None when not evaluated)
    bin_size: int             # the calibration bin size the run's evaluation used

    def subset(self, mask: np.ndarray) -> "EvalOutputs":
        """The same outputs on the images where ``mask`` holds (bin size kept)."""
        return EvalOutputs(self.idx[mask], self.confidence[mask], self.correct[mask], self.ce[mask],
                           None if self.fgsm is None else self.fgsm[mask], self.bin_size)


def calibrations(out: EvalOutputs, bin_size: int | None = None) -> dict[str, float]:
    """``{"calibration": every bin, "calibration_authors": last bin dropped}`` of ``out`` in bins of ``bin_size``
    (default: the run's own)."""
    b = out.bin_size if bin_size is None else bin_size
    return {"calibration": metrics.rms_calibration_error(out.confidence, out.correct, bin_size=b),
            "calibration_authors": metrics.rms_calibration_error_authors(out.confidence, out.correct, bin_size=b)}


@lru_cache(maxsize=256)
def _eval_sets(spec: RunSpec) -> dict:
    return chapter_module(spec.chapter).run_data(spec).eval_sets


def _warn(spec: RunSpec, why: str) -> None:
    warnings.warn(f"{spec.label()} ({spec.key}): {why}; its recomputed metrics are left out", OutputsWarning,
                  stacklevel=3)


_LOADED: dict = {}


def eval_outputs(spec: RunSpec, record: dict, eval_set: str, runs_root: str | Path | None = None) -> EvalOutputs | None:
    """The per-image outputs of ``record`` (the cached run of ``spec``) on ``eval_set``, or None when there are none
    (a record without ``outputs_sha256``, saved before outputs were kept) or they cannot be trusted (then with an
    :class:`OutputsWarning`): no ``<key>.npz``, a file whose sha256 is not the record's ``outputs_sha256``, or
    indices that are not the ones the chapter evaluates on."""
    want = record.get("outputs_sha256")
    if not want:                                   # a record saved without outputs: no file can be its own
        return None
    path = cache.outputs_path_for(spec, runs_root)
    if not path.is_file():
        _warn(spec, f"its outputs file {path} is missing")
        return None
    stat = path.stat()
    memo = (str(path), stat.st_mtime_ns, stat.st_size, want, eval_set)
    if memo in _LOADED:
        return _LOADED[memo]
    if cache.file_sha256(path) != want:
        _warn(spec, f"{path.name} is not the file its record was saved with (sha256 differs)")
        return None
    kept = (cache.load_outputs(spec, root=runs_root) or {}).get(eval_set)
    if kept is None or "log_probs" not in kept:
        return None
    sets = _eval_sets(spec)
    if eval_set not in sets:
        _warn(spec, f"its chapter has no evaluation set {eval_set!r}")
        return None
    idx, soft = sets[eval_set]
    if not np.array_equal(np.asarray(kept["idx"], dtype=np.int64), np.asarray(idx, dtype=np.int64)):
        _warn(spec, f"the kept {eval_set} images are not the ones its chapter evaluates on")
        return None
    t = np.asarray(soft, dtype=np.float64)
    lp = np.asarray(kept["log_probs"], dtype=np.float64)
    fgsm = kept.get("fgsm_log_probs")
    bin_size = record.get("metrics", {}).get(eval_set, {}).get("calibration_bin_size")
    out = EvalOutputs(
        idx=np.asarray(idx, dtype=np.int64), confidence=np.exp(lp.max(1)), correct=lp.argmax(1) == t.argmax(1),
        ce=-(t * lp).sum(1), fgsm=None if fgsm is None else -(t * np.asarray(fgsm, dtype=np.float64)).sum(1),
        bin_size=int(bin_size) if bin_size else metrics.calibration_bin_size(len(t)))
    if len(_LOADED) >= 1024:                       # a long session: keep memory bounded
        _LOADED.clear()
    _LOADED[memo] = out
    return out


def recomputed(spec: RunSpec, record: dict, eval_set: str, runs_root: str | Path | None = None) -> dict[str, float]:
    """The calibration errors of a run on ``eval_set`` recomputed from its kept outputs (:func:`calibrations`), or
    ``{}`` when it has none (an older record: only its stored all-bins ``"calibration"`` is known)."""
    out = eval_outputs(spec, record, eval_set, runs_root)
    return {} if out is None else calibrations(out)
