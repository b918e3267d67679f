"""GloVe vectors (Pennington et al. 2014, glove.6B 50-d) of the 10 class names, as gensim ``KeyedVectors``.

Used for semantic redistribution (appendix B.4) and to rank alternatives in the simulator (appendix B.5).
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from thesis_lib import CLASSES
from thesis_lib.data import registry
from thesis_lib.data.registry import DataError


@lru_cache(maxsize=2)
def _matrix(path: str) -> np.ndarray:
    data = json.loads(open(path).read())
    missing = [c for c in CLASSES if c not in data]
    if missing:
        raise DataError(f"{path}: no vectors for {missing}. Fix: replace it with the mirror's file.")
    matrix = np.asarray([data[c] for c in CLASSES], dtype=np.float32)
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise DataError(f"{path}: vectors malformed. Fix: replace it with the mirror's file.")
    return matrix


@lru_cache(maxsize=2)
def _load(path: str):
    from gensim.models import KeyedVectors  # lazy: gensim is slow to import and only the class similarity needs it

    matrix = _matrix(path)
    kv = KeyedVectors(vector_size=matrix.shape[1])
    kv.add_vectors(list(CLASSES), matrix)
    return kv


def load_glove():
    """gensim ``KeyedVectors`` holding the 50-d vectors of the lower-case class names."""
    return _load(str(registry.locate("glove/cifar10_class_glove.json")))


def class_similarity() -> np.ndarray:
    """(10, 10) cosine similarity between class-name vectors (diagonal 1): gensim's ``KeyedVectors.similarity``
    computed with numpy, so training (e.g. on a lent GPU machine, which carries no gensim) needs no gensim."""
    m = _matrix(str(registry.locate("glove/cifar10_class_glove.json"))).astype(np.float64)
    unit = m / np.linalg.norm(m, axis=1, keepdims=True)
    return unit @ unit.T
