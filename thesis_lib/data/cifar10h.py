"""CIFAR-10H (Peterson et al. 2019): about 51 human hard labels for each CIFAR-10 test image."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from thesis_lib.data import registry
from thesis_lib.data.registry import DataError


@lru_cache(maxsize=2)
def _counts(path: str) -> np.ndarray:
    counts = np.load(path)
    if counts.shape != (10000, 10) or not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0:
        raise DataError(f"{path}: expected (10000, 10) non-negative integer vote counts, got {counts.shape} "
                        f"{counts.dtype}. Fix: replace it with the published cifar10h-counts.npy.")
    if (counts.sum(1) == 0).any():
        raise DataError(f"{path}: some images have no votes. Fix: replace it with the published file.")
    counts.setflags(write=False)
    return counts


def load_cifar10h_counts() -> np.ndarray:
    """(10000, 10) int vote counts; each vote is one annotator's hard label."""
    return _counts(str(registry.locate("cifar10h/cifar10h-counts.npy")))


def load_cifar10h_probs() -> np.ndarray:
    """(10000, 10) float label distributions, checked to equal the normalised counts."""
    path = registry.locate("cifar10h/cifar10h-probs.npy")
    probs = np.load(path)
    counts = load_cifar10h_counts()
    if probs.shape != (10000, 10) or not np.allclose(probs, counts / counts.sum(1, keepdims=True), atol=1e-6):
        raise DataError(f"{path}: probabilities do not match the normalised counts. Fix: restore both files.")
    return probs


def entropy(probs: np.ndarray) -> np.ndarray:
    """Label entropy in nats, H(y) = -sum_k p_k log p_k (thesis section 3.2.1), row-wise."""
    p = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)
