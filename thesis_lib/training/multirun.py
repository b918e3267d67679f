"""Many runs at once on one device: K runs of one architecture trained as one stacked model, on a GPU as one
captured CUDA graph per step.

A GPU is lent to this project for minutes at a time, and a single Chapter 3 run (ResNet-34A, batch 32) cannot keep
it busy: a step is ~800 small kernels, so the host's launch rate, not the GPU, sets the pace (measured on an H100:
70-120 ms per eager stacked step whatever K, against 2-4 ms of arithmetic for 48 runs). So:

* the K models' parameters and BatchNorm buffers are stacked along a leading dimension
  (``torch.func.stack_module_state``) and one ``vmap``-ed ``functional_call`` runs all K forward and backward passes
  as batched (grouped) kernels;
* each run's randomness is drawn once per epoch from its own generator (:func:`thesis_lib.training.loop.epoch_draws`,
  exactly as the single-run loop draws it) into static device buffers, and the step (:class:`_Stack.step`) is index
  arithmetic on them: gather the K batches, crop and flip, pick annotators, forward, loss, backward, per-run
  clipping, SGD with momentum and weight decay by hand with the learning rate as a device tensor, and the loss
  tally. Nothing in it reads the host or draws a random number;
* on a GPU that step is captured once per stack (``torch.cuda.graph``) and replayed: a step costs the host one
  graph launch. The epoch's short last batch (6,900 = 215 x 32 + 20) has a graph of its own. On a CPU the same
  step function runs eagerly (tests compare it with the single-run loop there).

Every run stays exactly its own ``RunSpec``: its initialisation (the caller builds each model from its seed), its
data stream (its generator, in the single loop's order of draws), its loss, its gradient clipping (its own norm),
its schedule and its BatchNorm statistics (stacked buffers, updated in place). The K losses are summed, and a sum's
gradient with respect to model k's parameters is model k's gradient alone. What differs is arithmetic only (a
stacked convolution is one grouped convolution); the record says which engine trained a run (``engine``), which is
not part of the cache key, like the device.

BatchNorm sees float32 inputs: under bf16 autocast a bias-free convolution hands BatchNorm a bf16 tensor, and
vmap's BatchNorm rule then makes its stand-in weight in bf16 beside float32 running statistics, which the CUDA
backward refuses ("Expected running_mean to have type BFloat16 but got Float", PreAct ResNets on an H100). A
pre-hook on every BatchNorm of the stacked model casts its input to float32 first (:func:`stacked_forward`).

Runs with a mixing hook or their own loss (Chapters 4 and 5) draw inside the step, so they train eagerly (stacked,
not captured). Runs stack when everything that shapes a step is equal: :func:`group_key` says which.
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

from thesis_lib.training.augment import crop_flip_at
from thesis_lib.training.loop import Targets, TrainConfig, epoch_draws, images_to_device, lr_at, resolve_device
from thesis_lib.training.metrics import soft_cross_entropy


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


# --- which architectures capture their step (the allocation's self-check may turn one off) -------------------------

_GRAPHS_OFF: set[str] = set()


def set_graphs(model_name: str, enabled: bool) -> None:
    """Turn CUDA-graph capture on or off for one architecture (off: its stacks train eagerly)."""
    (_GRAPHS_OFF.discard if enabled else _GRAPHS_OFF.add)(model_name)


def graphs_enabled(model_name: str) -> bool:
    return model_name not in _GRAPHS_OFF


# --- the stacked model -------------------------------------------------------------------------------------------

def _bn_input_float32(module, args):
    """BatchNorm pre-hook: a reduced-precision input is cast to float32 (see the module docstring)."""
    x = args[0]
    return (x.float(),) + tuple(args[1:]) if x.dtype in (torch.bfloat16, torch.float16) else None


def stacked_forward(models: list[nn.Module]):
    """``(forward, params, buffers)``: the K models' weights stacked (new leaf tensors, (K, ...) each) and
    ``forward(params, buffers, x)`` mapping x (K, B, C, H, W) to logits (K, B, classes), model k on x[k]. Every
    BatchNorm of the shared architecture casts its input to float32 first."""
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")      # the architecture only; weights come from the stacks
    base.train(models[0].training)
    for m in base.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.register_forward_pre_hook(_bn_input_float32)

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    forward = vmap(one)
    forward.one = one                                 # model k alone: one(params[k], buffers[k], x[k]) (tests)
    return forward, params, buffers           # randomness="error": the models must draw no random numbers


def _clip_per_run(grads: list[torch.Tensor], max_norm: float, k: int) -> None:
    """``clip_grad_norm_`` applied to each run's own gradients (the slices [r] of every stacked gradient)."""
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(k, -1), dim=1) for g in grads])  # (params, K)
    total = torch.linalg.vector_norm(norms, dim=0)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(k, *([1] * (g.dim() - 1))))


class _Stack:
    """The device state of K runs (weights, momenta, data, this epoch's draws) and the step that advances them."""

    def __init__(self, models, images, targets, cfg: TrainConfig, seeds, device, batch_hooks, loss_fns):
        self.k, self.cfg, self.device = len(models), cfg, device
        self.cuda = device.type == "cuda"
        self.forward, self.params, self.buffers = stacked_forward(models)
        self.plist = list(self.params.values())
        self.dtype = self.plist[0].dtype            # float32; float64 only where tests compare the engines exactly
        self.momenta = [torch.zeros_like(p) for p in self.plist]
        self.lr = torch.zeros((), device=device, dtype=self.dtype)
        self.hooks, self.loss_fns = list(batch_hooks), list(loss_fns)
        self.n = n = len(targets[0])
        # the K training sets side by side: (K * n, C, H, W) pixels, (K * n, M, 10) annotator pools
        self.x = torch.cat([images_to_device(im, device) for im in images])
        pools = [t.as_pool() for t in targets]
        width = max(p.shape[1] for p, _ in pools)
        self.pool = torch.cat([F.pad(p, (0, 0, 0, width - p.shape[1])) for p, _ in pools]).to(device)
        self.counts = torch.cat([c for _, c in pools]).to(device)
        self.offset = (torch.arange(self.k, device=device) * n)[:, None]     # run r's rows start at r * n
        self.gens = []
        for s in seeds:
            g = torch.Generator(device=device)
            g.manual_seed(int(s))
            self.gens.append(g)
        self.draws = {name: None for name in ("order", "dy", "dx", "flip", "u")}
        self.totals = torch.zeros(self.k, device=device, dtype=self.dtype)

    def new_epoch(self, epoch: int) -> None:
        """Draw every run's epoch (its own generator, the single loop's order) into the static draw buffers."""
        per = [epoch_draws(self.n, g, self.device) for g in self.gens]
        for name in self.draws:
            fresh = torch.stack([d[name] for d in per])
            if self.draws[name] is None:
                self.draws[name] = fresh
            else:                                   # same storage: a captured graph reads these very buffers
                self.draws[name].copy_(fresh)
        self.lr.fill_(lr_at(self.cfg, epoch))
        self.totals.zero_()

    def step(self, pos: torch.Tensor) -> None:
        """One SGD step of all K runs on the epoch positions ``pos`` (B,), then ``pos += B``. Host-free: fit for
        capture as long as no run has a hook or a loss of its own."""
        k, b, cfg = self.k, pos.shape[0], self.cfg
        idx = self.draws["order"][:, pos]                           # (K, B): each run's images at these positions
        rows = (idx + self.offset).reshape(-1)
        x = self.x[rows].to(self.dtype).div_(255.0)
        if cfg.augment:
            x = crop_flip_at(x, self.draws["dy"][:, pos].reshape(-1), self.draws["dx"][:, pos].reshape(-1),
                             self.draws["flip"][:, pos].reshape(-1))
        pick = (self.draws["u"][:, pos].reshape(-1) * self.counts[rows]).long()
        y = self.pool[rows, pick]                       # float32, as the single loop's targets
        x, y = x.view(k, b, *x.shape[1:]), y.view(k, b, -1)
        ys = y
        if any(h is not None for h in self.hooks):              # eager only: hooks draw from the run's generator
            mixed = [h(x[r], y[r], self.gens[r]) if h is not None else (x[r], y[r]) for r, h in enumerate(self.hooks)]
            # a hook may change the batch's size (Mix-MaxEnt appends the mixed copy) and hand its loss a target
            # of its own shape (clean targets, count): the stacked runs share the hook, so the x's stack; the
            # targets stay per run for the runs' own losses
            x, ys = torch.stack([m[0] for m in mixed]), [m[1] for m in mixed]
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.cuda, cache_enabled=False):
            logits = self.forward(self.params, self.buffers, x)
        logits = logits if logits.dtype == torch.float64 else logits.float()
        if all(f is None for f in self.loss_fns):  # soft cross-entropy of every run at once
            y = ys if isinstance(ys, torch.Tensor) else torch.stack(ys)
            losses = -(y * F.log_softmax(logits, dim=-1)).sum(-1).mean(-1)
        else:
            losses = torch.stack([(self.loss_fns[r] or soft_cross_entropy)(logits[r], ys[r]) for r in range(k)])
        grads = list(torch.autograd.grad(losses.sum(), self.plist))
        with torch.no_grad():
            if cfg.grad_clip is not None:
                _clip_per_run(grads, cfg.grad_clip, k)
            # torch.optim.SGD (dampening 0, not Nesterov) element-wise, with the learning rate on the device
            torch._foreach_add_(grads, self.plist, alpha=cfg.weight_decay)
            torch._foreach_mul_(self.momenta, cfg.momentum)
            torch._foreach_add_(self.momenta, grads)
            torch._foreach_add_(self.plist, torch._foreach_mul(self.momenta, self.lr), alpha=-1.0)
            self.totals.add_(losses.detach().to(self.dtype) * b)
            pos.add_(b)

    def state(self) -> list[torch.Tensor]:
        return self.plist + list(self.buffers.values()) + self.momenta + [self.totals]

    def capture(self, b: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        """A CUDA graph of :meth:`step` at batch ``b`` and its static position buffer. The warm-up steps the capture
        needs run on copies of the state, which is restored after, so capturing changes no run."""
        pos = torch.arange(b, device=self.device)
        saved = [t.clone() for t in self.state()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                pos.copy_(torch.arange(b, device=self.device))
                self.step(pos)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.step(pos)
        with torch.no_grad():
            for t, s in zip(self.state(), saved):
                t.copy_(s)
        return graph, pos


def train_stacked(models: list[nn.Module], images: list[np.ndarray], targets: list[Targets], cfg: TrainConfig, *,
                  seeds: list[int], device: torch.device | str | None = None, batch_hooks=None, loss_fns=None,
                  progress: bool = False, desc: str = "stacked", deadline: float | None = None,
                  graph: bool | None = None) -> list[list[dict]]:
    """Train K models of one architecture together, in place; returns each run's curve (one dict per epoch).

    ``images[k]`` / ``targets[k]`` / ``seeds[k]`` / ``batch_hooks[k]`` / ``loss_fns[k]`` are what
    :func:`thesis_lib.training.loop.train` would get for run k. ``graph``: capture the step as a CUDA graph (default:
    on a GPU when no run has a hook or a loss of its own). ``deadline`` (``time.monotonic()`` value): after each
    epoch the group's end is projected from its pace, and a group that would end past the deadline raises
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
    hookless = all(h is None for h in batch_hooks) and all(f is None for f in loss_fns)
    if graph is None:
        graph = device.type == "cuda" and hookless
    if graph and (device.type != "cuda" or not hookless):
        raise ValueError("a CUDA graph needs a GPU and runs without mixing hooks or losses of their own")
    for m in models:
        m.to(device=device).train()
    st = _Stack(models, images, targets, cfg, seeds, device, batch_hooks, loss_fns)
    b = cfg.batch_size
    full, tail = divmod(n, b)
    tail = tail if tail >= 2 else 0                  # as train(): BatchNorm cannot train on a single example
    graphs: dict[int, tuple] = {}
    curves: list[list[dict]] = [[] for _ in range(k)]
    start = time.monotonic()
    capture_s = 0.0
    bar = tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        st.new_epoch(epoch)
        if graph and not graphs:                     # captured once, on the first epoch's buffers
            c0 = time.perf_counter()
            graphs = {size: st.capture(size) for size in {b, tail} - {0}}
            capture_s = time.perf_counter() - c0
        for size, lo, count in ((b, 0, full), (tail, full * b, 1 if tail else 0)):   # full batches, short one
            if not count:
                continue
            if graph:
                g, pos = graphs[size]
                pos.copy_(torch.arange(lo, lo + size, device=device))
                for _ in range(count):
                    g.replay()
            else:
                pos = torch.arange(lo, lo + size, device=device)
                for _ in range(count):
                    st.step(pos)
        if st.cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        seen = full * b + tail
        mean = (st.totals / max(seen, 1)).tolist()   # one host sync per epoch, none per step
        bad = [r for r in range(k) if not np.isfinite(mean[r])]
        if bad:
            raise FloatingPointError(f"training diverged at epoch {epoch + 1} in stacked run(s) {bad} "
                                     f"(losses {[mean[r] for r in bad]})")
        steps = full + (1 if tail else 0)
        for r in range(k):
            curves[r].append({"epoch": epoch + 1, "loss": mean[r], "lr": lr_at(cfg, epoch), "seconds": seconds,
                              "images_per_s": seen / seconds if seconds > 0 else float("nan"), "stacked": k,
                              "graph": bool(graph), "step_s": seconds / max(steps, 1),
                              **({"capture_s": capture_s} if epoch == 0 and graph else {})})
        bar.set_postfix(loss=f"{float(np.mean(mean)):.3f}")
        if deadline is not None and epoch + 1 < cfg.epochs:
            per_epoch = (time.monotonic() - start) / (epoch + 1)
            if time.monotonic() + per_epoch * (cfg.epochs - epoch - 1) > deadline:
                raise DeadlineExceeded(f"{desc}: {cfg.epochs - epoch - 1} epochs left at {per_epoch:.1f} s each "
                                       f"would pass the deadline")
    with torch.no_grad():  # hand each run its trained weights and statistics back
        for r, m in enumerate(models):
            for name, p in m.named_parameters():
                p.copy_(st.params[name][r])
            for name, buf in m.named_buffers():
                buf.copy_(st.buffers[name][r])
    return curves


def graph_self_check(make_model, device=None, k: int = 2, batch_size: int = 32) -> tuple[bool, str]:
    """Does a captured step of the architecture ``make_model()`` builds train as the eager step does, under bf16, on
    this GPU? Two epochs of two batches (a full and a short one) on random data, once captured and once eager from
    the same weights; the weights must agree to bf16 rounding and stay finite. ``(False, why)`` on a CPU or on any
    failure. (The caller passes the factory: this layer knows no model registry.)"""
    device = resolve_device(device)
    if device.type != "cuda":
        return False, "cpu: eager"
    try:
        rng = np.random.default_rng(0)
        n = batch_size + batch_size // 2
        images = [rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)] * k
        targets = [Targets(fixed=np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)])] * k
        cfg = TrainConfig(epochs=2, batch_size=batch_size, lr=0.05, milestones=(1,), grad_clip=1.0, augment=True)
        out = {}
        for use in (True, False):
            torch.manual_seed(0)
            models = [make_model() for _ in range(k)]
            train_stacked(models, images, targets, cfg, seeds=list(range(k)), device=device, graph=use)
            out[use] = torch.cat([torch.cat([p.detach().float().flatten() for p in m.parameters()]) for m in models])
        if not torch.isfinite(out[True]).all():
            return False, "captured step gave non-finite weights"
        diff = (out[True] - out[False]).abs().max().item()
        scale = out[False].abs().max().item()
        ok = diff <= 2e-2 * max(scale, 1.0)
        return ok, f"captured vs eager: max |dw| = {diff:.2e} (weights up to {scale:.2f})"
    except Exception as err:  # any failure of capture on this machine: the caller falls back to eager stacks
        return False, f"{type(err).__name__}: {err}"
