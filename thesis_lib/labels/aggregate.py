"""From many annotators' labels to training targets (section 3.3): aggregation Psi, de-aggregated pools,
subsampling M annotators, and the CIFAR-10H equivalent where every vote is one annotator's hard label."""

from __future__ import annotations

import numpy as np

from thesis_lib import NUM_CLASSES


def psi(labels: np.ndarray) -> np.ndarray:
    """Aggregation Psi: the mean over annotators of an (M, 10) array (section 3.3.2)."""
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[0] == 0:
        raise ValueError(f"expected an (M, {NUM_CLASSES}) array with M >= 1, got shape {labels.shape}")
    return labels.mean(axis=0)


def aggregate(per_image: dict) -> dict:
    """Psi applied to every image of a ``{key: (M, 10)}`` mapping."""
    return {k: psi(v) for k, v in per_image.items()}


def subsample_annotators(per_image: dict, m: int, seed: int) -> dict:
    """Keep ``m`` annotators per image, drawn without replacement with ``numpy.random.default_rng(seed)``.

    Images are visited in sorted key order so the draw depends only on the seed and the data.
    """
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    rng = np.random.default_rng(seed)
    out = {}
    for key in sorted(per_image):
        labels = np.asarray(per_image[key])
        if len(labels) < m:
            raise ValueError(f"image {key} has {len(labels)} annotators, fewer than the m={m} requested")
        out[key] = labels[np.sort(rng.choice(len(labels), size=m, replace=False))]
    return out


def cifar10h_annotator_labels(counts: np.ndarray, indices, m: int | None = None, seed: int = 0) -> dict:
    """CIFAR-10H as per-annotator labels: ``{index: (M, 10)}`` one-hot votes.

    ``m=None`` keeps every vote (M about 51); otherwise ``m`` votes are drawn without replacement from the
    image's counts with ``numpy.random.default_rng(seed)``, visiting ``indices`` in sorted order.
    """
    rng = np.random.default_rng(seed)
    eye = np.eye(NUM_CLASSES)
    out = {}
    for idx in sorted(int(i) for i in indices):
        votes = np.repeat(np.arange(NUM_CLASSES), np.asarray(counts[idx], dtype=np.int64))
        if m is not None:
            if m < 1 or m > len(votes):
                raise ValueError(f"image {idx} has {len(votes)} CIFAR-10H votes; cannot draw m={m}")
            votes = np.sort(rng.choice(votes, size=m, replace=False))
        out[idx] = eye[votes]
    return out


def pad_pool(per_image: dict, keys) -> tuple[np.ndarray, np.ndarray]:
    """A de-aggregated pool as arrays: ``(len(keys), M_max, 10)`` labels (zero-padded) and ``(len(keys),)``
    annotator counts, so a training loop can draw one annotator per image per batch without Python loops."""
    keys = list(keys)
    counts = np.array([len(per_image[k]) for k in keys], dtype=np.int64)
    pool = np.zeros((len(keys), int(counts.max()), NUM_CLASSES), dtype=np.float32)
    for i, k in enumerate(keys):
        pool[i, : counts[i]] = per_image[k]
    return pool, counts


def draw_from_pool(pool: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One annotator's label per image, uniformly among that image's annotators (a de-aggregated target)."""
    pick = (rng.random(len(counts)) * counts).astype(np.int64)
    return pool[np.arange(len(counts)), pick]
