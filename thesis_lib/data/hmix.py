"""H-Mix (Collins et al., "Human-in-the-Loop Mixup"): human judgements over mixup images.

A stimulus ``mixed_{lambda}_{ClassA}_{idA}_{ClassB}_{idB}.png`` is lambda * test image idA + (1 - lambda) *
test image idB in pixel space at 32x32. Per annotator, the study recorded the inferred coefficient lambda_h
(relative to the first image, 0-1) and the confidence omega (0-1) in that inference (Chapter 4), and, for 100
mixed images, soft labels in the CIFAR-10S interface (section 5.1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from thesis_lib.data import registry
from thesis_lib.data.elicitation import (Elicitation, ElicitationReport, class_index, from_response,
                                         MalformedElicitation, parse_all)
from thesis_lib.data.registry import DataError

_NAME = re.compile(r"^mixed_(?P<lam>[0-9.]+)_(?P<a>[A-Za-z]+)_(?P<ia>\d+)_(?P<b>[A-Za-z]+)_(?P<ib>\d+)\.png$")


@dataclass(frozen=True)
class Stimulus:
    name: str
    lambda_f: float      # generating coefficient, weight of image ``idx_a``
    class_a: int
    idx_a: int
    class_b: int
    idx_b: int


def parse_stimulus(name: str) -> Stimulus:
    m = _NAME.match(name)
    if not m:
        raise ValueError(f"{name!r} is not a stimulus name of the form mixed_<lambda>_<A>_<idA>_<B>_<idB>.png")
    lam = float(m["lam"])
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"{name!r}: mixing coefficient {lam} outside [0, 1]")
    try:
        a, b = class_index(m["a"]), class_index(m["b"])
    except MalformedElicitation as err:
        raise ValueError(f"{name!r}: {err}") from None
    ia, ib = int(m["ia"]), int(m["ib"])
    if not (0 <= ia < 10000 and 0 <= ib < 10000):
        raise ValueError(f"{name!r}: image index outside the 10,000 test images")
    return Stimulus(name, lam, a, ia, b, ib)


def stimulus_name(lambda_f: float, class_a: str, idx_a: int, class_b: str, idx_b: int) -> str:
    return f"mixed_{lambda_f:g}_{class_a}_{int(idx_a)}_{class_b}_{int(idx_b)}.png"


def load_first_collection() -> list[Stimulus]:
    """The 810 first-collection stimuli of Chapter 4 (45 class pairs x 6 image pairs x 3 coefficients)."""
    path = registry.locate("hmix/first_collection_stimuli.json")
    names = json.loads(path.read_text())
    try:
        stimuli = [parse_stimulus(n) for n in names]
    except ValueError as err:
        raise DataError(f"{path}: {err}. Fix: replace it with the mirror's file.") from err
    if len(stimuli) != 810 or len({s.name for s in stimuli}) != 810:
        raise DataError(f"{path}: expected 810 distinct stimuli, found {len(set(names))}.")
    return stimuli


@lru_cache(maxsize=2)
def _inferences(path: str) -> pd.DataFrame:
    data = json.loads(open(path).read())
    rows = []
    for name, rec in data.items():
        try:
            s = parse_stimulus(name)
            lam_h, omega = rec["Predicted Mixing Factor"], rec["Predicted Confidence"]
            lam_f = float(rec["True Mixing Factor"])
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(f"{path}: malformed record for {name!r} ({err}). Fix: replace the file.") from err
        if len(lam_h) != len(omega) or not lam_h:
            raise DataError(f"{path}: {name}: {len(lam_h)} inferred coefficients but {len(omega)} confidences.")
        if abs(lam_f - s.lambda_f) > 1e-9:
            raise DataError(f"{path}: {name}: recorded generating coefficient {lam_f} differs from its name.")
        for m, (lh, om) in enumerate(zip(lam_h, omega)):
            if not (0.0 <= lh <= 1.0 and 0.0 <= om <= 1.0):
                raise DataError(f"{path}: {name}: annotator {m} has lambda_h={lh}, omega={om} outside [0, 1].")
            rows.append((name, s.lambda_f, s.class_a, s.idx_a, s.class_b, s.idx_b, m, float(lh), float(om)))
    return pd.DataFrame(rows, columns=["stimulus", "lambda_f", "class_a", "idx_a", "class_b", "idx_b",
                                       "annotator", "lambda_h", "omega"])


def load_hmix_inferences(first_collection_only: bool = True) -> pd.DataFrame:
    """One row per (stimulus, annotator): lambda_f, endpoints, lambda_h and omega.

    By default restricted to the 810 Chapter 4 stimuli, all of which must be present.
    """
    df = _inferences(str(registry.locate("hmix/processed_hmix_inferences.json")))
    if not first_collection_only:
        return df.copy()
    names = {s.name for s in load_first_collection()}
    missing = names - set(df.stimulus)
    if missing:
        raise DataError(f"processed_hmix_inferences.json lacks {len(missing)} first-collection stimuli.")
    return df[df.stimulus.isin(names)].reset_index(drop=True)


@dataclass(frozen=True)
class HMixSoftLabels:
    elicitations: dict[str, list[Elicitation]]   # stimulus name -> one cleaned elicitation per trial
    stimuli: dict[str, Stimulus]
    report: ElicitationReport
    trials: pd.DataFrame                         # subject, stimulus, rt_s, task


def load_hmix_soft_label_elicitations() -> HMixSoftLabels:
    """The section 5.1 soft-label elicitations over 100 mixed images, parsed from the raw trials."""
    path = registry.locate("hmix/hmix_categorical_soft_labels.csv")
    raw = pd.read_csv(path, low_memory=False)
    trials = raw[raw.trial_type == "survey-html-form"]
    if trials.filename.isna().any():
        raise DataError(f"{path}: elicitation trials without a stimulus file name. Fix: replace the file.")
    try:
        stimuli = {n: parse_stimulus(n) for n in trials.filename.unique()}
    except ValueError as err:
        raise DataError(f"{path}: {err}") from err
    elicitations, report = parse_all(zip(trials.filename, trials.response),
                                     lambda response: from_response(response, source="hmix"))
    table = pd.DataFrame({"subject": trials.subject.astype(str), "stimulus": trials.filename,
                          "rt_s": trials.rt.astype(float) / 1000.0, "task": trials.task}).reset_index(drop=True)
    return HMixSoftLabels(dict(sorted(elicitations.items())), stimuli, report, table)


def mix_images(images: np.ndarray, stimuli: list[Stimulus]) -> np.ndarray:
    """Rebuild stimuli in pixel space: lambda * x_a + (1 - lambda) * x_b, as float32 in [0, 255]."""
    x = images.astype(np.float32)
    lam = np.array([s.lambda_f for s in stimuli], dtype=np.float32)[:, None, None, None]
    a = np.array([s.idx_a for s in stimuli])
    b = np.array([s.idx_b for s in stimuli])
    return lam * x[a] + (1.0 - lam) * x[b]
