"""Run one training spec (or a grid of them) through the run cache.

    python -m thesis_lib.run --chapter 3 --label-method T2Clamp --model resnet34a --seed 0 --profile smoke

A cached spec is loaded, not retrained; a finished run is saved atomically before the next starts, so a killed
grid loses nothing already finished. ``run_grid`` trains on this machine (backend "local") or dispatches the
uncached specs to a Ray cluster (backend "ray", ``THESIS_BACKEND=ray``; see :mod:`thesis_lib.ray_backend`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import torch
from tqdm.auto import tqdm

import thesis_lib
from thesis_lib import cache, data, metrics
from thesis_lib.models import get_model
from thesis_lib.runspec import RunSpec, make_spec
from thesis_lib.train import TrainConfig, check_compile, resolve_device, train


def versions() -> dict:
    import scipy
    import torchattacks

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


def _run_data(spec: RunSpec):
    if spec.chapter == 3:
        from thesis_lib.chapter3 import run_data

        return run_data(spec)
    if spec.chapter == 4:
        from thesis_lib.chapter4 import run_data

        return run_data(spec)
    if spec.chapter == 5:
        from thesis_lib.chapter5 import run_data

        return run_data(spec)
    raise NotImplementedError(f"chapter {spec.chapter} runs are built by their chapter module, not yet available")


_CORRUPTED: dict = {}   # (images digest, corruption, severity) -> images: built once per process, shared by its runs


def corrupted(images_u8: np.ndarray, name: str, severity: int = 3) -> torch.Tensor:
    """The CIFAR-10-C corruption ``name`` of ``images_u8`` as (N, 3, 32, 32) floats in [0, 1], memoised (building
    the 15 corrupted sets takes minutes on a CPU; every Chapter 5 run of a process evaluates on the same ones)."""
    import hashlib

    from thesis_lib.corruptions import corrupt

    key = (hashlib.sha1(np.ascontiguousarray(images_u8).tobytes()).hexdigest(), name, severity)
    if key not in _CORRUPTED:
        if len(_CORRUPTED) >= 64:
            _CORRUPTED.clear()
        _CORRUPTED[key] = torch.as_tensor(corrupt(images_u8, name, severity, seed=0)).permute(0, 3, 1, 2)
    return _CORRUPTED[key].float().div(255.0)


def corruption_ce(model, images_u8, soft_targets, device, severity: int = 3) -> dict:
    """Mean CE over the 15 CIFAR-10-C corruptions at ``severity`` (plus each one's CE), section 5.2.2."""
    from thesis_lib.corruptions import CORRUPTIONS

    per = {}
    for name in CORRUPTIONS:
        x = corrupted(images_u8, name, severity)
        per[name] = metrics.evaluate(model, x, soft_targets, device=device, fgsm=False)["ce"]
    return {"corruption_ce": float(np.mean(list(per.values()))), "corruption_ce_by_type": per}


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
        from thesis_lib.corruptions import check_available

        check_available()
    torch.manual_seed(spec.seed)
    model = get_model(spec.model)
    cfg = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, momentum=spec.momentum,
                      weight_decay=spec.weight_decay, milestones=spec.milestones, lr_decay=spec.lr_decay,
                      grad_clip=spec.grad_clip, augment=spec.augment)
    hooks = {k: v for k, v in (("batch_hook", rd.batch_hook), ("loss_fn", rd.loss_fn)) if v is not None}
    return Prepared(spec, dev, cifar10, rd, model, cfg, hooks, t0, time.perf_counter() - t0)


def finish(p: Prepared, curve: list[dict], *, engine: str = "single", compile_mode: str = "off",
           share: float | None = None, train_time: float | None = None) -> dict:
    """Evaluate a trained run and make its record; the evaluation outputs ride along under ``"outputs"`` (the run
    cache writes them beside the record, :func:`thesis_lib.cache.save`).

    ``train_time``: the run's part of the training time when it trained beside others (multi-run engine)."""
    spec, rd, cifar10, dev = p.spec, p.rd, p.cifar10, p.device
    train_end = time.perf_counter()
    results, outputs = {}, {}
    for name, (idx, soft) in rd.eval_sets.items():
        x = torch.as_tensor(cifar10.images[idx]).permute(0, 3, 1, 2).float().div(255.0)
        soft_t = torch.as_tensor(soft, dtype=torch.float32)
        kept = {}
        results[name] = metrics.evaluate(p.model, x, soft_t, device=dev, eps=spec.fgsm_eps, outputs=kept)
        outputs[name] = {"idx": np.asarray(idx), **{k: v.numpy() for k, v in kept.items()}}
        if name in rd.corruption_eval:
            results[name].update(corruption_ce(p.model, cifar10.images[idx], soft_t, dev))
    eval_time = time.perf_counter() - train_end
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


def execute(spec: RunSpec, device: str | None = None, progress: bool = False) -> dict:
    """Train and evaluate ``spec`` alone (no cache); returns the result record."""
    compile_mode = check_compile(os.environ.get("THESIS_COMPILE"))  # an execution choice, like the device: not in the key
    p = prepare(spec, device)
    curve = train(p.model, p.rd.training_images(p.cifar10.images), p.rd.targets, p.cfg, seed=spec.seed,
                  device=p.device, progress=progress, desc=spec.label(), compile=compile_mode, **p.hooks)
    return finish(p, curve, compile_mode=compile_mode)


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


def run_group(specs, device: str | None = None, progress: bool = False, runs_root=None, on_saved=None,
              deadline: float | None = None) -> list[dict]:
    """Train ``specs`` together with the multi-run engine (:mod:`thesis_lib.multirun`), save each record, return
    them in order. Specs that cannot stack (other architecture or schedule, another number of training images) are
    trained as separate stacks. ``on_saved(spec, path)`` is called after each record is saved; ``deadline``
    (``time.monotonic()``) abandons a stack that would pass it (:class:`thesis_lib.multirun.DeadlineExceeded`)."""
    specs = list(specs)
    compile_mode = check_compile(os.environ.get("THESIS_COMPILE"))
    if compile_mode != "off":
        raise ValueError("THESIS_COMPILE applies to the single-run engine; the multi-run engine runs eagerly")
    with run_threads(device):  # CPU runs at the fixed thread count, as single runs (determinism)
        return _run_group(specs, device, progress, runs_root, on_saved, deadline)


def _run_group(specs, device, progress, runs_root, on_saved, deadline) -> list[dict]:
    from thesis_lib import multirun

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
            desc=f"{len(stack)} x {stack[0].spec.model}", deadline=deadline)
        group_train = time.perf_counter() - t0
        for p, curve in zip(stack, curves):
            record = finish(p, curve, engine=f"multi ({len(stack)} stacked)", share=1.0 / len(stack),
                            train_time=group_train / len(stack))
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
    ``backend``: "local" (this machine) or "ray" (a Ray cluster, :func:`thesis_lib.ray_backend.run_grid_ray`, where
    Ray's resources, not ``jobs``, decide how many runs go at once); default ``THESIS_BACKEND``, else "local".
    ``deadline_s`` (local backend): start no run after this many seconds (runs under way finish and are saved), for
    time-limited machines; the runs never started are then missing from the returned list.
    ``engine``: "single" (one run per process step loop, :func:`thesis_lib.train.train`) or "multi" (stackable runs
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
        from thesis_lib.ray_backend import run_grid_ray

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
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from itertools import islice

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


def _run_grid_multi(specs, device, progress, runs_root, deadline_s, group_size) -> list[dict]:
    from thesis_lib import multirun

    start = time.monotonic()
    todo = list({s.key: s for s in specs if cache.load(s, runs_root) is None}.values())
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m thesis_lib.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chapter", type=int, default=3)
    p.add_argument("--label-method", required=True)
    p.add_argument("--model", default=None, help="default: the profile's first model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", default="smoke", choices=("full", "quick", "smoke"))
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
    p.add_argument("--annotators", type=int, default=None, help="M annotators per image")
    p.add_argument("--deaggregate", action="store_true")
    p.add_argument("--gamma", type=float, default=0.1)
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--n-soft", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--force", action="store_true", help="retrain even when cached")
    a = p.parse_args(argv)
    from thesis_lib import chapter3, chapter4, chapter5

    try:
        {3: chapter3, 4: chapter4, 5: chapter5}.get(a.chapter, chapter3).check_label_method(a.label_method)
        over = {k: v for k, v in dict(annotators=a.annotators, deaggregate=a.deaggregate, gamma=a.gamma,
                                      beta=a.beta, n_soft=a.n_soft, epochs=a.epochs).items() if v is not None}
        spec = make_spec(a.chapter, a.label_method, a.model, a.seed, a.profile, **over)
        if a.force or cache.load(spec) is None:
            cache.check_writable(spec.profile)  # before training, not when saving after it
        record = run_spec(spec, a.device, progress=True, force=a.force)
    except (ValueError, NotImplementedError, data.DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"key": record["key"], "label": record["label"], "metrics": record["metrics"],
                      "wall_time_s": round(record["wall_time_s"], 1),
                      "train_images_per_s": round(record["train_images_per_s"], 1), "device": record["device"],
                      "cache": str(cache.path_for(spec))}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
