"""Run one training spec (or a grid of them) through the run cache (the command line,
``python -m thesis_lib.run``, is :mod:`thesis_lib.cli.run`).

A cached spec is loaded, not retrained; a finished run is saved atomically before the next starts, so a killed
grid loses nothing already finished. ``run_grid`` trains on this machine (backend "local") or dispatches the
uncached specs to a Ray cluster (backend "ray", ``THESIS_BACKEND=ray``; see :mod:`thesis_lib.runs.ray_backend`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from itertools import islice

import torch
from tqdm.auto import tqdm

from thesis_lib.runs import cache
from thesis_lib.runs.grid import Grid
from thesis_lib.runs.ray_backend import run_grid_ray
from thesis_lib.runs.spec import RunSpec, unique_specs
from thesis_lib.runs.execute import (CPU_THREADS, Prepared, device_name, device_share, evaluate_stack,  # noqa: F401
                                     execute, finish, prepare, run_threads, versions)
from thesis_lib.training import multirun
from thesis_lib.training.loop import check_compile


def run_spec(spec: RunSpec, device: str | None = None, progress: bool = False, force: bool = False,
             runs_root=None) -> dict:
    """The cached result of ``spec``, training it first when it is not cached (or ``force``)."""
    if not force:
        hit = cache.load(spec, runs_root)
        if hit is not None:
            return hit
    with cache.claim(spec, runs_root, notify=_waiting_for(spec)):  # another process training it: wait for it
        if not force:
            hit = cache.load(spec, runs_root)
            if hit is not None:
                return hit
        with run_threads(device):
            record = execute(spec, device, progress)
        cache.save(spec, record, runs_root)
    return record


def _waiting_for(spec: RunSpec):
    def notify(info: dict) -> None:
        print(f"waiting for {spec.label()}: process {info.get('pid')} on {info.get('host')} is training it "
              f"(claim since {info.get('since')})", file=sys.stderr, flush=True)

    return notify


def run_group(specs, device: str | None = None, progress: bool = False, runs_root=None, on_saved=None,
              deadline: float | None = None) -> list[dict]:
    """Train ``specs`` together with the multi-run engine (:mod:`thesis_lib.training.multirun`), save each record, return
    them in order. Specs that cannot stack (other architecture or schedule, another number of training images) are
    trained as separate stacks. ``on_saved(spec, path)`` is called after each record is saved; ``deadline``
    (``time.monotonic()``) abandons a stack that would pass it (:class:`thesis_lib.training.multirun.DeadlineExceeded`)."""
    specs = list(specs)
    compile_mode = check_compile(os.environ.get("THESIS_COMPILE"))
    if compile_mode != "off":
        raise ValueError("THESIS_COMPILE applies to the single-run engine; the multi-run engine captures its own "
                         "CUDA graphs")
    with run_threads(device):  # CPU runs at the fixed thread count, as single runs (determinism)
        return _run_group(specs, device, progress, runs_root, on_saved, deadline)


def _run_group(specs, device, progress, runs_root, on_saved, deadline) -> list[dict]:
    prepared = [prepare(s, device) for s in specs]
    by_n: dict = {}
    for p in prepared:  # stacks need equal numbers of training images (e.g. Fig. 3.6's N' runs differ)
        by_n.setdefault((multirun.group_key(p.spec), len(p.rd.targets)), []).append(p)
    out = {}
    for stack in by_n.values():
        t0 = time.perf_counter()
        curves = multirun.train_stacked(
            [p.model for p in stack], [p.rd.training_images(p.cifar10.images) for p in stack],
            [p.rd.targets for p in stack], stack[0].cfg, seeds=[p.spec.seed for p in stack], device=stack[0].device,
            batch_hooks=[p.rd.batch_hook for p in stack], loss_fns=[p.rd.loss_fn for p in stack], progress=progress,
            desc=f"{len(stack)} x {stack[0].spec.model}", deadline=deadline,
            graph=None if multirun.graphs_enabled(stack[0].spec.model) else False)
        group_train = time.perf_counter() - t0
        t_eval = time.perf_counter()
        evaluated = evaluate_stack(stack)
        eval_share = (time.perf_counter() - t_eval) / len(stack)
        for p, curve, done in zip(stack, curves, evaluated):
            record = finish(p, curve, engine=f"multi ({len(stack)} stacked)", share=1.0 / len(stack),
                            train_time=group_train / len(stack), evaluated=done, evaluated_time=eval_share)
            record["group_train_time_s"] = group_train
            path = cache.save(p.spec, record, runs_root)
            if on_saved is not None:
                on_saved(p.spec, path)
            out[p.spec.key] = record
    return [out[s.key] for s in specs]


def _worker_init(threads: int, share: float) -> None:
    torch.set_num_threads(threads)  # GPU runs' host threads; a CPU run uses CPU_THREADS (see run_threads)
    os.environ["THESIS_DEVICE_SHARE"] = repr(share)


BACKENDS = ("local", "ray")
ENGINES = ("single", "multi")


def run_grid(specs, device: str | None = None, progress: bool = True, runs_root=None, jobs: int = 1,
             backend: str | None = None, deadline_s: float | None = None, engine: str | None = None,
             group_size: int | None = None) -> list[dict]:
    """Run every spec (cached ones are only loaded), each saved as soon as it finishes.

    ``jobs > 1`` trains that many runs at once in worker processes (on one GPU they share it; on a CPU every run
    uses :data:`CPU_THREADS` threads whatever ``jobs`` is, so its numbers do not depend on ``jobs``).
    ``backend``: "local" (this machine) or "ray" (a Ray cluster, :func:`thesis_lib.runs.ray_backend.run_grid_ray`, where
    Ray's resources, not ``jobs``, decide how many runs go at once); default ``THESIS_BACKEND``, else "local".
    ``deadline_s`` (local backend): start no run after this many seconds (runs under way finish and are saved), for
    time-limited machines; the runs never started are then missing from the returned list.
    ``engine``: "single" (one run per process step loop, :func:`thesis_lib.training.loop.train`) or "multi" (stackable runs
    trained together in this process, :func:`run_group`, at most ``group_size`` per stack); default
    ``THESIS_ENGINE``, else "single". Both give the same runs under the same keys; the record names its engine."""
    backend = backend or os.environ.get("THESIS_BACKEND") or "local"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    engine = engine or os.environ.get("THESIS_ENGINE") or "single"
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "multi":
        if backend != "local" or jobs != 1:
            raise ValueError("the multi-run engine trains its stacks in this process: use backend 'local', jobs 1")
        return _run_grid_multi(list(specs), device, progress, runs_root, deadline_s, group_size)
    if backend == "ray":
        if deadline_s is not None:
            raise ValueError("deadline_s is for the local backend; a Ray cluster schedules the runs itself")
        return run_grid_ray(specs, device=device, progress=progress, runs_root=runs_root)
    start = time.monotonic()
    late = lambda: deadline_s is not None and time.monotonic() - start > deadline_s  # noqa: E731
    specs = list(specs)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    todo = [s for s in specs if cache.load(s, runs_root) is None]
    for profile in sorted({s.profile for s in todo}):  # a read-only or full cache fails now, not after training
        cache.check_writable(profile, runs_root)
    desc = f"runs ({len(todo)} to train, {len(specs) - len(todo)} cached, {jobs} at a time)"
    if jobs > 1 and len(todo) > 1:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        share = 1.0 / min(jobs, len(todo))  # nominal: the runs of a grid's tail may end up with the device alone
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                 initargs=(threads, share)) as pool, \
                tqdm(total=len(todo), desc=desc, disable=not progress) as bar:
            waiting = iter(todo)  # at most `jobs` submitted at a time, so a deadline can stop the rest
            running = {pool.submit(run_spec, s, device, False, False, runs_root) for s in islice(waiting, jobs)}
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()  # re-raise a failed run here
                    bar.update()
                    nxt = None if late() else next(waiting, None)
                    if nxt is not None:
                        running.add(pool.submit(run_spec, nxt, device, False, False, runs_root))
        return [r for r in (cache.load(s, runs_root) for s in specs) if r is not None]  # all cached unless late
    out = []
    pending = {s.key for s in todo}
    # the bar counts (and its ETA extrapolates) the runs to train only; cached ones load without a tick
    with tqdm(total=len(pending), desc=desc, disable=not progress) as bar:
        for spec in specs:
            if spec.key not in pending:
                out.append(run_spec(spec, device, progress=False, runs_root=runs_root))
                continue
            if late() and cache.load(spec, runs_root) is None:
                continue
            bar.set_postfix_str(spec.label())
            out.append(run_spec(spec, device, progress=False, runs_root=runs_root))
            pending.discard(spec.key)
            bar.update()
    return out


def run_records(grid: Grid | list[RunSpec], device: str | None = "auto", jobs: int = 1, **kw) -> dict[str, dict]:
    """The one call that runs a grid (a :class:`~thesis_lib.runs.grid.Grid`, or run specs): every run's record by
    its key, cached runs only loaded, the rest trained (:func:`run_grid`, whose keywords ``kw`` passes on:
    ``backend``, ``engine``, ``deadline_s``...). ``device``: "auto" (a GPU when there is one), "cpu", "cuda"."""
    specs = grid.specs() if isinstance(grid, Grid) else unique_specs(grid)
    return {r["key"]: r for r in run_grid(specs, device=device, jobs=jobs, **kw)}


def _run_grid_multi(specs, device, progress, runs_root, deadline_s, group_size) -> list[dict]:
    start = time.monotonic()
    todo = unique_specs(s for s in specs if cache.load(s, runs_root) is None)
    for profile in sorted({s.profile for s in todo}):  # a read-only or full cache fails now, not after training
        cache.check_writable(profile, runs_root)
    stacks = multirun.groups(todo, group_size)
    with tqdm(total=len(todo), desc=f"runs ({len(todo)} to train in {len(stacks)} stacks, "
                                    f"{len(specs) - len(todo)} cached)", disable=not progress) as bar:
        for stack in stacks:
            if deadline_s is not None and time.monotonic() - start > deadline_s:
                break
            bar.set_postfix_str(f"{len(stack)} x {stack[0].model}")
            run_group(stack, device, progress=False, runs_root=runs_root)
            bar.update(len(stack))
    return [r for r in (cache.load(s, runs_root) for s in specs) if r is not None]
