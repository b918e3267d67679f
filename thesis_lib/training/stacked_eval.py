"""The evaluation suite of :mod:`thesis_lib.training.metrics` for K models of one architecture at once.

Why: after a stack of runs has trained together (:mod:`thesis_lib.training.multirun`), evaluating it model by model
(:func:`thesis_lib.training.metrics.evaluate`: a clean pass, a torchattacks FGSM pass and a pass on the FGSM images,
each a few hundred small kernels per batch) is host-bound on a GPU like the step loop was: ~4 s per Chapter 3 run
on an H100, 190 s for 48 runs. Here the K models' weights and BatchNorm buffers are stacked
(``torch.func.stack_module_state``) and one ``vmap``-ed ``functional_call`` over a meta-device copy of the
architecture runs all K models on a chunk of images as batched (grouped) kernels.

It computes what :func:`metrics.evaluate` computes, model by model:

* the model in **eval mode** (BatchNorm normalises with its running statistics; the models' own modes are left as
  they are, nothing here touches them);
* float32 inputs and logits, no autocast: ``metrics.evaluate`` runs in float32 on every device, so this does too;
* FGSM as torchattacks' ``FGSM`` does it for :func:`metrics.fgsm_images` (see there: the thesis's attack):
  ``clamp(x + eps * sign(grad_x L), 0, 1)`` with ``L`` the mean soft-label cross-entropy of *that model* over the
  batch. The K losses are summed before the backward pass; the gradient of that sum with respect to model k's
  copy of the images (the input is (K, B, ...) and every model has its own) is model k's gradient alone, so each
  model is attacked with its own adversarial images. A batch mean only rescales the gradient, so its sign does
  not depend on how the images are chunked;
* the metrics from the logits with the functions ``evaluate`` uses (``soft_cross_entropy``,
  ``rms_calibration_error`` with ``calibration_bin_size``, ``accuracy``), and the same kept outputs (log-softmax
  on the clean and on the FGSM images, (N, classes) float32 on the CPU).

The clean logits are those of the forward pass the attack differentiates (same weights, same images, eval mode),
so a set costs two forward passes and one input-gradient backward pass per model instead of three forwards and a
backward. torchattacks is not used here: its attack calls the module itself and cannot be ``vmap``-ed; the
single-model path keeps it, and ``tests/test_training_stacked_eval.py`` checks both paths agree.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from thesis_lib.training import metrics

#: Model-image pairs per stacked pass: a chunk holds ``PAIRS_PER_CHUNK // K`` images of each of the K models (at
#: least one). The FGSM pass keeps its activations for the backward pass; for ResNet-34A (0.66 M parameters,
#: 32x32 inputs) that is ~3.4 MB per pair in float32 (distinct storages saved for the backward pass of the vmap-ed
#: model, measured with saved-tensor hooks on a CPU), so 2,048 pairs hold ~7 GB: comfortable beside a trained
#: stack on an 80 GB GPU, and a 48-model stack still runs 42 images of each model per pass (~1.2 TFLOP of
#: convolutions per pass for ResNet-34A: arithmetic, not kernel launches, sets the pace).
PAIRS_PER_CHUNK = 2048
#: The same on a CPU, where large chunks fall out of the caches: 8 small CNNs on 500 images took ~4.5 s in chunks
#: of 256 pairs (32 images each) against ~9 s in chunks of 2,048 (one thread, 2-core development machine).
CPU_PAIRS_PER_CHUNK = 256

__all__ = ["CPU_PAIRS_PER_CHUNK", "PAIRS_PER_CHUNK", "evaluate_sets_stacked", "evaluate_stacked"]


def _per_model(value, k: int, item_dim, what: str) -> list[Tensor]:
    """``value`` as K tensors (one per model). A single tensor with ``item_dim(tensor)`` dimensions is every
    model's (the same object K times, so that it is checked and moved to the device once); a tensor with one more
    dimension, or a sequence, holds one per model."""
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ValueError(f"got {len(value)} {what} for {k} models")
        return [torch.as_tensor(v) for v in value]
    value = torch.as_tensor(value)
    if value.dim() == item_dim(value):
        return [value] * k
    if value.dim() == item_dim(value) + 1:
        if value.shape[0] != k:
            raise ValueError(f"got {what} for {value.shape[0]} models, expected {k}")
        return list(value.unbind(0))
    raise ValueError(f"{what} of shape {tuple(value.shape)} is neither shared by the models nor one per model")


def _stacked(models: Sequence[nn.Module], device: torch.device):
    """``(forward, params, buffers, base)``: ``forward(params, buffers, x)`` maps x (K, B, C, H, W) to logits
    (K, B, classes), model k on x[k], every model in eval mode; the stacks are detached copies on ``device``; ``base``
    is the meta-device copy of the architecture."""
    # one architecture: the same parameter and buffer names and shapes (get_model wraps every network in one
    # pixel-space class, so the class alone says nothing)
    layout = lambda m: [(name, tuple(t.shape)) for name, t in (*m.named_parameters(), *m.named_buffers())]  # noqa: E731
    if any(layout(m) != layout(models[0]) for m in models[1:]):
        raise ValueError("stacked evaluation needs models of one architecture (equal parameter and buffer shapes)")
    params, buffers = stack_module_state(list(models))
    # detached: the attack differentiates with respect to the images only, never the weights
    params = {name: t.detach().to(device) for name, t in params.items()}
    buffers = {name: t.detach().to(device) for name, t in buffers.items()}
    base = copy.deepcopy(models[0]).to("meta")  # the architecture only; weights and buffers come from the stacks
    base.eval()  # BatchNorm uses the running statistics passed in ``buffers``, as metrics.evaluate's model.eval()

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    return vmap(one), params, buffers, base


def _classes(base: nn.Module, image_shape: torch.Size) -> int:
    """The number of outputs of the architecture, from a shape-only pass of its meta-device copy."""
    with torch.no_grad():
        return base(torch.empty((1, *image_shape), device="meta")).shape[-1]


def _results(logits: Tensor, targets: Tensor, adv_logits: Tensor | None, bin_size: int) -> dict[str, float]:
    """What :func:`metrics.evaluate` returns, from a model's clean (and FGSM) logits, with the functions it uses."""
    n = logits.shape[0]
    probs = logits.softmax(dim=1)
    correct = logits.argmax(dim=1) == targets.argmax(dim=1)
    return {
        "ce": metrics.soft_cross_entropy(logits, targets).item(),
        "calibration": metrics.rms_calibration_error(probs.max(dim=1).values, correct, bin_size=bin_size),
        "calibration_bin_size": float(bin_size),
        # metrics.fgsm_loss: the summed soft CE on the FGSM images over the number of images
        "fgsm_loss": float("nan") if adv_logits is None else
        metrics.soft_cross_entropy(adv_logits, targets, reduction="sum").item() / n,
        "accuracy": metrics.accuracy(logits, targets),
        "n": float(n),
    }


def evaluate_stacked(
    models: Sequence[nn.Module],
    images01,
    soft_targets,
    *,
    device: torch.device | str | None = None,
    eps: float = metrics.FGSM_EPS,
    fgsm: bool = True,
    batch_size: int | None = None,
    bin_size: int | None = None,
) -> list[tuple[dict[str, float], dict[str, Tensor]]]:
    """:func:`metrics.evaluate` of each of ``models`` (one architecture), computed as stacked passes.

    ``images01``: (N, C, H, W) in [0, 1] shared by every model, or one such set per model (a (K, N, C, H, W) tensor
    or a list of K tensors of equal length: Chapter 3's CIFAR-10S hold-out differs per seed). ``soft_targets``:
    (N, classes) probability rows (or (N,) integer class indices), shared or one per model likewise.
    ``batch_size``: images of each model per pass (default ``PAIRS_PER_CHUNK // K``, ``CPU_PAIRS_PER_CHUNK // K`` on
    a CPU, at least one); the numbers do not depend on it (eval mode: examples do not interact). ``device``: default
    where the first model's weights are. ``bin_size``: default :func:`metrics.calibration_bin_size` of N, as
    ``evaluate`` picks it.

    Returns, per model, ``(results, outputs)``: ``results`` as ``metrics.evaluate`` returns them and ``outputs`` as
    it fills its ``outputs`` dict (``"log_probs"`` and, with ``fgsm``, ``"fgsm_log_probs"``).
    """
    models = list(models)
    k = len(models)
    if k == 0:
        raise ValueError("no models to evaluate")
    images = _per_model(images01, k, lambda x: 4, "image sets")
    # one model's targets: (N, classes) probability rows, or (N,) integer class indices
    targets = _per_model(soft_targets, k, lambda t: 2 if t.is_floating_point() else 1, "target sets")
    n = images[0].shape[0]
    for x in {id(x): x for x in images}.values():
        metrics._check_pixel_space(x)  # the check evaluate() makes: [0, 1] floats, (N, C, H, W)
        if x.shape != images[0].shape:
            raise ValueError(f"the models' image sets differ in shape: {tuple(x.shape)} and {tuple(images[0].shape)}")
    for t in targets:
        if t.shape[0] != n:
            raise ValueError(f"got {t.shape[0]} targets for {n} images")
    if n == 0:
        raise ValueError("cannot evaluate on an empty set")
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    device = torch.device(device) if device is not None else metrics._model_device(models[0])
    if batch_size is None:
        batch_size = max(1, (CPU_PAIRS_PER_CHUNK if device.type == "cpu" else PAIRS_PER_CHUNK) // k)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    bin_size = metrics.calibration_bin_size(n) if bin_size is None else bin_size

    forward, params, buffers, base = _stacked(models, device)
    classes = _classes(base, images[0].shape[1:])
    # targets as evaluate() makes them: probability rows (integer labels one-hot), float32 (the meta tensor only
    # carries the logits' shape for the helper's checks)
    converted = {id(t): metrics._as_probability_targets(torch.empty(n, classes, device="meta"), t.cpu()).float()
                 for t in targets}
    shared_images = all(x is images[0] for x in images)
    shared_targets = all(t is targets[0] for t in targets)
    targets = [converted[id(t)] for t in targets]
    soft_ce = vmap(metrics.soft_cross_entropy)  # each model's mean soft CE over its batch: (K,)

    def chunk(tensors: list[Tensor], shared: bool, lo: int, hi: int) -> Tensor:
        if shared:  # moved once, then one copy per model (each model's images get their own gradient)
            part = tensors[0][lo:hi].to(device, torch.float32)
            return part.unsqueeze(0).expand(k, *part.shape).contiguous()
        return torch.stack([t[lo:hi] for t in tensors]).to(device, torch.float32)

    clean, adv = [], []
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        x = chunk(images, shared_images, lo, hi)
        if fgsm:
            t = chunk(targets, shared_targets, lo, hi)
            x.requires_grad_(True)
            with torch.enable_grad():
                logits = forward(params, buffers, x).float()
                # the sum of per-model means: its gradient w.r.t. x[k] is model k's own (see the module docstring)
                (grad,) = torch.autograd.grad(soft_ce(logits, t).sum(), x)
            x_adv = (x.detach() + eps * grad.sign()).clamp(0, 1)
            clean.append(logits.detach().cpu())
            with torch.no_grad():
                adv.append(forward(params, buffers, x_adv).float().cpu())
            del logits, grad, x_adv
        else:
            with torch.no_grad():
                clean.append(forward(params, buffers, x).float().cpu())
    clean_all = torch.cat(clean, dim=1)  # (K, N, classes)
    adv_all = torch.cat(adv, dim=1) if fgsm else None

    out = []
    for i in range(k):
        logits = clean_all[i]
        adv_logits = adv_all[i] if fgsm else None
        kept = {"log_probs": F.log_softmax(logits, dim=1)}
        if fgsm:
            kept["fgsm_log_probs"] = F.log_softmax(adv_logits, dim=1)
        out.append((_results(logits, targets[i], adv_logits, bin_size), kept))
    return out


def evaluate_sets_stacked(
    models: Sequence[nn.Module],
    sets: Sequence[dict],
    *,
    eps,
    device: torch.device | str | None = None,
    fgsm: bool = True,
) -> list[dict]:
    """Every evaluation set of K models, stacked where the sets allow it.

    ``sets[k]`` maps a set's name to ``(images01, soft_targets)`` for model k; ``eps`` is the FGSM budget, one for
    all or one per model. The models that have a set of that name with the same number of images and the same
    ``eps`` are evaluated together by :func:`evaluate_stacked` (with different images per model where they differ);
    models whose set differs in length (or budget) form stacks of their own, down to one model.

    Returns per model ``{name: (results, outputs)}``.
    """
    models = list(models)
    k = len(models)
    if len(sets) != k:
        raise ValueError(f"got {len(sets)} evaluation-set dicts for {k} models")
    eps = [eps] * k if isinstance(eps, (int, float)) else list(eps)
    if len(eps) != k:
        raise ValueError(f"got {len(eps)} FGSM budgets for {k} models")
    evaluated: list[dict] = [{} for _ in range(k)]
    names = list(dict.fromkeys(name for s in sets for name in s))  # in first-seen order
    for name in names:
        groups: dict = {}
        for i, s in enumerate(sets):
            if name in s:
                groups.setdefault((len(s[name][0]), eps[i]), []).append(i)
        for (_, group_eps), members in groups.items():
            got = evaluate_stacked([models[i] for i in members], [sets[i][name][0] for i in members],
                                   [sets[i][name][1] for i in members], device=device, eps=group_eps, fgsm=fgsm)
            for i, res in zip(members, got):
                evaluated[i][name] = res
    return evaluated
