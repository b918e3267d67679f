"""Spend one GPU allocation on the full-profile run cache: the next uncached runs, in priority order, stacked.

    python -m thesis_lib.allocate --out "$OUT" --minutes 8          # on the lent machine (scripts/device/allocate.sh)
    python -m thesis_lib.allocate --list                            # here: what the next allocation would train

An allocation is one command of at most 10 minutes on a lent GPU, whose results come back only as files under an
output folder. So this script:

* picks the uncached full-profile runs in :func:`priority` order: Tables 3.1 and 3.2 on ResNet-34A first, then the
  rest of Chapter 3 on ResNet-34A, Chapter 3's other architectures (VGG-11, then ResNet-50), Chapter 4, Chapter 5;
* trains them with the multi-run engine in stacks of one architecture (:mod:`thesis_lib.training.multirun`), each stack
  sized from a timed probe so that it ends before the deadline; a stack whose pace would pass the deadline is
  abandoned after an epoch rather than killed from outside; no stack starts when too little time is left;
* copies every finished record and its outputs into ``<out>/results/runs/full/`` the moment it is saved (to a
  temporary name, then renamed: a half-written file is never the only copy), and rewrites ``<out>/allocation.json``
  (runs finished, GPU-seconds per run, aggregate images/s, achieved TFLOP/s) after each stack;
* prints the same summary at the end.

Unpack the output folder's ``results/`` over the checkout and commit ``results/runs/full``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

from thesis_lib.core import atomic
from thesis_lib.runs import cache

#: Largest stack per architecture: memory and the per-step work at which a stack stops gaining (an estimate to be
#: replaced by the H100 measurements; the probe shrinks a stack that would not fit the time left).
MAX_STACK = {"resnet34a": 48, "vgg11": 24, "resnet50": 8, "preact_resnet18": 10, "preact_resnet34": 10,
             "resnet34": 10, "small_cnn": 16}
#: Seconds per run for evaluation before one has been measured (FGSM on 3,000 images; Chapter 5 adds 15
#: corruptions, whose images are built once per process).
EVAL_GUESS_S = {3: 4.0, 4: 4.0, 5: 15.0}
#: Seconds per run of the single-run engine before one has been measured (the fallback if stacking fails).
SINGLE_GUESS_S = {3: 150.0, 4: 120.0, 5: 200.0}
#: Training images per run at the full profile (Chapter 3: 7,000 less the 100 held out; Chapter 4: plus 810 mixes).
N_TRAIN = {3: 6900, 4: 7810, 5: 7000}
MARGIN = 1.15


def priority(profile: str = "full") -> list:
    """Every table run of the profile, most wanted first, each key once."""
    from thesis_lib.chapters.grids import table_rows

    tiers = [
        (3, ("3.1", "3.2"), ("resnet34a",)),
        (3, None, ("resnet34a",)),
        (3, ("3.1", "3.2", "B.1"), ("vgg11",)),
        (3, ("3.1", "3.2", "B.1"), ("resnet50",)),
        (4, None, None),
        (5, None, None),
    ]
    seen: dict = {}
    for chapter, tables, models in tiers:
        rows = table_rows(chapter, profile, tables, None, models)
        for table in rows.values():
            for row in table:
                for s in row.specs:
                    seen.setdefault(s.key, s)
    return list(seen.values())


def forward_flops(model_name: str) -> float:
    """Forward FLOPs of one 32x32 image (a multiply-add counts 2), by torch's FLOP counter on the CPU."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from thesis_lib.models import get_model

    model = get_model(model_name).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(2, 3, 32, 32))
    return counter.get_total_flops() / 2


def _copy_atomic(src: Path, dest_dir: Path) -> Path:
    """Copy ``src`` into ``dest_dir`` under a temporary name, then rename: never a half-written copy."""
    with atomic.atomic_path(dest_dir / src.name) as tmp:
        shutil.copyfile(src, tmp)
    return dest_dir / src.name


class Allocation:
    """One allocation's bookkeeping: what finished, how long it took, what was copied out."""

    def __init__(self, out: Path | None, budget_s: float, runs_root=None, clock=time.monotonic):
        self.out, self.runs_root, self.clock = out, runs_root, clock
        self.start = clock()
        self.deadline = self.start + budget_s
        self.finished: list[dict] = []
        self.stacks: list[dict] = []
        self.flops: dict[str, float] = {}

    def left(self) -> float:
        return self.deadline - self.clock()

    def saved(self, spec, path: Path) -> None:
        """Called the moment a record is saved: copy it (outputs first) to the output folder."""
        if self.out is not None:
            dest = self.out / "results" / "runs" / spec.profile
            npz = path.with_suffix(".npz")
            if npz.is_file():
                _copy_atomic(npz, dest)
            _copy_atomic(path, dest)
        record = json.loads(Path(path).read_text())
        self.finished.append({"key": spec.key, "label": spec.label(), "model": spec.model,
                              "gpu_s": record["wall_time_s"], "train_s": record["train_time_s"],
                              "eval_s": record.get("eval_time_s"), "engine": record.get("engine")})

    def summary(self) -> dict:
        train_s = sum(s["train_s"] for s in self.stacks)
        images = sum(s["images"] for s in self.stacks)
        flop = sum(s["flop"] for s in self.stacks)
        return {"runs_finished": len(self.finished), "elapsed_s": self.clock() - self.start,
                "stack_train_s": train_s, "aggregate_images_per_s": images / train_s if train_s else 0.0,
                "achieved_tflops": flop / train_s / 1e12 if train_s else 0.0,
                "gpu_s_per_run": (sum(f["gpu_s"] for f in self.finished) / len(self.finished)) if self.finished else None,
                "stacks": self.stacks, "runs": self.finished}

    def report(self) -> None:
        if self.out is not None:
            atomic.write_text(self.out / "allocation.json", json.dumps(self.summary(), indent=1, default=str))


def probe_step_s(specs, device) -> float:
    """Seconds per stacked step of ``specs``' architecture at ``len(specs)`` models, timed on random data."""
    import numpy as np
    import torch

    from thesis_lib.training import multirun
    from thesis_lib.models import get_model
    from thesis_lib.training.loop import Targets, TrainConfig

    s0 = specs[0]
    k, steps = len(specs), 6
    n = s0.batch_size * steps
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    targets = Targets(fixed=np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)])
    cfg = TrainConfig(epochs=2, batch_size=s0.batch_size, lr=s0.lr, momentum=s0.momentum,
                      weight_decay=s0.weight_decay, grad_clip=s0.grad_clip, augment=s0.augment)
    models = [get_model(s0.model) for _ in range(k)]
    factor = 2 if s0.label_method == "mix_maxent" else 1   # Mix-MaxEnt's forward pass sees twice the batch
    cfg_probe = cfg if factor == 1 else TrainConfig(**{**cfg.__dict__, "batch_size": s0.batch_size * factor})
    if factor != 1:
        images = np.concatenate([images, images])
        targets = Targets(fixed=np.concatenate([targets.fixed.numpy()] * 2))
    curves = multirun.train_stacked(models, [images] * k, [targets] * k, cfg_probe, seeds=list(range(k)),
                                    device=device)
    del models
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return curves[0][-1]["seconds"] / steps           # the second epoch: after cuDNN's first-call set-up


def plan_stack(candidates, alloc: Allocation, device, eval_s: float, probe=probe_step_s) -> tuple[list, float]:
    """The largest prefix of ``candidates`` (one architecture) that a probe says ends before the deadline, with its
    projected seconds; ``([], 0)`` when not even one run fits."""
    import math as _m

    s0 = candidates[0]
    k = min(len(candidates), MAX_STACK.get(s0.model, 8))
    n_steps = _m.ceil(min(N_TRAIN[s0.chapter], s0.train_subset or 10**9) / s0.batch_size) * s0.epochs
    while k >= 1:
        step = probe(candidates[:k], device)
        projected = MARGIN * (n_steps * step + k * eval_s)
        if projected <= alloc.left():
            return candidates[:k], projected
        k = min(k - 1, int(k * alloc.left() / projected))  # shrink in proportion, at least by one
    return [], 0.0


def run_allocation(out: Path | None, minutes: float, device: str | None = None, runs_root=None, specs=None,
                   probe=probe_step_s, limit: int | None = None, clock=time.monotonic) -> Allocation:
    """Train the next uncached runs until the time is spent; see the module docstring. ``specs`` (default
    :func:`priority`), ``probe`` and ``clock`` are there for tests (a short fake deadline)."""
    from thesis_lib.training import multirun
    from thesis_lib.runs import run

    run_group = run.run_group
    alloc = Allocation(out, 60 * minutes, runs_root, clock=clock)
    todo = [s for s in (specs if specs is not None else priority()) if cache.load(s, runs_root) is None]
    if limit is not None:
        todo = todo[:limit]
    print(f"allocation: {len(todo)} uncached runs, {minutes:g} min", flush=True)
    eval_s: dict[int, float] = {}
    while todo:
        head = todo[0]
        same = [s for s in todo if multirun.group_key(s) == multirun.group_key(head)]
        try:
            stack, projected = plan_stack(same, alloc, device, eval_s.get(head.chapter, EVAL_GUESS_S[head.chapter]),
                                          probe)
        except (multirun.DeadlineExceeded, KeyboardInterrupt):
            raise
        except Exception as err:  # stacking failed on this machine: the allocation goes on one run at a time
            print(f"multi-run engine failed ({type(err).__name__}: {err}); falling back to single runs", flush=True)
            _single_runs(todo, alloc, device, runs_root)
            break
        if not stack:
            print(f"stop: {alloc.left():.0f} s left, not enough for one {head.model} run", flush=True)
            break
        print(f"stack: {len(stack)} x {head.model} (chapter {head.chapter}), projected {projected:.0f} s of "
              f"{alloc.left():.0f} s left", flush=True)
        t0 = time.perf_counter()
        try:  # training must leave time for the stack's evaluation
            evaluation = MARGIN * len(stack) * eval_s.get(head.chapter, EVAL_GUESS_S[head.chapter])
            records = run_group(stack, device, runs_root=runs_root, on_saved=alloc.saved,
                                deadline=time.monotonic() + alloc.left() - evaluation)  # the engine's clock
        except multirun.DeadlineExceeded as err:
            print(f"abandoned: {err}", flush=True)
            break
        wall = time.perf_counter() - t0
        flops = alloc.flops.setdefault(head.model, forward_flops(head.model))
        images = sum(c["images_per_s"] * c["seconds"] for r in records for c in r["curve"])  # forward images
        train_s = records[0]["group_train_time_s"]
        alloc.stacks.append({"model": head.model, "chapter": head.chapter, "k": len(records), "wall_s": wall,
                             "train_s": train_s, "images": images, "flop": 3 * flops * images,
                             "projected_s": projected})
        eval_s[head.chapter] = max(r["eval_time_s"] for r in records)
        done = {r["key"] for r in records}
        todo = [s for s in todo if s.key not in done]
        alloc.report()
        print(f"  {len(records)} runs in {wall:.0f} s: {train_s / len(records):.1f} GPU-s of training per run, "
              f"{images / train_s:.0f} images/s, {3 * flops * images / train_s / 1e12:.1f} TFLOP/s", flush=True)
    alloc.report()
    summary = alloc.summary()
    print(json.dumps({k: v for k, v in summary.items() if k not in ("stacks", "runs")}, indent=1), flush=True)
    return alloc


def _single_runs(todo, alloc: Allocation, device, runs_root) -> None:
    """The fallback: one run at a time with the single-run engine, each started only if it should end in time."""
    from thesis_lib.runs.execute import execute

    took: dict[tuple, float] = {}
    for spec in todo:
        guess = took.get((spec.chapter, spec.model), SINGLE_GUESS_S[spec.chapter])
        if MARGIN * guess > alloc.left():
            print(f"stop: {alloc.left():.0f} s left, a {spec.model} run takes about {guess:.0f} s", flush=True)
            return
        t0 = time.perf_counter()
        path = cache.save(spec, execute(spec, device), runs_root)
        took[(spec.chapter, spec.model)] = time.perf_counter() - t0
        alloc.saved(spec, path)
        alloc.report()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m thesis_lib.allocate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="the output folder whose files come back")
    p.add_argument("--minutes", type=float, default=8.0, help="time budget of this process (default 8)")
    p.add_argument("--device", default=None)
    p.add_argument("--list", action="store_true", help="only print the priority order and what is cached")
    a = p.parse_args(argv)
    from thesis_lib.data import DataError

    try:
        specs = priority()
        if a.list:
            cached = [cache.load(s) is not None for s in specs]
            print(f"{len(specs)} full-profile table runs, {sum(cached)} cached; next uncached, in order:")
            for s in [s for s, c in zip(specs, cached) if not c][:20]:
                print(f"  {s.key}  {s.label()}")
            return 0
        if a.out is None:
            raise ValueError("--out is required (the output folder whose files come back)")
        if not math.isfinite(a.minutes) or a.minutes <= 0:
            raise ValueError(f"--minutes must be positive, got {a.minutes}")
        run_allocation(a.out, a.minutes, a.device)
    except (ValueError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
