"""CIFAR-10S (Collins, Bhatt and Weller 2022): soft-label elicitations from every annotator over 1,000
CIFAR-10 test images, with the raw trial records that give annotation times.

The labels come from the published ``human_soft_labels_data.json`` (the data the thesis trained on), parsed
and validated by :mod:`thesis_lib.data.elicitation`. The raw ``raw_human_data.csv`` gives, per trial, the
anonymised subject, the image and the response time; it is cross-checked to hold exactly as many trials per
image as the JSON holds elicitations. Both include the two repeated attention-check trials per batch
(``rerun_spec_conf``), as the published labels do.

Exclusions: ``exclusion_criteria_prolific_ids.json`` lists the Prolific IDs the study excluded. The released
records carry anonymised subject codes, so the exclusion is applied by searching every raw record for those IDs
and dropping any subject whose records mention one; :attr:`CIFAR10S.excluded_subjects` reports what was found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from thesis_lib.data import registry
from thesis_lib.data.elicitation import Elicitation, ElicitationReport, from_record, parse_all
from thesis_lib.data.registry import DataError

ELICITATION_TRIAL = "survey-html-form"


@dataclass(frozen=True)
class CIFAR10S:
    elicitations: dict[int, list[Elicitation]]   # test-set index -> one cleaned elicitation per annotation
    report: ElicitationReport                    # rows rejected / fixed, by kind
    trials: pd.DataFrame                         # one row per elicitation trial: subject, img_id, rt_s, task
    excluded_ids: tuple[str, ...]                # Prolific IDs the study excluded
    excluded_subjects: tuple[str, ...]           # raw subject codes found to belong to them (dropped)

    @property
    def indices(self) -> np.ndarray:
        return np.array(sorted(self.elicitations), dtype=np.int64)

    @property
    def n_annotators(self) -> int:
        return int(self.trials["subject"].nunique())


def _read_json(path) -> object:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err}). Fix: replace it with the published file.") from err


def load_trials(excluded_ids=()) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Elicitation trials of ``raw_human_data.csv`` (subject, img_id, rt_s, task, condition), exclusions applied."""
    path = registry.locate("cifar10s/raw_human_data.csv")
    raw = pd.read_csv(path, low_memory=False)
    missing = {"subject", "trial_type", "rt", "img_id", "task", "response"} - set(raw.columns)
    if missing:
        raise DataError(f"{path} lacks columns {sorted(missing)}. Fix: replace it with the published file.")
    text = raw.astype(str)
    hits = set()
    for pid in excluded_ids:
        mentions = text.apply(lambda col: col.str.contains(pid, regex=False)).any(axis=1)
        hits |= set(raw.loc[mentions, "subject"])
    trials = raw[(raw.trial_type == ELICITATION_TRIAL) & ~raw.subject.isin(hits)].copy()
    if trials.img_id.isna().any() or trials.rt.isna().any():
        raise DataError(f"{path}: elicitation trials without an image id or response time. Fix: replace the file.")
    img_id = pd.to_numeric(trials.img_id, errors="coerce")
    rt = pd.to_numeric(trials.rt, errors="coerce")
    for column, values, ok in (("img_id", trials.img_id, img_id.notna() & (img_id % 1 == 0) & (img_id >= 0)),
                               ("rt", trials.rt, rt.notna() & np.isfinite(rt) & (rt >= 0))):
        if not ok.all():
            bad = values[~ok]
            rows = ", ".join(f"data row {i + 1}: {v!r}" for i, v in list(bad.items())[:3])
            want = "a test-set index (integer >= 0)" if column == "img_id" else "a response time in ms (number >= 0)"
            raise DataError(f"{path}: {len(bad)} elicitation trial(s) whose {column} is not {want} ({rows}). "
                            f"Fix: replace it with the published file.")
    trials = pd.DataFrame({
        "subject": trials.subject.astype(str),
        "img_id": img_id.astype(np.int64),
        "rt_s": rt.astype(float) / 1000.0,
        "task": trials.task.astype(str),
        "condition": trials.condition,
    }).reset_index(drop=True)
    return trials, tuple(sorted(hits))


@lru_cache(maxsize=2)
def _load(source: tuple[str, str]) -> CIFAR10S:
    data_path = registry.locate("cifar10s/human_soft_labels_data.json")
    data = _read_json(data_path)
    if not isinstance(data, dict) or not data:
        raise DataError(f"{data_path}: expected a mapping of test-set index to annotator records.")
    try:
        rows = [(int(idx), rec) for idx, recs in data.items() for rec in recs]
    except (TypeError, ValueError) as err:
        raise DataError(f"{data_path}: keys must be test-set indices and values lists of records ({err}).") from err
    elicitations, report = parse_all(rows, from_record)
    excluded = tuple(_read_json(registry.locate("cifar10s/exclusion_criteria_prolific_ids.json")))
    trials, excluded_subjects = load_trials(excluded)
    if excluded_subjects:
        raise DataError(
            f"raw_human_data.csv mentions excluded participants {excluded_subjects}, but the published labels do "
            "not say which annotations are theirs, so they cannot be removed from the labels. Fix: use a release "
            "of human_soft_labels_data.json with the exclusions applied.")
    per_image = trials.groupby("img_id").size()
    published = {idx: len(recs) for idx, recs in data.items()}
    mismatched = [i for i, n in published.items() if per_image.get(int(i), 0) != n]
    if mismatched:
        raise DataError(f"raw_human_data.csv and human_soft_labels_data.json disagree on the number of trials for "
                        f"{len(mismatched)} images (e.g. {mismatched[:3]}). Fix: use the two files of one release.")
    return CIFAR10S(dict(sorted(elicitations.items())), report, trials, excluded, excluded_subjects)


def load_cifar10s() -> CIFAR10S:
    """The validated CIFAR-10S elicitations, annotation times and the parsing report."""
    return _load(registry.active_source())
