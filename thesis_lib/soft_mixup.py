"""Soft mixup (thesis Chapter 5, appendix C): per-batch mixing policies and the losses that go with them.

Each policy is a ``batch_hook`` for :func:`thesis_lib.train.train` and each loss a ``loss_fn``:

* **mixup** (Zhang et al.): one lambda_f ~ Beta(alpha, alpha) per batch, x~ = lambda_f x_i + (1 - lambda_f) x_j
  with j a random permutation of the batch, y~ = lambda_g y_i + (1 - lambda_g) y_j with lambda_g = lambda_f, trained
  with soft cross-entropy. The endpoints y may be hard or soft (section 5.2.3).
* **Mix-MaxEnt** (Pinto et al. 2021): cross-entropy on the clean batch plus entropy *maximisation* on its mixed
  copy (alpha = 10 keeps lambda near 0.5). The loss is CE(clean) - ``maxent_weight`` * H(mixed); the weight is 1
  unless set (the thesis does not give one).
* **Ent-WC** (section 5.2.2): mixup whose per-example CE is weighted by log(2) / H_theta(x~), capped at 1 and
  floored at kappa (0.7). The weight is computed without gradient: it scales each example's loss, it is not
  itself optimised.
* **tau mixing** (appendix C): lambda_g = tau_ij(lambda_f), a logistic per class pair fitted to the H-Mix
  inferences with ``scipy.optimize.curve_fit``; :func:`generic_logistic` is the baseline not fitted to people.

A hook may return targets of any form its loss understands (Mix-MaxEnt returns ``(targets, n_clean)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from thesis_lib import NUM_CLASSES
from thesis_lib.metrics import soft_cross_entropy

LOG2 = math.log(2.0)


def sample_lambda(alpha: float, generator: torch.Generator) -> float:
    """lambda ~ Beta(alpha, alpha), drawn reproducibly from the training loop's generator."""
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device).item())
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def _permutation(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randperm(n, generator=generator, device=generator.device)


LambdaG = Callable[[float, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class MixupHook:
    """Per-batch mixing. ``lambda_g(lambda_f, class_i, class_j)`` maps the generating coefficient to per-example
    label coefficients (default: lambda_g = lambda_f); the classes are the argmax of the endpoint targets."""

    alpha: float
    lambda_g: LambdaG | None = None

    def __call__(self, x, y, generator):
        lam = sample_lambda(self.alpha, generator)
        perm = _permutation(len(x), generator)
        x_mix = lam * x + (1.0 - lam) * x[perm]
        if self.lambda_g is None:
            lg = torch.full((len(x), 1), lam, device=x.device)
        else:
            lg = self.lambda_g(lam, y.argmax(1), y[perm].argmax(1)).reshape(-1, 1).to(y.dtype)
        return x_mix, lg * y + (1.0 - lg) * y[perm]


@dataclass
class MixMaxEntHook:
    """The clean batch followed by its mixed copy; targets ``(clean targets, number of clean examples)``."""

    alpha: float = 10.0

    def __call__(self, x, y, generator):
        lam = sample_lambda(self.alpha, generator)
        perm = _permutation(len(x), generator)
        return torch.cat([x, lam * x + (1.0 - lam) * x[perm]]), (y, len(x))


def prediction_entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = F.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(1)


def mix_maxent_loss(maxent_weight: float = 1.0):
    def loss(logits, target):
        y, n = target
        return soft_cross_entropy(logits[:n], y) - maxent_weight * prediction_entropy(logits[n:]).mean()

    return loss


def ent_wc_weights(logits: torch.Tensor, kappa: float) -> torch.Tensor:
    """log(2) / H_theta(x~), capped at 1 and floored at kappa, without gradient. Over K classes H <= log K, so the
    weight never falls below log 2 / log K (0.301 for CIFAR-10): a floor kappa below that never binds."""
    with torch.no_grad():
        h = prediction_entropy(logits).clamp_min(1e-12)
        return (LOG2 / h).clamp(min=kappa, max=1.0)


def ent_wc_loss(kappa: float = 0.7):
    if not 0.0 <= kappa <= 1.0:
        raise ValueError(f"kappa must lie in [0, 1], got {kappa}")

    def loss(logits, y):
        return (ent_wc_weights(logits, kappa) * soft_cross_entropy(logits, y, reduction="none")).mean()

    return loss


# --------------------------------------------------------------------------------------------------------------
# Appendix C: tau_ij, a logistic per class pair fitted to human inferences
# --------------------------------------------------------------------------------------------------------------


def logistic(lam, k, m):
    """1 / (1 + exp(-k (lambda - m))): slope k, midpoint m."""
    return 1.0 / (1.0 + np.exp(-k * (np.asarray(lam, dtype=np.float64) - m)))


def fit_tau(inferences) -> dict[tuple[int, int], tuple[float, float]]:
    """``{(a, b): (k, m)}`` for every class pair a < b: tau_ab(lambda) is the human-inferred weight of class a's
    image when it was mixed with weight lambda, fitted by least squares (``scipy.optimize.curve_fit``) to every
    judgement of the pair. Stimuli listing b first are turned around (1 - lambda)."""
    from scipy.optimize import curve_fit

    fits = {}
    df = inferences
    a, b = df.class_a.to_numpy(), df.class_b.to_numpy()
    flip = a > b
    lam_f = np.where(flip, 1.0 - df.lambda_f, df.lambda_f)
    lam_h = np.where(flip, 1.0 - df.lambda_h, df.lambda_h)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    for pair in sorted(set(zip(lo, hi))):
        sel = (lo == pair[0]) & (hi == pair[1])
        (k, m), _ = curve_fit(logistic, lam_f[sel], lam_h[sel], p0=(6.0, 0.5), bounds=([0.0, -1.0], [100.0, 2.0]),
                              maxfev=10000)
        fits[(int(pair[0]), int(pair[1]))] = (float(k), float(m))
    return fits


def tau_lambda_g(fits: dict[tuple[int, int], tuple[float, float]]) -> LambdaG:
    """A ``lambda_g`` for :class:`MixupHook` applying tau_ij per example (identity for same-class pairs)."""
    k = np.full((NUM_CLASSES, NUM_CLASSES), np.nan)
    m = np.full((NUM_CLASSES, NUM_CLASSES), np.nan)
    for (a, b), (ka, ma) in fits.items():
        k[a, b], m[a, b] = ka, ma
    k_t, m_t = torch.tensor(k), torch.tensor(m)

    def lambda_g(lam: float, ci: torch.Tensor, cj: torch.Tensor) -> torch.Tensor:
        ci_c, cj_c = ci.cpu(), cj.cpu()
        lo, hi = torch.minimum(ci_c, cj_c), torch.maximum(ci_c, cj_c)
        kk, mm = k_t[lo, hi], m_t[lo, hi]
        forward = ci_c <= cj_c          # lambda is the weight of the lower class index
        x = torch.where(forward, torch.full_like(kk, lam), torch.full_like(kk, 1.0 - lam))
        t = 1.0 / (1.0 + torch.exp(-kk * (x - mm)))
        out = torch.where(forward, t, 1.0 - t)
        out = torch.where(ci_c == cj_c, torch.full_like(out, lam), out)
        return out.float().to(ci.device)

    return lambda_g


def generic_logistic(k: float = 10.0, m: float = 0.5) -> LambdaG:
    """The baseline appendix C asks for: the same logistic form for every pair, not fitted to human data."""

    def lambda_g(lam: float, ci: torch.Tensor, cj: torch.Tensor) -> torch.Tensor:
        return torch.full(ci.shape, float(logistic(lam, k, m)), device=ci.device)

    return lambda_g
