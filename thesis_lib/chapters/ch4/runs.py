"""What a Chapter 4 run trains and evaluates on (section 4.3).

Training: the 7,000 images of the Uma et al. split with their CIFAR-10 hard labels, plus (except for ``no_aug``)
the 810 first-collection H-Mix stimuli rebuilt in pixel space as a finite augmenting set, labelled by the
run's policy. Evaluation: the 3,000 held-out images against CIFAR-10H.

Label methods for the augmenting set: ``uniform``, ``random``, ``mixup`` (lambda_f), ``agg`` (mean lambda_h),
``sep`` (one annotator's lambda_h^m per image per batch), and ``agg_conf`` / ``sep_conf`` (the same with
confidence smoothing gamma ** omega, gamma from the spec's ``extra`` ``confidence_gamma``, default the thesis's,
``HYP["confidence_gamma"]``).
"""

from __future__ import annotations

import numpy as np

from thesis_lib import data
from thesis_lib.chapters.common import eval_subset
from thesis_lib.core.catalogue import HYP
from thesis_lib.labels import hard_labels, pad_pool, random_labels, uniform_labels
from thesis_lib.labels.mixup import confidence_smoothing, two_hot
from thesis_lib.runs.run_data import RunData
from thesis_lib.runs.spec import RunSpec
from thesis_lib.training.loop import Targets

LABEL_METHODS = ("no_aug", "uniform", "random", "mixup", "agg", "sep", "agg_conf", "sep_conf")


def check_label_method(method: str) -> str:
    if method not in LABEL_METHODS:
        raise ValueError(f"unknown Chapter 4 label method {method!r}; expected one of {', '.join(LABEL_METHODS)}")
    return method


def augmenting_labels(method: str, seed: int, gamma: float = HYP["confidence_gamma"]):
    """Labels of the 810 stimuli (in :func:`thesis_lib.data.load_first_collection` order): an (810, 10) array,
    or for the Sep methods a ``{stimulus index: (M, 10)}`` pool of per-annotator labels."""
    stimuli = data.load_first_collection()
    a = np.array([s.class_a for s in stimuli])
    b = np.array([s.class_b for s in stimuli])
    if method == "uniform":
        return uniform_labels(len(stimuli))
    if method == "random":
        return random_labels(len(stimuli), seed)
    if method == "mixup":
        return two_hot([s.lambda_f for s in stimuli], a, b)
    inf = data.load_hmix_inferences()
    by = {name: g for name, g in inf.groupby("stimulus")}
    if method in ("agg", "agg_conf"):
        lam = np.array([by[s.name].lambda_h.mean() for s in stimuli])
        labels = two_hot(lam, a, b)
        if method == "agg_conf":
            labels = confidence_smoothing(labels, [by[s.name].omega.mean() for s in stimuli], gamma)
        return labels
    if method in ("sep", "sep_conf"):
        pool = {}
        for i, s in enumerate(stimuli):
            g = by[s.name]
            labels = two_hot(g.lambda_h.to_numpy(), s.class_a, s.class_b)
            if method == "sep_conf":
                labels = confidence_smoothing(labels, g.omega.to_numpy(), gamma)
            pool[i] = labels
        return pool
    check_label_method(method)  # an unknown name is named as such; a known one here is "no_aug"
    raise ValueError(f"{method!r} trains without an augmenting set, so it has no augmenting labels")


def run_data(spec: RunSpec) -> RunData:
    # the label method was checked by the spec, and its rules are the default (Chapter 4's labels come from
    # lambda_h, not soft-label elicitations; thesis_lib.runs.spec.check_spec)
    cifar10 = data.load_cifar10_test()
    split = data.load_uma_split()
    rng = np.random.default_rng(spec.seed)
    train_idx = split.train
    if spec.train_subset is not None and spec.train_subset < len(train_idx):
        train_idx = np.sort(rng.choice(train_idx, size=spec.train_subset, replace=False))
    base = Targets(fixed=hard_labels(cifar10.labels[train_idx]))
    test = split.test
    test = eval_subset(test, spec)
    evals = {"cifar10h": (test, data.load_cifar10h_probs()[test])}
    if spec.label_method == "no_aug":
        return RunData(train_idx, base, evals, images=cifar10.images[train_idx])
    gamma = float(dict(spec.extra).get("confidence_gamma", HYP["confidence_gamma"]))
    labels = augmenting_labels(spec.label_method, spec.seed, gamma)
    if isinstance(labels, dict):
        pool, counts = pad_pool(labels, range(len(labels)))
        extra = Targets(pool=pool, counts=counts)
    else:
        extra = Targets(fixed=labels)
    mixed = data.mix_images(cifar10.images, data.load_first_collection())
    images = np.concatenate([cifar10.images[train_idx].astype(np.float32), mixed])
    return RunData(train_idx, base.concat(extra), evals, images=images)
