"""Soft mixup (thesis Chapter 5, appendix C): per-batch mixing policies and the losses that go with them.

Each policy is a ``batch_hook`` for :func:`thesis_lib.training.loop.train` and each loss a ``loss_fn``:

* **mixup** (Zhang et al.): one lambda_f ~ Beta(alpha, alpha) per batch, x~ = lambda_f x_i + (1 - lambda_f) x_j
  with j a random permutation of the batch, y~ = lambda_g y_i + (1 - lambda_g) y_j with lambda_g = lambda_f, trained
  with soft cross-entropy. The endpoints y may be hard or soft (section 5.2.3).
* **Mix-MaxEnt** (Pinto et al. 2021): cross-entropy on the clean batch plus entropy *maximisation* on mixes of
  *different-class* pairs, as in the paper (each example is mixed with a partner drawn at random among the batch's
  examples of another class; alpha = 10 keeps lambda near 0.5). The loss is CE(clean) - ``maxent_weight`` *
  H(mixed); the weight is 1 unless set (the thesis does not give one).
* **Ent-WC** (section 5.2.2): mixup whose per-example CE is weighted by w = log(2) / H_theta(x~), capped at 1 and
  floored at kappa (0.7). The weight is part of the objective: its gradient flows through the predictive entropy
  H_theta, so where neither bound binds the loss also rewards raising H_theta. That is what lets a low floor
  (kappa = 0) "lead the model to predict uniform labels" as the thesis reports; with a detached weight (kept as
  the named alternative ``ent_wc_loss(kappa, detach=True)``, algorithm ``ent_wc_detached`` of
  :mod:`thesis_lib.chapters.ch5.runs`) the weight only rescales each example's CE and no floor could have that effect.
* **tau mixing** (appendix C): lambda_g = tau_ij(lambda_f), a logistic per class pair fitted to the H-Mix
  inferences with ``scipy.optimize.curve_fit``; :func:`generic_logistic` is the baseline not fitted to people.

No hook synchronises the host with the device inside a training step: lambda ~ Beta(alpha, alpha) comes from the
hook's own numpy Generator (seeded from the run's seed when the hook is built, :func:`hook_rng`), and the
permutations, partners and tau tables live on the batch's device. A hook keeps the signature
``hook(x, y, generator)`` of :func:`thesis_lib.training.loop.train`; ``generator`` (the training loop's, on the device)
draws the permutation / partners.

A hook may return targets of any form its loss understands (Mix-MaxEnt returns ``(targets, n_clean)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import curve_fit

from thesis_lib import NUM_CLASSES
from thesis_lib.core.catalogue import HYP
from thesis_lib.training.metrics import soft_cross_entropy

LOG2 = math.log(2.0)


#: A second seed word for the hooks' lambda stream, so that it differs from ``default_rng(seed)`` streams elsewhere.
_LAMBDA_STREAM = 5


def hook_rng(seed: int) -> np.random.Generator:
    """The host Generator a hook draws its lambdas from: ``default_rng([seed, 5])`` for the run's ``seed``."""
    return np.random.default_rng([int(seed), _LAMBDA_STREAM])


def sample_lambda(alpha: float, rng: np.random.Generator) -> float:
    """lambda ~ Beta(alpha, alpha) from a host numpy Generator (no device tensor is read, so no sync)."""
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    return float(rng.beta(alpha, alpha))


def _permutation(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randperm(n, generator=generator, device=generator.device)


LambdaG = Callable[[float, torch.Tensor, torch.Tensor], torch.Tensor]


def different_class_partners(classes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each example, the index of a partner drawn uniformly among the batch's examples of *another* class.

    Random scores in [0, 1) are lifted by 1 where the classes differ and the row's argmax is taken, so any
    different-class partner outranks every same-class one, all on the device (no ``.item()``, ``.nonzero()`` or
    boolean indexing, hence no host sync). A batch holding one class only has no such partner; its examples then
    get a random partner of their own class (possibly themselves), as plain mixup would."""
    n = len(classes)
    scores = torch.rand((n, n), generator=generator, device=generator.device).to(classes.device)
    different = classes[:, None] != classes[None, :]
    return torch.where(different, scores + 1.0, scores).argmax(dim=1)


class _HostLambda:
    """What both mixing hooks share: a positive alpha, and lambda ~ Beta(alpha, alpha) drawn from the hook's own host
    Generator seeded with the run's ``seed`` (no device tensor is read, so no host sync)."""

    def __post_init__(self):
        if self.alpha <= 0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")
        self.rng = hook_rng(self.seed)

    def draw_lambda(self) -> float:
        return sample_lambda(self.alpha, self.rng)


@dataclass
class MixupHook(_HostLambda):
    """Per-batch mixing. ``lambda_g(lambda_f, class_i, class_j)`` maps the generating coefficient to per-example
    label coefficients (default: lambda_g = lambda_f); the classes are the argmax of the endpoint targets.
    lambda_f is drawn from the hook's own host Generator, seeded with ``seed`` (the run's) at construction."""

    alpha: float
    lambda_g: LambdaG | None = None
    seed: int = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __call__(self, x, y, generator):
        lam = self.draw_lambda()
        perm = _permutation(len(x), generator)
        x_mix = lam * x + (1.0 - lam) * x[perm]
        if self.lambda_g is None:
            lg = torch.full((len(x), 1), lam, device=x.device, dtype=y.dtype)
        else:
            lg = self.lambda_g(lam, y.argmax(1), y[perm].argmax(1)).reshape(-1, 1).to(y.dtype)
        return x_mix, lg * y + (1.0 - lg) * y[perm]


@dataclass
class MixMaxEntHook(_HostLambda):
    """The clean batch followed by its mixed copy, each example mixed with a partner of a different class
    (:func:`different_class_partners`, the classes being the targets' argmax); targets ``(clean targets, number of
    clean examples)``. lambda is drawn from the hook's own host Generator seeded with ``seed``."""

    alpha: float = HYP["maxent_alpha"]
    seed: int = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __call__(self, x, y, generator):
        lam = self.draw_lambda()
        partner = different_class_partners(y.argmax(1), generator)
        return torch.cat([x, lam * x + (1.0 - lam) * x[partner]]), (y, len(x))


def prediction_entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = F.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(1)


def mix_maxent_loss(maxent_weight: float = HYP["maxent_weight"]):
    def loss(logits, target):
        y, n = target
        return soft_cross_entropy(logits[:n], y) - maxent_weight * prediction_entropy(logits[n:]).mean()

    return loss


def ent_wc_weights(logits: torch.Tensor, kappa: float, detach: bool = False) -> torch.Tensor:
    """w = log(2) / H_theta(x~), capped at 1 and floored at kappa, differentiable through H_theta.

    Where log 2 <= H_theta <= log 2 / kappa the weight's gradient is -log 2 / H^2 dH, so minimising w * CE also
    pushes the predictive entropy up; where the cap (H < log 2) or the floor binds, the weight is constant.
    ``detach=True`` gives the detached alternative (the weight only rescales each example's CE).
    Over K classes H <= log K, so the weight's *value* never falls below log 2 / log K (0.301 for CIFAR-10): a floor
    kappa below that never binds, and kappa = 0 and 0.2 give the same weights and gradients."""
    h = prediction_entropy(logits).clamp_min(1e-12)
    w = (LOG2 / h).clamp(min=kappa, max=1.0)
    return w.detach() if detach else w


def ent_wc_loss(kappa: float = HYP["kappa"], detach: bool = False):
    """Mean over the batch of ``ent_wc_weights(logits, kappa, detach) * CE(logits, y)`` (section 5.2.2)."""
    if not 0.0 <= kappa <= 1.0:
        raise ValueError(f"kappa must lie in [0, 1], got {kappa}")

    def loss(logits, y):
        return (ent_wc_weights(logits, kappa, detach) * soft_cross_entropy(logits, y, reduction="none")).mean()

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
    """A ``lambda_g`` for :class:`MixupHook` applying tau_ij per example (identity for same-class pairs). The k / m
    tables move to the batch's device on first use and are indexed there, so no step copies classes to the host."""
    k = np.full((NUM_CLASSES, NUM_CLASSES), np.nan)
    m = np.full((NUM_CLASSES, NUM_CLASSES), np.nan)
    for (a, b), (ka, ma) in fits.items():
        k[a, b], m[a, b] = ka, ma
    k_t, m_t = torch.tensor(k), torch.tensor(m)
    on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}  # the tables, moved once per device

    def lambda_g(lam: float, ci: torch.Tensor, cj: torch.Tensor) -> torch.Tensor:
        if ci.device not in on_device:
            on_device[ci.device] = (k_t.to(ci.device), m_t.to(ci.device))
        k_d, m_d = on_device[ci.device]
        lo, hi = torch.minimum(ci, cj), torch.maximum(ci, cj)
        kk, mm = k_d[lo, hi], m_d[lo, hi]
        forward = ci <= cj              # lambda is the weight of the lower class index
        x = torch.where(forward, torch.full_like(kk, lam), torch.full_like(kk, 1.0 - lam))
        t = 1.0 / (1.0 + torch.exp(-kk * (x - mm)))
        out = torch.where(forward, t, 1.0 - t)
        out = torch.where(ci == cj, torch.full_like(out, lam), out)
        return out.float()

    return lambda_g


def generic_logistic(k: float = HYP["logistic_k"], m: float = 0.5) -> LambdaG:
    """The baseline appendix C asks for: the same logistic form for every pair, not fitted to human data."""

    def lambda_g(lam: float, ci: torch.Tensor, cj: torch.Tensor) -> torch.Tensor:
        return torch.full(ci.shape, float(logistic(lam, k, m)), device=ci.device)

    return lambda_g
