"""Execute one run spec on this machine, without the cache: build what it trains on (through the chapter registry,
:mod:`thesis_lib.runs.chapters`), train it, evaluate it and make its record. The executors (local single runs and
stacks, :mod:`thesis_lib.runs.run`; Ray tasks, :mod:`thesis_lib.runs.ray_backend`) all go through here."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import torch

import thesis_lib
from thesis_lib import data
from thesis_lib.data.cifar10c import CORRUPTIONS, check_available
from thesis_lib.models import get_model
from thesis_lib.runs.chapters import run_data as _run_data
from thesis_lib.runs.spec import RunSpec
from thesis_lib.training import metrics
from thesis_lib.training.loop import TrainConfig, check_compile, resolve_device, train
from thesis_lib.training.stacked_eval import evaluate_sets_stacked


def versions() -> dict:
    import scipy  # imported for its version only
    import torchattacks  # as training.metrics: only the robustness metric needs it

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "torchattacks": torchattacks.__version__, "thesis_lib": thesis_lib.__version__}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def device_share() -> float:
    """This run's share of its device: ``THESIS_DEVICE_SHARE``, set to 1/N for the N concurrent runs of
    ``run_grid(jobs=N)`` and to the GPU fraction of a Ray task (device-hours per table are wall time x share)."""
    share = float(os.environ.get("THESIS_DEVICE_SHARE", "1"))
    if not 0 < share <= 1:
        raise ValueError(f"THESIS_DEVICE_SHARE must lie in (0, 1], got {share}")
    return share


@dataclass
class Prepared:
    """A run ready to train: its data, its freshly initialised model and its training configuration."""

    spec: RunSpec
    device: torch.device
    cifar10: object
    rd: object
    model: torch.nn.Module
    cfg: TrainConfig
    hooks: dict
    t0: float
    setup_s: float


def prepare(spec: RunSpec, device: str | torch.device | None = None) -> Prepared:
    """Everything a run needs before its first step (the model initialised from the spec's seed)."""
    dev = resolve_device(device)
    if spec.profile == "full" and dev.type != "cuda":
        raise ValueError("profile 'full' is the thesis protocol and needs a CUDA GPU; use profile 'quick' on a CPU")
    t0 = time.perf_counter()
    cifar10 = data.load_cifar10_test()
    if cifar10.provenance.source != spec.images:
        raise ValueError(f"spec expects {spec.images} images but the data source gives {cifar10.provenance.source}")
    rd = _run_data(spec)
    if rd.corruption_eval:  # the corrupted evaluation sets need files outside the data: check before training
        check_available()
    torch.manual_seed(spec.seed)
    model = get_model(spec.model)
    cfg = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, momentum=spec.momentum,
                      weight_decay=spec.weight_decay, milestones=spec.milestones, lr_decay=spec.lr_decay,
                      grad_clip=spec.grad_clip, augment=spec.augment)
    hooks = {k: v for k, v in (("batch_hook", rd.batch_hook), ("loss_fn", rd.loss_fn)) if v is not None}
    return Prepared(spec, dev, cifar10, rd, model, cfg, hooks, t0, time.perf_counter() - t0)


def finish(p: Prepared, curve: list[dict], *, engine: str = "single", compile_mode: str = "off",
           share: float | None = None, train_time: float | None = None, evaluated: dict | None = None,
           evaluated_time: float = 0.0) -> dict:
    """Evaluate a trained run and make its record; the evaluation outputs ride along under ``"outputs"`` (the run
    cache writes them beside the record, :func:`thesis_lib.runs.cache.save`).

    ``train_time``: the run's part of the training time when it trained beside others (multi-run engine).
    ``evaluated``: evaluation sets already evaluated for this run, name -> ``(results, outputs)`` as
    :func:`thesis_lib.training.metrics.evaluate` returns and fills them (the multi-run engine evaluates a stack at
    once, :mod:`thesis_lib.training.stacked_eval`); those sets are not evaluated again, the others are. Results that
    already hold ``corruption_ce`` keep it; otherwise a corruption set's CE is computed here. ``evaluated_time``: the
    run's share of that evaluation's time (seconds)."""
    spec, rd, cifar10, dev = p.spec, p.rd, p.cifar10, p.device
    evaluated = evaluated or {}
    train_end = time.perf_counter()
    results, outputs = {}, {}
    for name, (idx, soft) in rd.eval_sets.items():
        soft_t = torch.as_tensor(soft, dtype=torch.float32)
        if name in evaluated:
            res, kept = evaluated[name]
            results[name] = dict(res)
        else:
            x = torch.as_tensor(cifar10.images[idx]).permute(0, 3, 1, 2).float().div(255.0)
            kept = {}
            results[name] = metrics.evaluate(p.model, x, soft_t, device=dev, eps=spec.fgsm_eps, outputs=kept)
        outputs[name] = {"idx": np.asarray(idx), **{k: v.numpy() for k, v in kept.items()}}
        if name in rd.corruption_eval and "corruption_ce" not in results[name]:
            results[name].update(metrics.corruption_ce(p.model, cifar10.images[idx], soft_t, dev))
    # A stacked evaluation ran before this call, for all its runs at once: each run is charged its equal share of
    # that time (evaluated_time), so that the eval times of a stack's records add up to the time it took.
    eval_time = time.perf_counter() - train_end + evaluated_time
    train_images = len(rd.targets) * len(curve)
    if train_time is None:
        train_time = sum(c["seconds"] for c in curve)
    if engine == "single":
        wall = train_end - p.t0 + eval_time
    else:  # trained beside others: its own set-up and evaluation, plus its part of the shared training
        wall = p.setup_s + train_time + eval_time
    return {
        "key": spec.key, "spec": spec.as_dict(), "label": spec.label(), "profile": spec.profile,
        "metrics": results, "curve": curve,
        "wall_time_s": wall, "train_time_s": train_time, "eval_time_s": eval_time,
        "setup_time_s": wall - train_time - eval_time,
        "train_images_per_s": train_images / train_time if train_time > 0 else float("nan"),
        "n_train": int(len(rd.targets)), "device": device_name(dev), "engine": engine, "compile": compile_mode,
        "device_share": device_share() if share is None else share, "versions": versions(),
        "image_provenance": cifar10.provenance.as_dict(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "outputs": outputs,
    }


def evaluate_stack(stack: list[Prepared]) -> list[dict]:
    """Every evaluation set of the trained runs ``stack`` (one stack of the multi-run engine), evaluated stacked
    (:mod:`thesis_lib.training.stacked_eval`): per set a few vmap-ed passes for all the runs, where
    :func:`metrics.evaluate` one model at a time is host-bound on a GPU (~4 s a Chapter 3 run on an H100). Same
    numbers as :func:`finish` computes one run at a time (tests/test_training_stacked_eval.py); returns per run
    what :func:`finish` takes as ``evaluated``, Chapter 5's corruption CE included."""
    models, dev = [p.model for p in stack], stack[0].device
    pixels: dict = {}  # one float copy per distinct image set: e.g. every seed's CIFAR-10H images are the same

    def images_of(p, idx, corruption=None):
        key = (id(p.cifar10.images), np.asarray(idx).tobytes(), corruption)
        if key not in pixels:
            u8 = p.cifar10.images[idx]
            pixels[key] = (torch.as_tensor(u8).permute(0, 3, 1, 2).float().div(255.0) if corruption is None
                           else metrics.corrupted(u8, corruption))
        return pixels[key]

    # runs whose sets differ in length (or FGSM budget) are stacked apart, down to one run (evaluate_sets_stacked)
    sets = [{name: (images_of(p, idx), torch.as_tensor(soft, dtype=torch.float32))
             for name, (idx, soft) in p.rd.eval_sets.items()} for p in stack]
    evaluated = evaluate_sets_stacked(models, sets, eps=[p.spec.fgsm_eps for p in stack], device=dev)
    # Chapter 5's corruption CE (metrics.corruption_ce: clean CE on each of the 15 CIFAR-10-C sets, their mean),
    # stacked the same way, one corruption at a time so that only its images are held
    corr = [[name for name in p.rd.corruption_eval if name in p.rd.eval_sets] for p in stack]
    if any(corr):
        by_type = [{name: {} for name in names} for names in corr]
        for corruption in CORRUPTIONS:
            pixels.clear()
            got = evaluate_sets_stacked(
                models, [{name: (images_of(p, p.rd.eval_sets[name][0], corruption), sets[i][name][1])
                          for name in corr[i]} for i, p in enumerate(stack)], eps=0.0, device=dev, fgsm=False)
            for i, names in enumerate(corr):
                for name in names:
                    by_type[i][name][corruption] = got[i][name][0]["ce"]
        for i, per_set in enumerate(by_type):
            for name, per in per_set.items():
                evaluated[i][name][0].update({"corruption_ce": float(np.mean(list(per.values()))),
                                              "corruption_ce_by_type": per})
    return evaluated


def execute(spec: RunSpec, device: str | None = None, progress: bool = False) -> dict:
    """Train and evaluate ``spec`` alone (no cache); returns the result record."""
    compile_mode = check_compile(os.environ.get("THESIS_COMPILE"))  # an execution choice, like the device: not in the key
    p = prepare(spec, device)
    curve = train(p.model, p.rd.training_images(p.cifar10.images), p.rd.targets, p.cfg, seed=spec.seed,
                  device=p.device, progress=progress, desc=spec.label(), compile=compile_mode, **p.hooks)
    return finish(p, curve, compile_mode=compile_mode)


#: PyTorch threads of every CPU run, whatever ``--jobs`` is: a CPU run's numbers depend on its thread count (the
#: order of floating-point reductions), which is not in the cache key, so it is fixed; the record's ``device``
#: says it ("cpu (..., 1 threads)"). ``--jobs N`` then runs N one-thread runs at once.
CPU_THREADS = 1


@contextlib.contextmanager
def run_threads(device: str | None = None):
    """Run the body with :data:`CPU_THREADS` PyTorch threads when ``device`` resolves to the CPU (restored after);
    on a GPU the thread count is left as it is."""
    if resolve_device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)
