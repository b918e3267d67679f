"""What a Chapter 3 run trains and evaluates on (section 3.3).

Training: the 7,000-image Uma et al. split minus the 100 CIFAR-10S images held out for this seed. The other
900 CIFAR-10S images carry the label method's labels, the remaining 6,000 their CIFAR-10 hard labels. With
``n_soft`` (Fig. 3.6) training uses only N' of the 900 soft-labelled images.

Label methods: ``hard``, ``random``, ``uniform``, ``label_smoothing`` (beta), ``cifar10h`` (votes of CIFAR-10H
annotators) and the CIFAR-10S varieties (``T2Clamp``, ``T1Uniform``, ...). Human label sets are aggregated by
Psi unless ``deaggregate``; ``annotators`` keeps M annotators per image (drawn with the run's seed). The thesis
trains on "M = 6" of our annotators per image (Tables 3.1-3.4, B.1-B.3; the images have 6-11 each), so the
Chapter 3 grid (:mod:`thesis_lib.chapters.ch3.grid`) sets ``annotators`` (``HYP["annotators"]``) in every CIFAR-10S
spec that does not choose its own M, and the run record's spec shows it; ``annotators=None`` (the command line's
default) keeps every annotator.

Evaluation: the 3,000 held-out images against CIFAR-10H, and the 100 held-out CIFAR-10S images against their
T2 Clamp labels (gamma = 0.1, whatever gamma the run trains with) aggregated over 6 annotators per image drawn
with the run's seed (``subsample_annotators(..., 6, seed)``), as the thesis's evaluation code does
(``run_eval.py``: ``num_annotators_sample = 6``).

``spec.rules`` picks the label rule set (``"thesis"`` or ``"release"``, :mod:`thesis_lib.labels.varieties`) for
the CIFAR-10S training labels and the CIFAR-10S evaluation labels alike.

Validation runs (``validation=True``, for choosing gamma, beta and learning rates as section 3.3 does) hold out
``VALIDATION_SIZE`` of the hard-labelled training images instead and are evaluated on them only, against their
CIFAR-10H labels, so no choice ever sees the test images.
"""

from __future__ import annotations

import numpy as np

from thesis_lib import data
from thesis_lib.labels import (VARIETIES, aggregate, annotator_labels,
                               cifar10h_annotator_labels, hard_labels, label_smoothing, pad_pool, random_labels,
                               subsample_annotators, uniform_labels)
from thesis_lib.chapters.common import eval_subset, validation_draw
from thesis_lib.core.catalogue import HYP
from thesis_lib.runs.run_data import RunData
from thesis_lib.runs.spec import RunSpec
from thesis_lib.training.loop import Targets

#: M, our annotators per image wherever the thesis says "M = 6" (training specs of the grid, the evaluation label).
CIFAR10S_ANNOTATORS = HYP["annotators"]
LABEL_METHODS = ("hard", "random", "uniform", "label_smoothing", "cifar10h") + VARIETIES
HUMAN_METHODS = ("cifar10h",) + VARIETIES


def check_label_method(method: str) -> str:
    if method not in LABEL_METHODS:
        raise ValueError(f"unknown label method {method!r}; expected one of {', '.join(LABEL_METHODS)}")
    return method


def _human_labels(spec: RunSpec, soft_idx: np.ndarray) -> dict:
    if spec.label_method == "cifar10h":
        return cifar10h_annotator_labels(data.load_cifar10h_counts(), soft_idx, m=spec.annotators, seed=spec.seed)
    c10s = data.load_cifar10s()
    per = annotator_labels({int(i): c10s.elicitations[int(i)] for i in soft_idx}, spec.label_method, spec.gamma,
                           rules=spec.rules)
    return subsample_annotators(per, spec.annotators, spec.seed) if spec.annotators else per


def run_data(spec: RunSpec) -> RunData:
    # the label method and rules were checked by the spec (thesis_lib.runs.spec.check_spec)
    if spec.deaggregate and spec.label_method not in HUMAN_METHODS:
        raise ValueError(f"deaggregate needs a human label set ({', '.join(HUMAN_METHODS)}), not {spec.label_method!r}")
    hard = data.load_cifar10_test().labels
    split = data.load_uma_split()
    c10s = data.load_cifar10s()
    holdout = data.cifar10s_holdout(c10s.indices, spec.seed)
    soft_idx = np.setdiff1d(c10s.indices, holdout)
    train_idx = np.setdiff1d(split.train, holdout)
    rng = np.random.default_rng(spec.seed)
    validation = None
    if spec.validation:
        hard_only = np.setdiff1d(train_idx, soft_idx)
        validation = validation_draw(hard_only, spec.seed)
        train_idx = np.setdiff1d(train_idx, validation)
    if spec.n_soft is not None:
        if not 0 < spec.n_soft <= len(soft_idx):
            raise ValueError(f"n_soft must lie in 1..{len(soft_idx)}, got {spec.n_soft}")
        soft_idx = np.sort(rng.choice(soft_idx, size=spec.n_soft, replace=False))
        train_idx = soft_idx
    if spec.train_subset is not None and spec.train_subset < len(train_idx):
        train_idx = np.sort(rng.choice(train_idx, size=spec.train_subset, replace=False))
        soft_idx = np.intersect1d(soft_idx, train_idx)

    method = spec.label_method
    fixed = hard_labels(hard[train_idx])
    pos = {int(i): k for k, i in enumerate(train_idx)}
    rows = np.array([pos[int(i)] for i in soft_idx], dtype=np.int64)
    if method == "random":
        fixed[rows] = random_labels(len(rows), spec.seed)
    elif method == "uniform":
        fixed[rows] = uniform_labels(len(rows))
    elif method == "label_smoothing":
        fixed[rows] = label_smoothing(hard[soft_idx], spec.beta)
    elif method in HUMAN_METHODS:
        per = _human_labels(spec, soft_idx)
        if spec.deaggregate:
            per_all = {int(i): fixed[k][None] for k, i in enumerate(train_idx)}
            per_all.update(per)
            pool, counts = pad_pool(per_all, [int(i) for i in train_idx])
            return RunData(train_idx, Targets(pool=pool, counts=counts), eval_sets(spec, holdout, validation))
        agg = aggregate(per)
        fixed[rows] = np.stack([agg[int(i)] for i in soft_idx]) if len(rows) else fixed[rows]
    return RunData(train_idx, Targets(fixed=fixed), eval_sets(spec, holdout, validation))


def eval_sets(spec: RunSpec, holdout: np.ndarray, validation=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if validation is not None:
        return {"validation": (validation, data.load_cifar10h_probs()[validation])}
    split = data.load_uma_split()
    test = split.test
    test = eval_subset(test, spec)
    c10s = data.load_cifar10s()
    per = annotator_labels({int(i): c10s.elicitations[int(i)] for i in holdout}, "T2Clamp", HYP["gamma"],
                           rules=spec.rules)
    t2 = aggregate(subsample_annotators(per, CIFAR10S_ANNOTATORS, spec.seed))
    return {"cifar10h": (test, data.load_cifar10h_probs()[test]),
            "cifar10s": (holdout, np.stack([t2[int(i)] for i in holdout]))}
