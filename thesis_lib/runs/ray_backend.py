"""Run a grid of specs on a Ray cluster: each uncached spec is one Ray task, GPUs shared fractionally between runs.

    THESIS_BACKEND=ray THESIS_RAY_ADDRESS=ray://head:10001 ./run_all.sh --profile full
    # or: run_grid(specs, backend="ray"), run_grid_ray(specs, address="auto", gpus_per_run=0.25)

The driver (this process) saves each record to the run cache the moment its task finishes, so worker nodes need
no shared filesystem and a killed grid loses nothing already finished. Workers need ``thesis_lib`` and its
dependencies installed; the data source the driver resolved (the mirror's absolute path, or ``download``, as
``THESIS_DATA_DIR``) and ``THESIS_CACHE_DIR`` are passed to them, so a worker never picks a different source.
"""

from __future__ import annotations

import os
import warnings

import torch
from tqdm.auto import tqdm

from thesis_lib.data import registry
from thesis_lib.runs import cache
from thesis_lib.runs.execute import execute, run_threads
from thesis_lib.runs.spec import RunSpec, unique_specs

#: Fraction of a GPU each run gets by default when the cluster has GPUs (four small runs share one GPU).
DEFAULT_GPUS_PER_RUN = 0.25
#: Environment variables forwarded to the workers (when set on the driver).
FORWARDED_ENV = ("THESIS_DATA_DIR", "THESIS_CACHE_DIR")


def _import_ray():
    try:
        import ray  # optional: only the Ray backend needs it
    except ImportError as err:
        raise ImportError("the Ray backend needs Ray: pip install 'thesis_lib[ray]' (or pip install ray==2.58.0)") \
            from err
    return ray


def worker_env() -> dict:
    """The environment the workers need to find the data: the driver's data source as resolved by
    :func:`thesis_lib.data.registry.mirror_dir` (the mirror as an absolute path, or the download opt-out, even
    when the driver found the mirror beside its checkout), and the cache directory made absolute."""
    mirror = registry.mirror_dir()
    env = {registry.ENV_MIRROR: str(mirror) if mirror is not None else registry.DOWNLOAD}
    cache_dir = os.environ.get(registry.ENV_CACHE)
    if cache_dir:
        env[registry.ENV_CACHE] = os.path.abspath(os.path.expanduser(cache_dir))
    return env


def _execute_task(spec: RunSpec, device: str | None, threads: int, share: float) -> dict:
    """Body of one Ray task: train and evaluate ``spec`` with ``threads`` CPU threads on a GPU, and
    :data:`thesis_lib.runs.execute.CPU_THREADS` on a CPU so its numbers match a local run's (no cache: the driver saves);
    ``share`` is the task's GPU fraction, recorded so device-hours count shared GPUs once."""
    torch.set_num_threads(threads)
    os.environ["THESIS_DEVICE_SHARE"] = repr(share)
    with run_threads(device):
        return execute(spec, device, progress=False)


def run_grid_ray(specs, device: str | None = None, progress: bool = True, runs_root=None, address: str | None = None,
                 gpus_per_run: float | None = None, cpus_per_run: int = 1) -> list[dict]:
    """Like :func:`thesis_lib.runs.run.run_grid`, but the uncached specs train as Ray tasks; returns records in spec order.

    ``address``: the Ray cluster (default: ``THESIS_RAY_ADDRESS``, else ``RAY_ADDRESS``, else a local instance
    started here and shut down afterwards; a Ray session the caller already initialised is used and left running).
    ``gpus_per_run``: GPUs per run, fractional to share one (default: ``THESIS_RAY_GPUS_PER_RUN``, else 0.25 when
    the cluster has GPUs, 0 when not). ``cpus_per_run``: CPUs reserved per run and its PyTorch thread count.
    A failed run does not stop the others: they finish and are saved, then an error names every failed run."""
    specs = list(specs)
    if cpus_per_run < 1:
        raise ValueError(f"cpus_per_run must be >= 1, got {cpus_per_run}")
    todo = unique_specs(s for s in specs if cache.load(s, runs_root) is None)  # each key trains once
    for profile in sorted({s.profile for s in todo}):  # a read-only or full cache fails now, not after training
        cache.check_writable(profile, runs_root)
    if todo:
        _train_on_ray(todo, len(specs), device, progress, runs_root, address, gpus_per_run, cpus_per_run)
    out = []
    for s in specs:
        record = cache.load(s, runs_root)
        if record is None:  # cannot happen: every spec in todo was saved or raised
            raise RuntimeError(f"run {s.label()} finished on Ray but is missing from the cache at "
                               f"{cache.path_for(s, runs_root)}")
        out.append(record)
    return out


def _train_on_ray(todo, n_specs, device, progress, runs_root, address, gpus_per_run, cpus_per_run) -> None:
    ray = _import_ray()
    env = worker_env()
    started_here = not ray.is_initialized()
    if started_here:
        address = address or os.environ.get("THESIS_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS") or None
        local = {} if address else {"include_dashboard": False}  # a fresh local instance: no dashboard to start
        ray.init(address=address, runtime_env={"env_vars": env}, **local)
    try:
        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        if gpus_per_run is None:
            from_env = os.environ.get("THESIS_RAY_GPUS_PER_RUN")
            gpus_per_run = float(from_env) if from_env else (DEFAULT_GPUS_PER_RUN if cluster_gpus > 0 else 0)
        if gpus_per_run < 0 or (gpus_per_run > 1 and gpus_per_run != int(gpus_per_run)):
            raise ValueError(f"gpus_per_run must be a fraction in [0, 1] or a whole number, got {gpus_per_run}")
        if gpus_per_run > 0 and cluster_gpus == 0:  # an autoscaling cluster may still add GPU nodes: warn only
            warnings.warn(f"gpus_per_run={gpus_per_run} but the Ray cluster has no GPU now: the runs wait until one "
                          f"joins (set gpus_per_run=0 or THESIS_RAY_GPUS_PER_RUN=0 to train on CPUs)", stacklevel=3)
        options = dict(num_cpus=cpus_per_run, num_gpus=gpus_per_run)  # a lost node's runs are retried by Ray
        if not started_here:  # the caller's session has its own runtime_env: give the tasks the data location
            options["runtime_env"] = {"env_vars": env}
        task = ray.remote(_execute_task).options(**options)
        share = gpus_per_run if 0 < gpus_per_run <= 1 else 1.0
        pending = {task.remote(s, device, cpus_per_run, share): s for s in todo}
        failed = []
        desc = (f"ray runs ({len(todo)} to train, {n_specs - len(todo)} cached, "
                f"{cpus_per_run} CPU + {gpus_per_run:g} GPU each)")
        try:
            with tqdm(total=len(todo), desc=desc, disable=not progress) as bar:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1)
                    for ref in done:
                        spec = pending.pop(ref)
                        try:
                            record = ray.get(ref)
                        except ray.exceptions.RayError as err:
                            failed.append((spec, err))
                        else:
                            cache.save(spec, record, runs_root)
                        bar.set_postfix_str(spec.label())
                        bar.update()
        except BaseException:
            for ref in pending:  # interrupted (Ctrl-C, an error here): stop what has not finished
                ray.cancel(ref, force=True)
            raise
        if failed:
            names = "; ".join(s.label() for s, _ in failed)
            raise RuntimeError(f"{len(failed)} of {len(todo)} Ray run(s) failed: {names} "
                               f"(the others are saved in the run cache). First error:\n{failed[0][1]}") \
                from failed[0][1]
    finally:
        if started_here:
            ray.shutdown()
