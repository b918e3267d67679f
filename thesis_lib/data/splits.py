"""The data splits of section 3.3: Uma et al.'s 70/30 split of the CIFAR-10 test set and the per-seed
hold-out of 100 CIFAR-10S images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thesis_lib.data import registry
from thesis_lib.data.registry import DataError

HOLDOUT_SIZE = 100


@dataclass(frozen=True)
class UmaSplit:
    train: np.ndarray   # 7,000 test-set indices
    test: np.ndarray    # 3,000 test-set indices: the CIFAR-10H evaluation set


def load_uma_split() -> UmaSplit:
    train = np.load(registry.locate("cifar10s/train_indices.npy")).astype(np.int64)
    test = np.load(registry.locate("cifar10s/test_indices.npy")).astype(np.int64)
    if len(train) != 7000 or len(test) != 3000 or len(np.union1d(train, test)) != 10000:
        raise DataError("train_indices.npy / test_indices.npy do not partition the 10,000 test images 7,000/3,000. "
                        "Fix: restore both from the CIFAR-10S repository (other_data/).")
    return UmaSplit(train, test)


def cifar10s_holdout(cifar10s_indices, seed: int, size: int = HOLDOUT_SIZE) -> np.ndarray:
    """The ``size`` CIFAR-10S images held out for evaluation, re-sampled per seed (section 3.3.1).

    Drawn without replacement from the sorted CIFAR-10S indices with ``numpy.random.default_rng(seed)``, so
    a seed fixes the hold-out independently of dictionary order.
    """
    pool = np.sort(np.asarray(list(cifar10s_indices), dtype=np.int64))
    if size > len(pool):
        raise ValueError(f"hold-out of {size} from only {len(pool)} images")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(pool, size=size, replace=False))
