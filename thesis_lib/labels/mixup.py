"""Label policies g for mixed images (thesis section 4.1.2 and 4.3): y~ = lambda_g y_i + (1 - lambda_g) y_j.

For the finite augmenting set of Chapter 4 the endpoints are the CIFAR-10 hard labels of the two images and
lambda_g is one of: the generating coefficient lambda_f (mixup), the mean human inference lambda_bar_h (Agg), or
one annotator's lambda_h^m drawn per batch (Sep). Confidence smoothing (section 4.3.4) blends a label toward
uniform by s = gamma ** omega: no confidence (omega = 0) gives the uniform label, full confidence keeps the
two-hot label but for a sliver gamma (0.005 in the thesis).
"""

from __future__ import annotations

import numpy as np

from thesis_lib import NUM_CLASSES
from thesis_lib.core.catalogue import HYP

CONFIDENCE_GAMMA = HYP["confidence_gamma"]   # the thesis's (section 4.3.3), declared in the catalogue


def two_hot(lam, class_a, class_b) -> np.ndarray:
    """lam * e_a + (1 - lam) * e_b, row-wise for arrays of coefficients and classes."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    a = np.broadcast_to(np.asarray(class_a), lam.shape)
    b = np.broadcast_to(np.asarray(class_b), lam.shape)
    out = np.zeros(lam.shape + (NUM_CLASSES,))
    rows = np.arange(lam.size)
    flat = out.reshape(-1, NUM_CLASSES)
    np.add.at(flat, (rows, a.ravel()), lam.ravel())
    np.add.at(flat, (rows, b.ravel()), 1.0 - lam.ravel())
    return out


def confidence_smoothing(labels: np.ndarray, omega, gamma: float = CONFIDENCE_GAMMA) -> np.ndarray:
    """(1 - s) * label + s * uniform with s = gamma ** omega (omega in [0, 1], row-wise)."""
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma must lie in (0, 1), got {gamma}")
    omega = np.asarray(omega, dtype=np.float64)
    if omega.min() < 0 or omega.max() > 1:
        raise ValueError("confidence omega must lie in [0, 1]")
    s = (gamma ** omega)[..., None]
    return (1.0 - s) * labels + s / NUM_CLASSES
