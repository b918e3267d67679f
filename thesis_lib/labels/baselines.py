"""Label baselines of section 3.3 and appendix B.2: hard, random, uniform and label smoothing (beta)."""

from __future__ import annotations

import numpy as np

from thesis_lib import NUM_CLASSES


def hard_labels(classes) -> np.ndarray:
    """One-hot (N, 10) labels of integer classes."""
    classes = np.asarray(classes, dtype=np.int64)
    if classes.size and (classes.min() < 0 or classes.max() >= NUM_CLASSES):
        raise ValueError("class index out of range")
    return np.eye(NUM_CLASSES)[classes]


def uniform_labels(n: int) -> np.ndarray:
    return np.full((n, NUM_CLASSES), 1.0 / NUM_CLASSES)


def random_labels(n: int, seed: int) -> np.ndarray:
    """Random soft labels: i.i.d. U(0, 1) entries normalised per row, as in the CIFAR-10S training code."""
    x = np.random.default_rng(seed).random((n, NUM_CLASSES))
    return x / x.sum(axis=1, keepdims=True)


def label_smoothing(classes, beta: float) -> np.ndarray:
    """y_LS = y_hard (1 - beta) + beta / K (appendix B.2).

    Note: the thesis-era training code (cambridge-mlg/cifar-10s ``computational_experiments/data.py`` at 8375c49)
    added beta to every entry unnormalised, fixed later in that repository; we follow the thesis's formula, so Table
    B.1's printed LS row may reflect stronger effective smoothing than beta / K (fidelity audit, item 14)."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta}")
    return hard_labels(classes) * (1.0 - beta) + beta / NUM_CLASSES
