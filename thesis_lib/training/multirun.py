"""Many runs at once on one device: K runs of one architecture trained as one stacked model.

A GPU is lent to this project for minutes at a time, and a single Chapter 3 run (ResNet-34A, batch 32) cannot keep
it busy: each step is ~800 small kernels, so the host's launch rate, not the GPU, sets the pace. Here the K models'
parameters and BatchNorm buffers are stacked along a leading dimension (``torch.func.stack_module_state``) and one
``vmap``-ed ``functional_call`` runs all K forward and backward passes as batched (grouped) kernels: a step costs
about the launches of one run, whatever K is.

Every run stays exactly its own ``RunSpec``:
* its model is initialised from its own seed (the caller builds it, as for a single run);
* its batch order, crops, flips, annotator draws and mixing come from its own generator, drawn in the same order as
  :func:`thesis_lib.training.loop.train` draws them, so the data stream is the single run's stream;
* its loss is its own (the K losses are summed, and a sum's gradient with respect to model k's parameters is model
  k's gradient alone); gradient clipping uses each run's own gradient norm; SGD's momentum and weight decay are
  element-wise, so stacked parameters update exactly as separate ones;
* BatchNorm keeps per-model statistics (the running buffers are stacked too).

What differs is arithmetic only: a stacked convolution is one grouped convolution, whose reduction order differs
from K separate ones, so results agree with single runs to float rounding at the first step and drift apart like
any two bit-different trainings after many (tests: equal within a tolerance at the smoke profile). The record says
which engine trained a run (``engine``); the engine is not part of the cache key, like the device.

Runs stack when everything that shapes a step is equal: architecture, epochs, batch size, learning-rate schedule,
SGD settings, clipping, augmentation, the number of training images and the batch policy's shape (Mix-MaxEnt
doubles its batch). :func:`group_key` says which.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from thesis_lib.training.augment import crop_flip
from thesis_lib.training.loop import Targets, TrainConfig, images_to_device, resolve_device


class DeadlineExceeded(RuntimeError):
    """A stacked group could not finish before its deadline and was abandoned (nothing of it is saved)."""


def group_key(spec) -> tuple:
    """Specs with equal keys can train stacked (the number of training images is checked once data are built)."""
    return (spec.model, spec.epochs, spec.batch_size, spec.lr, tuple(spec.milestones), spec.momentum,
            spec.weight_decay, spec.lr_decay, spec.grad_clip, spec.augment, spec.label_method == "mix_maxent")


def groups(specs, max_size: int | None = None) -> list[list]:
    """The specs in stackable groups of at most ``max_size``, in the order their first member appears."""
    by = defaultdict(list)
    for s in specs:
        by[group_key(s)].append(s)
    out = []
    for members in by.values():
        size = max_size or len(members)
        out.extend(members[i:i + size] for i in range(0, len(members), size))
    return sorted(out, key=lambda g: specs.index(g[0]))


def _clip_per_run(grads: list[torch.Tensor], max_norm: float, k: int) -> None:
    """``clip_grad_norm_`` applied to each run's own gradients (the slices [r] of every stacked gradient)."""
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(k, -1), dim=1) for g in grads])  # (params, K)
    total = torch.linalg.vector_norm(norms, dim=0)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(k, *([1] * (g.dim() - 1))))


def train_stacked(models: list[nn.Module], images: list[np.ndarray], targets: list[Targets], cfg: TrainConfig, *,
                  seeds: list[int], device: torch.device | str | None = None, batch_hooks=None, loss_fns=None,
                  progress: bool = False, desc: str = "stacked", deadline: float | None = None) -> list[list[dict]]:
    """Train K models of one architecture together, in place; returns each run's curve (one dict per epoch).

    ``images[k]`` / ``targets[k]`` / ``seeds[k]`` / ``batch_hooks[k]`` / ``loss_fns[k]`` are what
    :func:`thesis_lib.training.loop.train` would get for run k. ``deadline`` (``time.monotonic()`` value): after each epoch
    the group's end is projected from its pace, and a group that would end past the deadline raises
    :class:`DeadlineExceeded` at once rather than be killed from outside with nothing saved.
    """
    k = len(models)
    if not (k == len(images) == len(targets) == len(seeds)):
        raise ValueError("give one image set, one target set and one seed per model")
    batch_hooks = list(batch_hooks or [None] * k)
    loss_fns = list(loss_fns or [None] * k)
    n = len(targets[0])
    if any(len(t) != n for t in targets) or any(len(im) != n for im in images):
        raise ValueError(f"stacked runs need the same number of training images; got "
                         f"{sorted({len(t) for t in targets})} targets and {sorted({len(im) for im in images})} images")
    device = resolve_device(device)
    cuda = device.type == "cuda"
    for m in models:
        m.to(device=device).train()
    params, buffers = stack_module_state(models)      # new leaf tensors: (K, ...) each
    base = copy.deepcopy(models[0]).to("meta")        # the architecture only; weights come from the stacks

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    forward = vmap(one)                               # randomness="error": the models must draw no random numbers
    on_device: dict[int, torch.Tensor] = {}           # runs sharing one image array share one device copy
    x_all = [on_device.setdefault(id(im), images_to_device(im, device)) for im in images]
    y_all = [t.to(device) for t in targets]
    gens = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(int(s))
        gens.append(g)
    plist = list(params.values())
    opt = torch.optim.SGD(plist, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.lr_decay)
    default_loss = all(f is None for f in loss_fns)
    dtype = plist[0].dtype  # float32; float64 only where tests compare the engines exactly
    curves: list[list[dict]] = [[] for _ in range(k)]
    start = time.monotonic()
    bar = tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        orders = [torch.randperm(n, device=device, generator=g) for g in gens]
        totals, seen = torch.zeros(k, device=device), 0
        for lo in range(0, n, cfg.batch_size):
            if min(cfg.batch_size, n - lo) < 2:  # as train(): BatchNorm cannot train on a single example
                continue
            xs, ys = [], []
            for r in range(k):  # each run's batch from its own generator, in train()'s order of draws
                idx = orders[r][lo:lo + cfg.batch_size]
                x = x_all[r][idx].to(dtype).div_(255.0)
                if cfg.augment:
                    x = crop_flip(x, gens[r])
                y = y_all[r].batch(idx, gens[r])
                if batch_hooks[r] is not None:
                    x, y = batch_hooks[r](x, y, gens[r])
                xs.append(x)
                ys.append(y)
            x = torch.stack(xs)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = forward(params, buffers, x)
            logits = logits if logits.dtype == torch.float64 else logits.float()
            if default_loss:  # soft cross-entropy of every run at once (metrics.soft_cross_entropy, per run)
                losses = -(torch.stack(ys) * F.log_softmax(logits, dim=-1)).sum(-1).mean(-1)
            else:
                from thesis_lib.training.metrics import soft_cross_entropy

                losses = torch.stack([(loss_fns[r] or soft_cross_entropy)(logits[r], ys[r]) for r in range(k)])
            for p in plist:
                p.grad = None
            losses.sum().backward()
            if cfg.grad_clip is not None:
                _clip_per_run([p.grad for p in plist], cfg.grad_clip, k)
            opt.step()
            totals += losses.detach() * x.shape[1]
            seen += x.shape[1]
        lr = opt.param_groups[0]["lr"]
        sched.step()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        mean = (totals / max(seen, 1)).tolist()   # one host sync per epoch, none per step
        bad = [r for r in range(k) if not np.isfinite(mean[r])]
        if bad:
            raise FloatingPointError(f"training diverged at epoch {epoch + 1} in stacked run(s) {bad} "
                                     f"(losses {[mean[r] for r in bad]})")
        for r in range(k):
            curves[r].append({"epoch": epoch + 1, "loss": mean[r], "lr": lr, "seconds": seconds,
                              "images_per_s": seen / seconds if seconds > 0 else float("nan"), "stacked": k})
        bar.set_postfix(loss=f"{float(np.mean(mean)):.3f}")
        if deadline is not None and epoch + 1 < cfg.epochs:
            per_epoch = (time.monotonic() - start) / (epoch + 1)
            if time.monotonic() + per_epoch * (cfg.epochs - epoch - 1) > deadline:
                raise DeadlineExceeded(f"{desc}: {cfg.epochs - epoch - 1} epochs left at {per_epoch:.1f} s each "
                                       f"would pass the deadline")
    with torch.no_grad():  # hand each run its trained weights and statistics back
        for r, m in enumerate(models):
            for name, p in m.named_parameters():
                p.copy_(params[name][r])
            for name, b in m.named_buffers():
                b.copy_(buffers[name][r])
    return curves
