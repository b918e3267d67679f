"""The training loop shared by every chapter: soft-target SGD with the data resident on the device.

Images live on the device as one uint8 tensor; each batch is indexed, scaled to [0, 1] and augmented there
(:mod:`thesis_lib.training.augment`), so no per-image Python runs in the loop. A run's randomness is drawn once per
epoch from its own generator (:func:`epoch_draws`: the order, every image's crop offsets and mirror coin, and the
uniform number that picks its annotator), and each step only slices it: the multi-run engine
(:mod:`thesis_lib.training.multirun`) draws the same way, so a run trains identically in either engine, and a
captured CUDA graph can replay a step with nothing drawn inside it. Mixing hooks still draw per step. Targets are either fixed soft labels or a
de-aggregated pool from which one annotator's label is drawn per image per batch. Hooks let the mixup chapters
rewrite a batch (``batch_hook``: mixing with a label policy) and swap the loss (``loss_fn``).

Both devices use channels_last (on two CPU cores it trains the small CNN 1.5-2x faster than NCHW). On a GPU:
bf16 autocast. On a CPU: fp32, and a fixed seed gives identical results.

``compile`` (opt-in; ``THESIS_COMPILE`` for whole grids) runs the forward and backward through ``torch.compile``:
"default", or "reduce-overhead" (CUDA graphs, aimed at batch-32 steps whose kernels are too small to keep a GPU
busy), or "max-autotune". On the 2-core CPU it does not pay (the small CNN's steady epochs ran at the same speed
and its first epoch took ~40 s of compiling), so it is off by default; it has not been timed on a GPU here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from thesis_lib.training.augment import PAD, crop_flip_at
from thesis_lib.training.metrics import soft_cross_entropy


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = ()
    lr_decay: float = 0.1
    grad_clip: float | None = None
    augment: bool = False


class Targets:
    """Training targets: fixed ``(N, 10)`` soft labels, or a pool ``(N, M_max, 10)`` with per-image annotator
    ``counts`` from which one annotator's label is drawn per image per batch (de-aggregated learning)."""

    def __init__(self, fixed=None, pool=None, counts=None):
        if (fixed is None) == (pool is None):
            raise ValueError("give either fixed targets or a pool with counts")
        self.fixed = None if fixed is None else torch.as_tensor(np.asarray(fixed), dtype=torch.float32)
        self.pool = None if pool is None else torch.as_tensor(np.asarray(pool), dtype=torch.float32)
        self.counts = None if counts is None else torch.as_tensor(np.asarray(counts), dtype=torch.long)
        if self.pool is not None and (self.counts is None or len(self.counts) != len(self.pool)):
            raise ValueError("a pool needs one annotator count per image")

    def __len__(self) -> int:
        return len(self.fixed if self.fixed is not None else self.pool)

    def to(self, device) -> "Targets":
        out = Targets.__new__(Targets)
        out.fixed = None if self.fixed is None else self.fixed.to(device)
        out.pool = None if self.pool is None else self.pool.to(device)
        out.counts = None if self.counts is None else self.counts.to(device)
        return out

    def concat(self, other: "Targets") -> "Targets":
        """Targets of two training sets one after the other (e.g. the 7,000 images plus a finite augmenting set
        of synthetic images with their own labels, Chapter 4). Fixed and pooled targets combine into a pool."""
        if self.fixed is not None and other.fixed is not None:
            return Targets(fixed=torch.cat([self.fixed, other.fixed]))
        a, b = self.as_pool(), other.as_pool()
        width = max(a[0].shape[1], b[0].shape[1])
        pad = lambda p: torch.nn.functional.pad(p, (0, 0, 0, width - p.shape[1]))  # noqa: E731
        return Targets(pool=torch.cat([pad(a[0]), pad(b[0])]), counts=torch.cat([a[1], b[1]]))

    def as_pool(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pool (N, M, 10), counts (N,))``; fixed targets are a pool of one label per image, which
        :meth:`batch` picks whatever ``u`` is, so both forms give the same batches."""
        if self.pool is not None:
            return self.pool, self.counts
        return self.fixed[:, None, :], torch.ones(len(self.fixed), dtype=torch.long)

    def batch(self, idx: torch.Tensor, generator: torch.Generator | None = None,
              u: torch.Tensor | None = None) -> torch.Tensor:
        """The targets of images ``idx``; from a pool, annotator ``floor(u * count)`` of each image, with ``u``
        uniform in [0, 1) (given, as :func:`epoch_draws` draws it, or drawn here from ``generator``)."""
        if self.fixed is not None:
            return self.fixed[idx]
        counts = self.counts[idx]
        if u is None:
            u = torch.rand(len(idx), device=idx.device, generator=generator)
        pick = (u * counts).long()
        return self.pool[idx, pick]


COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")


def check_compile(mode: str | None) -> str:
    mode = mode or "off"
    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r}; expected one of {', '.join(COMPILE_MODES)}")
    return mode


BatchHook = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def resolve_device(device: str | None = None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def images_to_device(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, 32, 32, 3) HWC pixels on the 0-255 scale -> (N, 3, 32, 32) on ``device``, scaled to [0, 1] per batch.

    uint8 images stay uint8 (a quarter of the memory); float images (e.g. mixed images of an augmenting set,
    lambda * x_i + (1 - lambda) * x_j) are kept as float32."""
    arr = np.ascontiguousarray(images)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError("images must be on the 0-255 pixel scale")
    return torch.as_tensor(arr).permute(0, 3, 1, 2).contiguous().to(device)


def epoch_draws(n: int, generator: torch.Generator, device) -> dict[str, torch.Tensor]:
    """One epoch's randomness of one run, in a fixed order from its generator: the image order, and for each of the
    ``n`` positions in it a crop offset pair, a mirror coin and the uniform number picking the image's annotator.
    Everything is drawn whether or not the run augments or has an annotator pool, so the stream does not depend on
    what a run uses (positions, not images, index the per-image draws)."""
    order = torch.randperm(n, device=device, generator=generator)
    dy = torch.randint(0, 2 * PAD + 1, (n,), device=device, generator=generator)
    dx = torch.randint(0, 2 * PAD + 1, (n,), device=device, generator=generator)
    flip = torch.rand(n, device=device, generator=generator) < 0.5
    u = torch.rand(n, device=device, generator=generator)
    return {"order": order, "dy": dy, "dx": dx, "flip": flip, "u": u}


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """The learning rate of 0-based ``epoch``: MultiStepLR stepped after every epoch."""
    return cfg.lr * cfg.lr_decay ** sum(epoch >= m for m in cfg.milestones)


def train(model: nn.Module, images: np.ndarray, targets: Targets, cfg: TrainConfig, *, seed: int,
          device: torch.device | str | None = None, batch_hook: BatchHook | None = None,
          loss_fn: LossFn = soft_cross_entropy, progress: bool = False, desc: str = "train",
          compile: str | None = None) -> list[dict]:
    """Train ``model`` in place on ``images`` ((N, 32, 32, 3), 0-255); returns the curve, one dict per epoch.

    ``seed`` drives the batch order, augmentation and annotator draws (the caller seeds model initialisation).
    ``compile``: a :data:`COMPILE_MODES` entry (default off); the model itself stays uncompiled for evaluation.
    """
    device = resolve_device(device)
    if len(images) != len(targets):
        raise ValueError(f"{len(images)} images but {len(targets)} targets")
    cuda = device.type == "cuda"
    model.to(device=device, memory_format=torch.channels_last)
    mode = check_compile(compile)
    forward = model if mode == "off" else torch.compile(model, mode=None if mode == "default" else mode)
    x_all = images_to_device(images, device)
    y_all = targets.to(device)
    dtype = next(model.parameters()).dtype  # float32; float64 only where tests compare engines exactly
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.lr_decay)
    n = len(x_all)
    curve = []
    bar = tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        t0 = time.perf_counter()
        d = epoch_draws(n, gen, device)
        total, seen = torch.zeros((), device=device), 0
        for lo in range(0, n, cfg.batch_size):
            at = slice(lo, lo + cfg.batch_size)
            idx = d["order"][at]
            if len(idx) < 2:  # BatchNorm cannot train on a single example
                continue
            x = x_all[idx].to(dtype).div_(255.0)
            if cfg.augment:
                x = crop_flip_at(x, d["dy"][at], d["dx"][at], d["flip"][at])
            y = y_all.batch(idx, u=d["u"][at])
            if batch_hook is not None:
                x, y = batch_hook(x, y, gen)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = forward(x)
            loss = loss_fn(logits if logits.dtype == torch.float64 else logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            total += loss.detach() * len(x)
            seen += len(x)
        lr = opt.param_groups[0]["lr"]
        sched.step()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        mean_loss = float(total / max(seen, 1))
        if not np.isfinite(mean_loss):
            raise FloatingPointError(f"training diverged at epoch {epoch + 1} (loss {mean_loss})")
        curve.append({"epoch": epoch + 1, "loss": mean_loss, "lr": lr, "seconds": seconds,
                      "images_per_s": seen / seconds if seconds > 0 else float("nan")})
        bar.set_postfix(loss=f"{mean_loss:.3f}")
    return curve
