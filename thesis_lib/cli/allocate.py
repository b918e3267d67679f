"""Spend one GPU allocation on the run cache: the next uncached runs, in priority order, stacked; carried back in
one archive and imported here.

    bash scripts/device/allocate.sh "$OUT" 8                        # on the lent machine (the device tool's command)
    python -m thesis_lib.allocate --import <files_at>               # here: verify and cache what came back
    python -m thesis_lib.allocate --list                            # here: what the next allocation would train
    python -m thesis_lib.allocate --profile smoke --device cpu --minutes 3 --limit 4 --out /tmp/alloc   # a dry run

An allocation is one command of at most 10 minutes on a lent GPU, whose results come back only as at most 8 files
(16 MiB each, at most two folders down) of an output folder. So this script:

* picks the uncached runs of the profile in :func:`priority` order: Tables 3.1 and 3.2 on ResNet-34A first, then the
  rest of Chapter 3 on ResNet-34A, Chapter 3's other architectures (VGG-11, then ResNet-50), Chapter 4, Chapter 5;
* on a GPU, checks before an architecture's first stack that its captured CUDA-graph step trains as the eager one
  does (``multirun.graph_self_check``), and trains it eagerly if not, or if the check fails in any way;
* trains them with the multi-run engine in stacks of one architecture (:mod:`thesis_lib.training.multirun`), each
  sized by :func:`plan_stack` from step times measured by a few short probes (at most ~20 s in all; a probe's step
  time is kept per architecture and stack size, and others are interpolated linearly in K) and by the stacks already
  trained, so that it ends before the deadline. When the most wanted group does not fit, a smaller stack of it,
  then the next groups, are tried: the allocation stops only when not one more run of any group fits. A stack whose
  pace would pass the deadline is abandoned after an epoch (and not tried again at that size). The plan (stacks, K,
  projected end) is printed before each stack;
* keeps every finished record with its outputs in ``<out>/runs.tar`` (:mod:`thesis_lib.runs.archive`), rewritten
  whole (temporary name, then rename) after each saved record, so a command killed at its limit has returned all
  that finished; and rewrites ``<out>/allocation.json`` (runs, GPU-seconds per run, step times, images/s, TFLOP/s,
  the plan, the probes, the graph checks) at the start and after each stack. Nothing else is written to ``<out>``.

``--import`` verifies each record of a returned folder (or archive) as the run cache does on load, plus its
outputs' sha256, and puts the good ones into the run cache; a failed record is named with the reason and left out.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from thesis_lib.chapters import grids
from thesis_lib.core.catalogue import table_ids
from thesis_lib.core import atomic
from thesis_lib.core.profiles import PROFILES
from thesis_lib.data import DataError
from thesis_lib.models import get_model
from thesis_lib.runs import archive, cache, execute, run
from thesis_lib.training import multirun
from thesis_lib.training.loop import Targets, TrainConfig

#: Largest stack per architecture: what the card's memory and the gain per step allow at most (the probes decide
#: below it; an out-of-memory probe halves it). ResNet-34A at 96 needs the 139 GiB card, 48 fits an H100.
MAX_STACK = {"resnet34a": 96, "vgg11": 24, "resnet50": 8, "preact_resnet18": 10, "preact_resnet34": 10,
             "resnet34": 10, "small_cnn": 16}
#: Seconds per run for evaluation before one has been measured (FGSM on 3,000 images; Chapter 5 adds 15
#: corruptions, whose images are built once per process).
EVAL_GUESS_S = {3: 4.0, 4: 4.0, 5: 15.0}
#: Seconds per run to prepare it (images, the chapter's data, the model) before one has been measured: a stack
#: prepares its runs one after the other before training them.
SETUP_GUESS_S = {3: 1.0, 4: 2.0, 5: 2.0}
#: Seconds per run of the single-run engine before one has been measured (the fallback if stacking fails).
SINGLE_GUESS_S = {3: 150.0, 4: 120.0, 5: 200.0}
#: Training images per run at the full profile (Chapter 3: 7,000 less the 100 held out; Chapter 4: plus 810 mixes).
N_TRAIN = {3: 6900, 4: 7810, 5: 7000}
MARGIN = 1.15
#: Seconds of probing per allocation. The first probe of a step-time key is always made (nothing can be planned
#: without one, unless a step time was passed in; on a GPU it costs a few seconds); further probes only refine a
#: plan, and one is made only if, at the cost of that key's last probe, it keeps the total within this.
PROBE_BUDGET_S = 20.0
#: Probes per step-time key at most: with the stacks trained, 2-3 points fix the line in K.
MAX_PROBES_PER_KEY = 3
#: A plan whose K is this far from every measured K is re-probed at that K (when the probe budget allows).
REPROBE_RATIO = 0.75


def priority(profile: str = "full") -> list:
    """Every table run of the profile, most wanted first, each key once: the headline Tables 3.1 and 3.2 on
    ResNet-34A, then every Chapter 3 table on it, then the other two architectures of the tables that average three
    (their thesis protocol, :func:`thesis_lib.chapters.grids.thesis_protocol`), then Chapters 4 and 5. The tiers
    name the full protocol's architectures; the quick and smoke profiles swap every model for the small CNN, so
    there each tier takes the profile's own models (same tables, same order)."""

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    three = tuple(t for t in table_ids(3) if len(grids.thesis_protocol(t)[0]) > 1)
    tiers = [
        (3, ("3.1", "3.2"), ("resnet34a",)),
        (3, None, ("resnet34a",)),
        (3, three, ("vgg11",)),
        (3, three, ("resnet50",)),
        (4, None, None),
        (5, None, None),
    ]
    seen: dict = {}
    for chapter, tables, models in tiers:
        grid = grids.build(chapter, profile, tables=tables, figures=(), models=models if profile == "full" else None)
        for s in grid.specs():
            seen.setdefault(s.key, s)
    return list(seen.values())


def forward_flops(model_name: str) -> float:
    """Forward FLOPs of one 32x32 image (a multiply-add counts 2), by torch's FLOP counter on the CPU."""


    model = get_model(model_name).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(2, 3, 32, 32))
    return counter.get_total_flops() / 2


# --- step times ----------------------------------------------------------------------------------------------------

def step_key(spec) -> tuple:
    """What a stacked step's time depends on besides K: chapter (its hooks decide graph or eager), architecture and
    the images per step (Mix-MaxEnt's forward pass sees twice the batch)."""
    return (spec.chapter, spec.model, spec.batch_size * (2 if spec.label_method == "mix_maxent" else 1))


def n_steps(spec) -> int:
    """Training steps of one run of ``spec`` (an upper bound: the training set is at most this large)."""
    return math.ceil(min(N_TRAIN[spec.chapter], spec.train_subset or 10**9) / spec.batch_size) * spec.epochs


class StepTimes:
    """Seconds per stacked step by :func:`step_key` and K, from probes, trained stacks and measurements passed in
    (``given``: by architecture, used for a key with no point of its own). Between measured K the estimate is
    linear; below the smallest it is bounded by that point (a smaller stack is not slower) and by proportionality
    (nor faster per run); above the largest it continues the last two points' line (or, from one point, grows in
    proportion to K: the pessimistic compute-bound case)."""

    def __init__(self, given: dict | None = None):
        self.points: dict[tuple, dict[int, float]] = {}
        self.sources: dict[tuple, dict[int, str]] = {}
        self.given: dict[str, dict[int, float]] = {m: dict(v) for m, v in (given or {}).items()}
        self.too_big: dict[tuple, int] = {}        # the smallest K that ran out of memory

    def add(self, key: tuple, k: int, seconds: float, source: str) -> None:
        if not (math.isfinite(seconds) and seconds > 0):
            return
        self.points.setdefault(key, {})[k] = seconds
        self.sources.setdefault(key, {})[k] = source

    def of(self, key: tuple) -> dict[int, float]:
        return self.points.get(key) or self.given.get(key[1], {})

    def known(self, key: tuple) -> bool:
        return bool(self.of(key))

    def estimate(self, key: tuple, k: int) -> float | None:
        pts = sorted(self.of(key).items())
        if not pts:
            return None
        d = dict(pts)
        if k in d:
            return d[k]
        below = [p for p in pts if p[0] < k]
        above = [p for p in pts if p[0] > k]
        if below and above:
            (k1, s1), (k2, s2) = below[-1], above[0]
            return s1 + (s2 - s1) * (k - k1) / (k2 - k1)
        if above:                                   # below every measured K
            k1, s1 = above[0]
            line = s1 if len(above) == 1 else s1 + (above[1][1] - s1) * (k - k1) / (above[1][0] - k1)
            return min(s1, max(line, s1 * k / k1))
        kl, sl = below[-1]                          # above every measured K
        if len(below) == 1:
            return sl * k / kl
        k0, s0 = below[-2]
        return max(sl, sl + (sl - s0) * (k - kl) / (kl - k0))

    def table(self) -> list[dict]:
        return [{"chapter": key[0], "model": key[1], "batch": key[2], "k": k, "step_s": s,
                 "source": self.sources.get(key, {}).get(k, "given")}
                for key, pts in self.points.items() for k, s in sorted(pts.items())]


# --- the allocation's bookkeeping ----------------------------------------------------------------------------------

class Allocation:
    """One allocation's bookkeeping: what finished, how long it took, what was probed, what goes back."""

    def __init__(self, out: Path | None, budget_s: float, runs_root=None, clock=time.monotonic,
                 peak_tflops: float | None = None, step_times: StepTimes | None = None, meta: dict | None = None):
        self.out, self.runs_root, self.clock = out, runs_root, clock
        self.budget_s, self.peak_tflops, self.meta = budget_s, peak_tflops, dict(meta or {})
        self.start = clock()
        self.deadline = self.start + budget_s
        self.finished: list[dict] = []
        self.stacks: list[dict] = []
        self.flops: dict[str, float] = {}
        self.steps = step_times or StepTimes()
        self.probes: list[dict] = []
        self.probe_s = 0.0
        self.graph_checks: dict[str, dict] = {}
        self.plan: list[dict] = []
        self.events: list[str] = []
        self.archive = archive.ArchiveWriter(out) if out is not None else None

    def left(self) -> float:
        return self.deadline - self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def log(self, message: str) -> None:
        print(message, flush=True)
        self.events.append(f"{self.elapsed():7.1f} s  {message}")

    def saved(self, spec, path: Path) -> None:
        """Called the moment a record is saved: rewrite the archive with it (a kill now loses none saved)."""
        if self.archive is not None:
            self.archive.add(path)
        record = json.loads(Path(path).read_text())
        self.finished.append({"key": spec.key, "label": spec.label(), "model": spec.model,
                              "gpu_s": record["wall_time_s"], "train_s": record["train_time_s"],
                              "eval_s": record.get("eval_time_s"), "engine": record.get("engine")})

    def archive_room(self) -> int | None:
        return self.archive.room_for() if self.archive is not None else None

    def summary(self) -> dict:
        train_s = sum(s["train_s"] for s in self.stacks)
        images = sum(s["images"] for s in self.stacks)
        flop = sum(s["flop"] for s in self.stacks)
        tflops = flop / train_s / 1e12 if train_s else 0.0
        return {**self.meta, "budget_s": self.budget_s, "runs_finished": len(self.finished),
                "elapsed_s": self.elapsed(), "stack_train_s": train_s,
                "aggregate_images_per_s": images / train_s if train_s else 0.0,
                "achieved_tflops": tflops,
                "peak_tflops": self.peak_tflops,      # measured in the same call by the caller, if it passed one
                "fraction_of_peak": tflops / self.peak_tflops if self.peak_tflops else None,
                "gpu_s_per_run": sum(f["gpu_s"] for f in self.finished) / len(self.finished) if self.finished else None,
                "archive": {"parts": [p.name for p in self.archive.parts] if self.archive else [],
                            "records": len(self.archive.keys) if self.archive else 0},
                "probe_s": self.probe_s, "probes": self.probes, "step_times": self.steps.table(),
                "graph_checks": self.graph_checks, "plan": self.plan, "events": self.events,
                "stacks": self.stacks, "runs": self.finished}

    def report(self) -> None:
        if self.out is not None:
            atomic.write_text(self.out / "allocation.json", json.dumps(self.summary(), indent=1, default=str))


# --- probing and planning ------------------------------------------------------------------------------------------

def probe_step_s(specs, device) -> float:
    """Seconds per stacked step of ``specs``' architecture at ``len(specs)`` models, timed on random data."""
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
    # probed as it will train: eagerly where the architecture's graph self-check failed, or where the runs mix
    # inside the step (every Chapter 5 algorithm has a batch hook, so its stacks are never captured)
    eager = not multirun.graphs_enabled(s0.model) or s0.chapter == 5
    curves = multirun.train_stacked(models, [images] * k, [targets] * k, cfg_probe, seeds=list(range(k)),
                                    device=device, **({"graph": False} if eager else {}))
    del models
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    last = curves[0][-1]                              # the second epoch: after cuDNN's (and a capture's) set-up
    return last["step_s"] if "step_s" in last else last["seconds"] / steps


def _out_of_memory(err: BaseException) -> bool:
    return "out of memory" in str(err).lower()


def _free_device_memory() -> None:

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _probe(candidates, k: int, alloc: Allocation, device, probe) -> None:
    """Probe ``k`` of ``candidates`` (halving on out-of-memory, which also caps the key's K) into ``alloc.steps``."""
    key = step_key(candidates[0])
    while k >= 1:
        t0 = alloc.clock()
        try:
            seconds = probe(candidates[:k], device)
        except Exception as err:  # noqa: BLE001 - only running out of memory is handled here
            cost = alloc.clock() - t0
            alloc.probe_s += cost
            if not _out_of_memory(err):
                raise
            alloc.steps.too_big[key] = min(k, alloc.steps.too_big.get(key, k))
            alloc.probes.append({"model": key[1], "chapter": key[0], "batch": key[2], "k": k, "step_s": None,
                                 "cost_s": cost, "error": "out of memory"})
            alloc.log(f"probe: {k} x {key[1]} ran out of memory; trying {k // 2}")
            _free_device_memory()
            k //= 2
            continue
        cost = alloc.clock() - t0
        alloc.probe_s += cost
        alloc.steps.add(key, k, seconds, "probe")
        alloc.probes.append({"model": key[1], "chapter": key[0], "batch": key[2], "k": k, "step_s": seconds,
                             "cost_s": cost})
        alloc.log(f"probe: {k} x {key[1]} (chapter {key[0]}): {seconds * 1e3:.1f} ms per step ({cost:.1f} s)")
        return


def _may_probe(alloc: Allocation, key: tuple, k: int) -> bool:
    """A further probe of ``key`` at ``k``: within the per-key count and, costing what its last probe cost (in
    proportion to K when larger: the probe's steps are the stack's), within the budget."""
    done = [p for p in alloc.probes if (p["chapter"], p["model"], p["batch"]) == key]
    if len(done) >= MAX_PROBES_PER_KEY:
        return False
    expected = done[-1]["cost_s"] * max(1.0, k / done[-1]["k"]) if done else 0.0
    return alloc.probe_s + expected <= PROBE_BUDGET_S and 3 * expected < alloc.left()


def _largest_fit(key, k_max: int, steps: StepTimes, n: int, eval_s: float, left: float) -> tuple[int, float]:
    """The largest K <= ``k_max`` whose projected seconds fit ``left`` by the estimates, with them (0 if none)."""
    for k in range(k_max, 0, -1):
        est = steps.estimate(key, k)
        if est is None:
            return 0, 0.0
        projected = MARGIN * (n * est + k * eval_s)
        if projected <= left:
            return k, projected
    return 0, 0.0


def plan_stack(candidates, alloc: Allocation, device, eval_s: float, probe=probe_step_s,
               cap: int | None = None) -> tuple[list, float]:
    """The largest prefix of ``candidates`` (one stackable group) that ends before the deadline by the step times
    measured so far, with its projected seconds; ``([], 0)`` when not even one run fits. ``eval_s``: what each run
    costs besides the training steps (its evaluation, and its set-up before the stack trains).

    The first plan of an architecture probes at the largest stack that might be trained (the most useful point);
    a plan resting on a K far from every measured one (below 3/4 of the nearest above, or past 1.5 times the
    largest) probes that K too while :func:`_may_probe` allows, and is solved again. ``cap`` bounds K (after a
    stack of this group was abandoned)."""
    s0 = candidates[0]
    key = step_key(s0)
    steps = alloc.steps
    n = n_steps(s0)

    def k_max() -> int:
        room = alloc.archive_room()
        bounds = [len(candidates), MAX_STACK.get(s0.model, 8), cap or 10**9,
                  steps.too_big.get(key, 10**9 + 1) - 1, room if room is not None else 10**9]
        return max(0, min(bounds))

    if k_max() < 1:
        return [], 0.0
    if not steps.known(key):
        _probe(candidates, k_max(), alloc, device, probe)
        if not steps.known(key):             # every size ran out of memory
            return [], 0.0
    while True:
        top = k_max()
        k, projected = _largest_fit(key, top, steps, n, eval_s, alloc.left())
        target = max(k, 1)
        measured = sorted(steps.of(key))       # probed, trained, or passed in
        above = [m for m in measured if m >= target]
        far = (not measured or (above and target < REPROBE_RATIO * above[0])
               or (not above and target > 1.5 * measured[-1]))
        if target not in measured and far and target <= top and _may_probe(alloc, key, target):
            _probe(candidates, target, alloc, device, probe)
            continue
        break
    return (list(candidates[:k]), projected) if k else ([], 0.0)


def stack_id(spec) -> tuple:
    """Specs with equal ids train as one stack of :func:`thesis_lib.runs.run.run_group`, which splits what it is given
    by :func:`multirun.group_key` and by the number of training images, and trains the parts one after the other: a
    plan for one stack must not be given two. So the id adds to the group key the chapter (its evaluation and its
    hooks differ: Chapters 4 and 5 share a schedule at the smoke profile), the training subset, and whether a
    Chapter 4 run adds the 810 mixed images (all but ``no_aug``)."""

    return (spec.chapter, multirun.group_key(spec), spec.train_subset,
            spec.chapter == 4 and spec.label_method != "no_aug")


def stack_groups(specs) -> list[list]:
    """``specs`` in groups of equal :func:`stack_id`, in the order of their first member (the priority order)."""
    by: dict = {}
    for s in specs:
        by.setdefault(stack_id(s), []).append(s)
    return list(by.values())


def forecast(stack, projected: float, groups, alloc: Allocation, eval_of) -> list[dict]:
    """The plan from now: ``stack`` (about to train, ``projected`` seconds), then what the estimates say fits after
    it, group by group in priority order (no probes: a group with no step time yet is not forecast)."""
    t = alloc.elapsed()

    def entry(s0, k, seconds):
        nonlocal t
        t += seconds
        return {"model": s0.model, "chapter": s0.chapter, "k": k, "projected_s": round(seconds, 1),
                "ends_at_s": round(t, 1)}

    plan = [entry(stack[0], len(stack), projected)]
    left = alloc.left() - projected
    chosen = {s.key for s in stack}
    for g in groups:
        rest = [s for s in g if s.key not in chosen]
        key = step_key(g[0]) if g else None
        while rest and alloc.steps.known(key):
            top = min(len(rest), MAX_STACK.get(rest[0].model, 8), alloc.steps.too_big.get(key, 10**9 + 1) - 1)
            k, seconds = _largest_fit(key, top, alloc.steps, n_steps(rest[0]), eval_of(rest[0]), left)
            if not k:
                break
            plan.append(entry(rest[0], k, seconds))
            left -= seconds
            rest = rest[k:]
    return plan


# --- graph self-checks ---------------------------------------------------------------------------------------------

def _uses_cuda(device) -> bool:

    if device is None:
        return torch.cuda.is_available()
    return torch.device(device).type == "cuda"


def check_graphs(model_name: str, device, alloc: Allocation) -> None:
    """Once per architecture on a GPU, before its first probe: keep CUDA-graph capture only if the engine's
    self-check says a captured step trains as an eager one. Any failure (or an exception) turns capture off for
    that architecture: its stacks train eagerly, and the allocation goes on."""

    if model_name in alloc.graph_checks:
        return
    if not _uses_cuda(device):
        return
    t0 = alloc.clock()
    try:
        ok, message = multirun.graph_self_check(lambda: get_model(model_name), device)
    except Exception as err:  # noqa: BLE001 - a failed check must never lose the allocation
        ok, message = False, f"self-check raised {type(err).__name__}: {err}"
    if not ok:
        try:
            multirun.set_graphs(model_name, False)
        except Exception as err:  # noqa: BLE001
            message += f"; set_graphs failed too ({type(err).__name__}: {err})"
    alloc.graph_checks[model_name] = {"graphs": bool(ok), "message": message, "cost_s": alloc.clock() - t0}
    alloc.log(f"graph check {model_name}: {'captured' if ok else 'eager'} ({message})")


# --- the allocation ------------------------------------------------------------------------------------------------

def _record_stack(alloc: Allocation, head, records, wall: float, projected: float) -> None:
    flops = alloc.flops.setdefault(head.model, forward_flops(head.model))
    images = sum(c["images_per_s"] * c["seconds"] for r in records for c in r["curve"])  # forward images
    train_s = records[0]["group_train_time_s"]
    last = records[0]["curve"][-1]
    steps_per_epoch = math.ceil(records[0]["n_train"] / head.batch_size)
    step_s = last.get("step_s") or last["seconds"] / max(steps_per_epoch, 1)
    alloc.steps.add(step_key(head), len(records), step_s, "stack")
    alloc.stacks.append({"model": head.model, "chapter": head.chapter, "k": len(records), "wall_s": wall,
                         "train_s": train_s, "step_s": step_s, "images": images, "flop": 3 * flops * images,
                         "projected_s": projected})
    alloc.log(f"  {len(records)} runs in {wall:.0f} s: {train_s / len(records):.1f} GPU-s of training per run, "
              f"{step_s * 1e3:.1f} ms per step, {images / train_s:.0f} images/s, "
              f"{3 * flops * images / train_s / 1e12:.2f} TFLOP/s")


def run_allocation(out: Path | None, minutes: float, device: str | None = None, runs_root=None, specs=None,
                   probe=probe_step_s, limit: int | None = None, clock=time.monotonic, profile: str = "full",
                   step_times: dict | None = None, peak_tflops: float | None = None) -> Allocation:
    """Train the next uncached runs until the time is spent; see the module docstring. ``specs`` (default
    :func:`priority` of ``profile``), ``probe`` and ``clock`` are there for tests (a short fake deadline);
    ``step_times`` (``{model: {K: seconds per step}}``) are measurements made before, used until probed."""

    alloc = Allocation(out, 60 * minutes, runs_root, clock=clock, peak_tflops=peak_tflops,
                       step_times=StepTimes(step_times),
                       meta={"profile": profile, "device": device, "minutes": minutes, "limit": limit})
    if out is not None:
        atomic.check_writable(out)
    todo = [s for s in (specs if specs is not None else priority(profile)) if cache.load(s, runs_root) is None]
    if limit is not None:
        todo = todo[:limit]
    alloc.log(f"allocation: {len(todo)} uncached runs, {minutes:g} min")
    alloc.report()
    eval_s: dict[int, float] = {}
    setup_s: dict[int, float] = {}

    def eval_of(spec) -> float:
        return eval_s.get(spec.chapter, EVAL_GUESS_S[spec.chapter])

    def per_run_of(spec) -> float:  # what a run costs besides its share of the training steps
        return eval_of(spec) + setup_s.get(spec.chapter, SETUP_GUESS_S[spec.chapter])

    caps: dict[tuple, int] = {}     # a group's largest K after a stack of it was abandoned
    failed: set[tuple] = set()      # groups the multi-run engine failed on: trained one run at a time

    def single(group, why: str) -> None:
        """The multi-run engine failed on ``group``: its runs one at a time (those that fit), the others stacked."""
        nonlocal todo
        failed.add(stack_id(group[0]))
        done = {f["key"] for f in alloc.finished}
        rest = [s for s in group if s.key not in done]
        alloc.log(f"multi-run engine failed on {group[0].model} (chapter {group[0].chapter}: {why}); its "
                  f"{len(rest)} runs one at a time, the other groups stacked")
        _single_runs(rest, alloc, device, runs_root)
        done = {f["key"] for f in alloc.finished}
        todo = [s for s in todo if s.key not in done and stack_id(s) not in failed]
        alloc.report()

    while todo:
        groups = stack_groups(todo)
        choice = None
        for g in groups:
            gid = stack_id(g[0])
            if caps.get(gid, 1) < 1:
                continue
            check_graphs(g[0].model, device, alloc)
            try:
                stack, projected = plan_stack(g, alloc, device, per_run_of(g[0]), probe, cap=caps.get(gid))
            except (multirun.DeadlineExceeded, KeyboardInterrupt):
                raise
            except Exception as err:  # noqa: BLE001 - the probe failed: stacking this group fails on this machine
                choice = ("single", g, f"{type(err).__name__}: {err}")
                break
            if stack:
                choice = (gid, stack, projected)
                break
        if choice is not None and choice[0] == "single":
            single(choice[1], choice[2])
            continue
        if choice is None:
            alloc.log(f"stop: {alloc.left():.0f} s left, not enough for one more run of any of the {len(groups)} "
                      f"groups left ({len(todo)} runs)")
            break
        gid, stack, projected = choice
        head = stack[0]
        alloc.plan = forecast(stack, projected, groups, alloc, per_run_of)
        alloc.log("plan: " + "; ".join(f"{p['k']} x {p['model']} (ch {p['chapter']}) {p['projected_s']:.0f} s -> "
                                       f"ends at {p['ends_at_s']:.0f} s" for p in alloc.plan)
                  + f" (budget {alloc.budget_s:.0f} s)")
        alloc.report()
        t0 = time.perf_counter()
        try:  # training must leave time for the stack's evaluation
            evaluation = MARGIN * len(stack) * eval_of(head)
            records = run.run_group(stack, device, runs_root=runs_root, on_saved=alloc.saved,
                                    deadline=time.monotonic() + alloc.left() - evaluation)  # the engine's clock
        except multirun.DeadlineExceeded as err:   # its records are not saved; try smaller, or the next group
            caps[gid] = len(stack) // 2
            alloc.log(f"abandoned: {err}; {head.model} stacks now at most {caps[gid]}")
            alloc.report()
            todo = [s for s in todo if s.key not in {f["key"] for f in alloc.finished}]
            continue
        except archive.ArchiveFull as err:
            alloc.log(f"stop: {err}")
            break
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # noqa: BLE001
            if _out_of_memory(err) and len(stack) > 1:   # too many for the card after all: smaller from now on
                key = step_key(head)
                alloc.steps.too_big[key] = min(len(stack), alloc.steps.too_big.get(key, len(stack)))
                alloc.log(f"out of memory at {len(stack)} x {head.model}; at most {len(stack) - 1} from now on")
                _free_device_memory()
                todo = [s for s in todo if s.key not in {f["key"] for f in alloc.finished}]
                continue
            # the stack failed while training (what it saved stays): its group one run at a time
            single([s for s in todo if stack_id(s) == gid], f"{type(err).__name__}: {err}")
            continue
        _record_stack(alloc, head, records, time.perf_counter() - t0, projected)
        eval_s[head.chapter] = max(r["eval_time_s"] for r in records)
        setup_s[head.chapter] = max(r.get("setup_time_s") or 0.0 for r in records)
        done = {r["key"] for r in records}
        todo = [s for s in todo if s.key not in done]
        alloc.report()
    alloc.report()
    summary = alloc.summary()
    print(json.dumps({k: v for k, v in summary.items()
                      if k not in ("stacks", "runs", "probes", "step_times", "plan", "events", "graph_checks")},
                     indent=1, default=str), flush=True)
    return alloc


def _single_runs(todo, alloc: Allocation, device, runs_root) -> None:
    """The fallback: one run at a time with the single-run engine, each started only if it should end in time."""

    took: dict[tuple, float] = {}
    for spec in todo:
        guess = took.get((spec.chapter, spec.model), SINGLE_GUESS_S[spec.chapter])
        if MARGIN * guess > alloc.left():
            alloc.log(f"stop: {alloc.left():.0f} s left, a {spec.model} run takes about {guess:.0f} s")
            return
        t0 = time.perf_counter()
        path = cache.save(spec, execute.execute(spec, device), runs_root)
        took[(spec.chapter, spec.model)] = time.perf_counter() - t0
        try:
            alloc.saved(spec, path)
        except archive.ArchiveFull as err:
            alloc.log(f"stop: {err}")
            return
        alloc.report()


# --- the command line ----------------------------------------------------------------------------------------------

def _step_time(text: str) -> tuple[str, int, float]:
    try:
        model, k, seconds = text.split(":")
        k_, s_ = int(k), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODEL:K:SECONDS (e.g. resnet34a:48:0.09), got {text!r}") from None
    if k_ < 1 or not (math.isfinite(s_) and s_ > 0):
        raise argparse.ArgumentTypeError(f"K must be >= 1 and SECONDS positive, got {text!r}")
    return model, k_, s_


def _import(path: Path, runs_root) -> int:
    report = archive.import_archive(path, runs_root)
    for what, why in report.rejected:
        print(f"rejected {what}: {why}")
    for key in report.differing:
        print(f"kept {key}: a valid cached record with that key differs from the archive's copy")
    print(f"import from {path} into {cache.runs_dir(runs_root)}: {report.summary()}")
    return 1 if report.rejected else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m thesis_lib.allocate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="the output folder whose files come back")
    p.add_argument("--minutes", type=float, default=8.0, help="time budget of this process (default 8)")
    p.add_argument("--device", default=None)
    p.add_argument("--profile", default="full", choices=PROFILES,
                   help="whose runs to train (default full; smoke/quick: a dry run on a CPU)")
    p.add_argument("--limit", type=int, default=None, help="train at most this many runs")
    p.add_argument("--runs-root", type=Path, default=None,
                   help="the run cache folder (default results/runs, or THESIS_RUNS_DIR)")
    p.add_argument("--step-time", type=_step_time, action="append", default=[], metavar="MODEL:K:SECONDS",
                   help="a stacked step time measured before (repeatable); probes refine it")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the card's peak measured in the same call, recorded beside the achieved TFLOP/s")
    p.add_argument("--list", action="store_true", help="only print the priority order and what is cached")
    p.add_argument("--import", dest="import_path", type=Path, metavar="PATH",
                   help="verify the records an allocation returned (its folder, or the runs.tar in it) and put "
                        "them into the run cache; exit 1 if any was rejected")
    a = p.parse_args(argv)

    try:
        if a.import_path is not None:
            return _import(a.import_path, a.runs_root)
        specs = priority(a.profile)
        if a.list:
            cached = [cache.load(s, a.runs_root) is not None for s in specs]
            print(f"{len(specs)} {a.profile}-profile table runs, {sum(cached)} cached; next uncached, in order:")
            for s in [s for s, c in zip(specs, cached) if not c][:20]:
                print(f"  {s.key}  {s.label()}")
            return 0
        if a.out is None:
            raise ValueError("--out is required (the output folder whose files come back)")
        if not math.isfinite(a.minutes) or a.minutes <= 0:
            raise ValueError(f"--minutes must be positive, got {a.minutes}")
        if a.limit is not None and a.limit < 1:
            raise ValueError(f"--limit must be at least 1, got {a.limit}")
        if a.peak_tflops is not None and not (math.isfinite(a.peak_tflops) and a.peak_tflops > 0):
            raise ValueError(f"--peak-tflops must be positive, got {a.peak_tflops}")
        given: dict = {}
        for model, k, seconds in a.step_time:
            given.setdefault(model, {})[k] = seconds
        run_allocation(a.out, a.minutes, a.device, runs_root=a.runs_root, specs=specs, limit=a.limit,
                       profile=a.profile, step_times=given, peak_tflops=a.peak_tflops)
    except (ValueError, DataError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
