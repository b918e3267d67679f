"""The evaluation suite of thesis §3.3.1 (also used in Chapters 4 and 5): CE, calibration, FGSM loss.

All three metrics are computed against *soft* evaluation labels ``P_eval(y_n = k | x_n)`` (held-out
CIFAR-10H or CIFAR-10S label distributions), not against hard CIFAR-10 labels:

1. **Generalisation** -- cross-entropy over the soft label,
   ``CE = -(1/N) sum_n sum_k P_eval(y_n=k|x_n) log m_theta(x_n)_k``. The same function is the training
   loss ("All models ... optimize a cross-entropy objective", §3.3), with soft or one-hot targets.
   (The thesis prints the formula without its minus sign; the tables report positive values.)
2. **Calibration** -- the RMS calibration error with adaptive binning of Hendrycks et al. (used in PixMix),
   where confidence is the model's maximum softmax probability and "correct" means
   ``argmax_k m_theta(x)_k == argmax_k P_eval(y=k|x)``. The bin size depends on the evaluation set, as in the
   thesis's code (``run_eval.py``: ``n_bins = 10`` for the 100 held-out CIFAR-10S images, else 100, passed to
   PixMix's ``calib_err`` as its bin size ``beta``): bins of 100 examples for sets of at least 1,000 (the
   3,000-image CIFAR-10H set: 30 bins), bins of 10 for smaller ones (the 100-image CIFAR-10S set: 10 bins;
   with bins of 100 it would be a single bin, |mean confidence - accuracy|). See
   :func:`calibration_bin_size`; :func:`evaluate` records the size it used as ``calibration_bin_size``. That code
   dropped the most confident bin from the sum; :func:`rms_calibration_error_authors` is that statistic (what the
   thesis's cells hold, so the one to compare with them), :func:`rms_calibration_error` the correct one we record.
3. **Robustness** -- the soft-label cross-entropy after a one-step FGSM attack (Goodfellow et al., 2014)
   with l-inf budget 4/255 in [0, 1] pixel space (thesis: "l_inf = 4 ... following Peterson et al.").

The models of :mod:`thesis_lib.models` take [0, 1] pixels and normalise internally, which is what lets the
attack perturb and clamp pixels directly.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from thesis_lib.core.catalogue import HYP
from thesis_lib.data.cifar10c import CORRUPTIONS, corrupt

#: The thesis's FGSM budget: l-inf 4 on the 0-255 scale, i.e. 4/255 in [0, 1] pixel space.
FGSM_EPS = HYP["fgsm_eps"]
#: Target number of examples per calibration bin (Hendrycks et al.'s ``beta``) on large evaluation sets.
CALIBRATION_BIN_SIZE = 100
#: The bin size of small evaluation sets (the 100 held-out CIFAR-10S images), as the thesis's code used.
SMALL_SET_BIN_SIZE = 10
#: Sets of fewer examples than this get :data:`SMALL_SET_BIN_SIZE` (fewer than 10 bins of 100 would be too coarse).
SMALL_SET_LIMIT = 1000
_PROB_TOL = 1e-6

__all__ = [
    "CALIBRATION_BIN_SIZE",
    "SMALL_SET_BIN_SIZE",
    "calibration_bin_size",
    "corrupted",
    "corruption_ce",
    "FGSM_EPS",
    "accuracy",
    "evaluate",
    "fgsm_images",
    "fgsm_loss",
    "metrics_from_outputs",
    "rms_calibration_error",
    "rms_calibration_error_authors",
    "soft_cross_entropy",
]


# --------------------------------------------------------------------------------------------------
# Cross-entropy against soft labels
# --------------------------------------------------------------------------------------------------


def _as_probability_targets(logits: Tensor, targets: Tensor) -> Tensor:
    """Targets as (N, K) probability rows; 1-D integer class indices are one-hot encoded (hard labels)."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, K), got shape {tuple(logits.shape)}")
    if targets.dim() == 1 and not targets.is_floating_point():
        if targets.shape[0] != logits.shape[0]:
            raise ValueError(f"got {targets.shape[0]} class indices for {logits.shape[0]} logit rows")
        return F.one_hot(targets.long(), num_classes=logits.shape[1])
    if targets.shape != logits.shape:
        raise ValueError(
            f"targets must be probability vectors of the logits' shape {tuple(logits.shape)} "
            f"(or 1-D integer class indices), got shape {tuple(targets.shape)}"
        )
    return targets


def soft_cross_entropy(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
    """``-sum_k p_k log softmax(logits)_k`` per example, averaged over examples by default.

    ``targets`` are probability vectors (N, K) (soft labels; rows should sum to one); 1-D integer class
    indices are accepted and treated as one-hot. ``reduction`` is ``"mean"`` (the thesis's CE and training
    loss), ``"sum"`` or ``"none"`` (a length-N tensor). Computed in (at least) float32 even under autocast,
    so that a bf16 forward pass does not degrade the loss.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    targets = _as_probability_targets(logits, targets)
    log_probs = F.log_softmax(logits if logits.dtype == torch.float64 else logits.float(), dim=1)
    per_example = -(targets.to(log_probs.dtype) * log_probs).sum(dim=1)
    if reduction == "none":
        return per_example
    return per_example.sum() if reduction == "sum" else per_example.mean()


def accuracy(logits: Tensor, soft_targets: Tensor) -> float:
    """Fraction of examples whose predicted class equals the soft label's most probable class.

    Ties in a soft label resolve to the lowest class index (``torch.argmax``), as in the thesis's code.
    """
    targets = _as_probability_targets(logits, soft_targets)
    if logits.shape[0] == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (logits.argmax(dim=1) == targets.argmax(dim=1)).double().mean().item()


# --------------------------------------------------------------------------------------------------
# RMS calibration error with adaptive binning
# --------------------------------------------------------------------------------------------------


def _to_numpy_1d(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.double() if x.is_floating_point() else x
        x = x.numpy()
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def calibration_bin_size(n: int) -> int:
    """The calibration bin size for an evaluation set of ``n`` examples: 100 from 1,000 examples on (the 3,000
    CIFAR-10H images), 10 below (the 100 CIFAR-10S images; also a smoke profile's 500-image CIFAR-10H subset and
    the 500 validation images, whose calibration no choice uses), following the thesis's ``run_eval.py``."""
    if n < 1:
        raise ValueError(f"an evaluation set needs at least one example, got {n}")
    return CALIBRATION_BIN_SIZE if n >= SMALL_SET_LIMIT else SMALL_SET_BIN_SIZE


def rms_calibration_error(confidence: Any, correct: Any, bin_size: int = CALIBRATION_BIN_SIZE) -> float:
    """RMS calibration error with adaptive (equal-count) bins, after Hendrycks et al. (PixMix).

    Examples are sorted by ``confidence`` (the max predicted probability) ascending and cut into
    ``N // bin_size`` bins of ``bin_size`` consecutive examples, the last bin absorbing the remainder
    (N = 250 gives bins [0, 100) and [100, 250); N < bin_size gives one bin of all examples). Then

        error = sqrt( sum_b (|b| / N) * (mean confidence in b - mean correctness in b)^2 ).

    ``correct`` holds 0/1 (or bool) correctness. Accepts numpy arrays, torch tensors or sequences.

    Differences from the code the thesis ran (``calib_err`` in PixMix's ``calibration_tools.py``, copied into
    cambridge-mlg/cifar-10s): that loop is ``for i in range(len(bins) - 1)``, so it silently drops the last
    (most confident) bin from the sum, and it fails for N < bin_size. We sum over every bin, as the
    metric is defined, and sort stably so that ties in confidence are binned deterministically. The authors'
    statistic, to compare with the thesis's cells, is :func:`rms_calibration_error_authors`.
    """
    conf, corr = _calibration_inputs(confidence, correct, bin_size)
    return float(math.sqrt(sum(_binned_squared_gaps(conf, corr, bin_size))))


def _calibration_inputs(confidence: Any, correct: Any, bin_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked float64 confidence (clipped to [0, 1]) and 0/1 correctness, as both calibration errors take them."""
    conf = _to_numpy_1d(confidence, "confidence")
    corr = _to_numpy_1d(correct, "correct")
    if conf.shape[0] != corr.shape[0]:
        raise ValueError(f"confidence and correct must have the same length, got {conf.shape[0]} and {corr.shape[0]}")
    if conf.shape[0] == 0:
        raise ValueError("calibration error of an empty set is undefined")
    if isinstance(bin_size, bool) or not isinstance(bin_size, (int, np.integer)) or bin_size < 1:
        raise ValueError(f"bin_size must be a positive int, got {bin_size!r}")
    if not np.all(np.isfinite(conf)):
        raise ValueError("confidence contains NaN or infinite values")
    # A float32 softmax can overshoot 1 by an ulp; allow that much and clip, reject anything else.
    if conf.min() < -_PROB_TOL or conf.max() > 1.0 + _PROB_TOL:
        raise ValueError(f"confidence must lie in [0, 1], got range [{conf.min()}, {conf.max()}]")
    if not np.all((corr == 0.0) | (corr == 1.0)):
        raise ValueError("correct must contain only 0/1 (or booleans)")
    return np.clip(conf, 0.0, 1.0), corr


def _binned_squared_gaps(conf: np.ndarray, corr: np.ndarray, bin_size: int) -> list[float]:
    """Per adaptive bin, least confident first: ``(|b| / N) * (mean confidence - mean correctness)^2``."""
    n = conf.shape[0]
    order = np.argsort(conf, kind="stable")
    conf, corr = conf[order], corr[order]
    n_bins = max(1, n // bin_size)
    starts = [b * bin_size for b in range(n_bins)]
    ends = starts[1:] + [n]  # the last bin runs to the end: it absorbs the remainder
    return [(hi - lo) / n * (conf[lo:hi].mean() - corr[lo:hi].mean()) ** 2 for lo, hi in zip(starts, ends)]


def rms_calibration_error_authors(confidence: Any, correct: Any, bin_size: int = CALIBRATION_BIN_SIZE) -> float:
    """The calibration error as the thesis's numbers were computed: the authors' binning, last bin dropped.

    The same adaptive bins as :func:`rms_calibration_error` (``N // bin_size`` bins of ``bin_size`` examples sorted
    by confidence, the last absorbing the remainder), but the sum runs over every bin except the last, as the loop
    ``for i in range(len(bins) - 1)`` of ``calib_err`` in cambridge-mlg/cifar-10s
    (``computational_experiments/utils.py``, after PixMix / Hendrycks et al.) does; the weights stay ``|b| / N``
    over all N examples (not renormalised). So the most confident bin (with the remainder) never counts:

        error = sqrt( sum_{b < last} (|b| / N) * (mean confidence in b - mean correctness in b)^2 ).

    With a single bin (``N < 2 * bin_size``) nothing is summed and the error is 0.0; the authors' code raises for
    ``N < bin_size`` (it has no bin at all), here that case is one bin too and gives 0.0. It equals the all-bins
    statistic exactly when the last bin is perfectly calibrated (mean confidence = accuracy there). Report it as
    "calibration (authors' binning, last bin dropped)": it is the statistic to compare with the thesis's cells,
    not the correct one (:func:`rms_calibration_error`).
    """
    conf, corr = _calibration_inputs(confidence, correct, bin_size)
    return float(math.sqrt(sum(_binned_squared_gaps(conf, corr, bin_size)[:-1])))


# --------------------------------------------------------------------------------------------------
# FGSM robustness
# --------------------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _check_pixel_space(images01: Tensor) -> None:
    if images01.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images01.shape)}")
    if not images01.is_floating_point():
        raise ValueError(f"images must be a floating tensor in [0, 1], got dtype {images01.dtype}")
    if images01.numel() and (images01.min() < 0 or images01.max() > 1):
        raise ValueError(
            "images must lie in [0, 1] pixel space (the models normalise internally); got range "
            f"[{images01.min().item():.3f}, {images01.max().item():.3f}]"
        )


def _eval_inputs(model, images01, soft_targets, batch_size, device):
    """Shared checks of the evaluation entry points; returns tensors, N and the device to use."""
    images01, soft_targets = torch.as_tensor(images01), torch.as_tensor(soft_targets)
    _check_pixel_space(images01)
    n = images01.shape[0]
    if n == 0:
        raise ValueError("cannot evaluate on an empty set")
    if soft_targets.shape[0] != n:
        raise ValueError(f"got {soft_targets.shape[0]} targets for {n} images")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return images01, soft_targets, n, torch.device(device) if device is not None else _model_device(model)


def fgsm_images(model: nn.Module, images01: Tensor, soft_targets: Tensor, eps: float = FGSM_EPS) -> Tensor:
    """One-step FGSM adversarial images, ``clamp(x + eps * sign(grad_x CE_soft), 0, 1)``, via torchattacks.

    Soft labels: ``torchattacks.FGSM`` builds its loss as ``nn.CrossEntropyLoss()(logits, labels)`` and hands
    ``labels`` through unchanged (only ``clone().detach().to(device)``), and since PyTorch 1.10
    ``CrossEntropyLoss`` with float (N, K) targets computes exactly the mean soft cross-entropy
    ``-(1/N) sum_n sum_k p_nk log softmax(z_n)_k``. So passing the soft labels makes the attack ascend the
    soft-label CE (the same loss the metric then reports), not the CE of the argmax label. This is also
    what the thesis's code did (``fgsm_attack`` in cambridge-mlg/cifar-10s ``eval_utils.py``: a copy of
    torchattacks' FGSM with the soft cross-entropy as its loss, eps 4/255, the normalisation placed in
    front of the model). The test suite checks it against a hand-written soft-CE FGSM. The batch mean only rescales the gradient, so
    the sign (and the attack) is per-example and independent of the batch size.

    The attack runs on the model's device, in eval mode (torchattacks' default; a training model is put
    back in training mode afterwards). Hard labels must be one-hot encoded first.
    """
    import torchattacks  # local import: only the robustness metric needs it

    _check_pixel_space(images01)
    if soft_targets.dim() != 2 or soft_targets.shape[0] != images01.shape[0] or not soft_targets.is_floating_point():
        raise ValueError(
            f"soft_targets must be float (N, K) probability vectors with N={images01.shape[0]}, got "
            f"{soft_targets.dtype} {tuple(soft_targets.shape)} (one-hot encode hard labels first)"
        )
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    # torchattacks runs the attack in eval mode and restores a training model afterwards (its default).
    attack = torchattacks.FGSM(model, eps=eps)
    return attack(images01, soft_targets.float())


def fgsm_loss(
    model: nn.Module,
    images01: Tensor,
    soft_targets: Tensor,
    eps: float = FGSM_EPS,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    log_probs_out: list | None = None,
) -> float:
    """Mean soft-label CE of ``model`` on FGSM-perturbed images (thesis §3.3.1, "FGSM loss").

    ``images01`` are (N, 3, H, W) in [0, 1]; ``soft_targets`` (N, K) probability vectors. The model is put
    in eval mode (BatchNorm uses running statistics, so examples do not interact and the result does not
    depend on ``batch_size``) and its previous mode is restored afterwards.
    """
    images01, soft_targets, n, device = _eval_inputs(model, images01, soft_targets, batch_size, device)

    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for lo in range(0, n, batch_size):
            x = images01[lo:lo + batch_size].to(device, torch.float32)
            t = soft_targets[lo:lo + batch_size].to(device)
            adv = fgsm_images(model, x, t, eps)
            with torch.no_grad():
                logits = model(adv).float()
                total += soft_cross_entropy(logits, t, reduction="sum").item()
                if log_probs_out is not None:  # kept so the metric can be recomputed without the model
                    log_probs_out.append(F.log_softmax(logits, dim=1).cpu())
    finally:
        model.train(was_training)
    return total / n


# --------------------------------------------------------------------------------------------------
# The whole suite
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def _predict_logits(model: nn.Module, images01: Tensor, batch_size: int, device: torch.device) -> Tensor:
    chunks = [model(images01[lo:lo + batch_size].to(device, torch.float32)).float().cpu()
              for lo in range(0, images01.shape[0], batch_size)]
    return torch.cat(chunks)


def evaluate(
    model: nn.Module,
    images01: Tensor,
    soft_targets: Tensor,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    fgsm: bool = True,
    eps: float = FGSM_EPS,
    bin_size: int | None = None,
    outputs: dict | None = None,
) -> dict[str, float]:
    """Thesis §3.3.1 metrics of ``model`` on pixel-space images against soft evaluation labels.

    Returns floats ``{"ce", "calibration", "calibration_bin_size", "fgsm_loss", "accuracy", "n"}``: mean soft CE;
    RMS calibration error with confidence = max softmax probability and correct = (argmax prediction == argmax
    soft label), in adaptive bins of ``bin_size`` examples (default :func:`calibration_bin_size` of the set's
    size: 100 for the 3,000 CIFAR-10H images, 10 for the 100 CIFAR-10S images) and the size used; FGSM loss at
    ``eps`` (``nan`` when ``fgsm=False``); accuracy against the soft label's argmax; and the number of examples
    (floats, so the dict is homogeneous). The model is evaluated in eval mode on
    ``device`` (default: where its parameters are) and its previous mode is restored.

    ``outputs``: a dict that receives the model's log-softmax outputs, ``"log_probs"`` on the clean images and
    ``"fgsm_log_probs"`` on their FGSM images ((N, K) float32 on the CPU), so that every metric can later be
    recomputed without the model (:func:`metrics_from_outputs`).
    """
    images01, soft_targets, n, device = _eval_inputs(model, images01, soft_targets, batch_size, device)
    bin_size = calibration_bin_size(n) if bin_size is None else bin_size

    was_training = model.training
    model.eval()
    try:
        logits = _predict_logits(model, images01, batch_size, device)
        targets = _as_probability_targets(logits, soft_targets.cpu()).float()
        adv_chunks: list | None = [] if outputs is not None else None
        probs = logits.softmax(dim=1)
        correct = logits.argmax(dim=1) == targets.argmax(dim=1)
        result = {
            "ce": soft_cross_entropy(logits, targets).item(),
            "calibration": rms_calibration_error(probs.max(dim=1).values, correct, bin_size=bin_size),
            "calibration_bin_size": float(bin_size),
            "fgsm_loss": fgsm_loss(model, images01, targets, eps=eps, batch_size=batch_size, device=device,
                                   log_probs_out=adv_chunks) if fgsm else float("nan"),
            "accuracy": correct.double().mean().item(),
            "n": float(n),
        }
    finally:
        model.train(was_training)
    if outputs is not None:
        outputs["log_probs"] = F.log_softmax(logits, dim=1)
        if fgsm:
            outputs["fgsm_log_probs"] = torch.cat(adv_chunks)
    return result


def metrics_from_outputs(log_probs, soft_targets, fgsm_log_probs=None, bin_size: int | None = None) -> dict:
    """The metrics of :func:`evaluate` recomputed from kept log-softmax outputs (no model, no GPU): a metric fix or
    a new metric needs no retraining. Inputs may be float16 (as a run record keeps them); the arithmetic is float64.
    ``bin_size``: default :func:`calibration_bin_size` of the set, as :func:`evaluate` chooses it. Beside
    ``"calibration"`` (every bin, :func:`rms_calibration_error`) it returns ``"calibration_authors"``, the authors'
    statistic (last bin dropped, :func:`rms_calibration_error_authors`) that the thesis's cells hold."""
    lp = torch.as_tensor(np.asarray(log_probs, dtype=np.float64))
    t = torch.as_tensor(np.asarray(soft_targets, dtype=np.float64))
    bin_size = calibration_bin_size(len(t)) if bin_size is None else bin_size
    ce = lambda x: float(-(t * x).sum(1).mean())  # noqa: E731  (0 * -inf cannot occur: log-probs are finite)
    correct = lp.argmax(1) == t.argmax(1)
    conf = lp.max(1).values.exp()
    return {"ce": ce(lp), "calibration": rms_calibration_error(conf, correct, bin_size=bin_size),
            "calibration_authors": rms_calibration_error_authors(conf, correct, bin_size=bin_size),
            "fgsm_loss": float("nan") if fgsm_log_probs is None else
            ce(torch.as_tensor(np.asarray(fgsm_log_probs, dtype=np.float64))),
            "calibration_bin_size": float(bin_size), "accuracy": correct.double().mean().item(), "n": float(len(t))}


# --------------------------------------------------------------------------------------------------
# Corruption CE (Chapter 5, section 5.2.2): clean CE on each CIFAR-10-C set (thesis_lib.data.cifar10c)
# --------------------------------------------------------------------------------------------------

_CORRUPTED: dict = {}   # (images digest, corruption, severity) -> images: built once per process, shared by its runs


def corrupted(images_u8: np.ndarray, name: str, severity: int = 3) -> Tensor:
    """The CIFAR-10-C corruption ``name`` of ``images_u8`` as (N, 3, 32, 32) floats in [0, 1], memoised (building
    the 15 corrupted sets takes minutes on a CPU; every Chapter 5 run of a process evaluates on the same ones)."""
    key = (hashlib.sha1(np.ascontiguousarray(images_u8).tobytes()).hexdigest(), name, severity)
    if key not in _CORRUPTED:
        if len(_CORRUPTED) >= 64:
            _CORRUPTED.clear()
        _CORRUPTED[key] = torch.as_tensor(corrupt(images_u8, name, severity, seed=0)).permute(0, 3, 1, 2)
    return _CORRUPTED[key].float().div(255.0)


def corruption_ce(model, images_u8, soft_targets, device, severity: int = 3) -> dict:
    """Mean CE over the 15 CIFAR-10-C corruptions at ``severity`` (plus each one's CE), section 5.2.2."""
    per = {}
    for name in CORRUPTIONS:
        x = corrupted(images_u8, name, severity)
        per[name] = evaluate(model, x, soft_targets, device=device, fgsm=False)["ce"]
    return {"corruption_ce": float(np.mean(list(per.values()))), "corruption_ce_by_type": per}
