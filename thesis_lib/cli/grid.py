"""Fill the run cache for whole tables without the notebooks (a GPU machine, a Ray cluster, a batch job).

    python -m thesis_lib.grid --chapter 3 --tables 3.1 --profile full --models resnet34a --jobs 8
    python -m thesis_lib.grid --chapter 5 --tables 5.1 --profile quick --list      # what would train, what is cached
    python -m thesis_lib.grid --chapter 3 --tables 3.2 --profile quick --engine multi   # runs stacked in one process
    python -m thesis_lib.grid --chapter 5 --tables 5.2 --profile quick --rules release  # the release's label rules

It builds the same run specs as the chapter notebooks (so their keys match and the notebooks then only load the
results), trains the uncached ones through :func:`thesis_lib.runs.run.run_grid`, and prints, per table, how many runs
are cached and the device-hours they took (wall time x device share). ``--deadline-min`` starts no run after that
many minutes, for machines lent for a fixed time: a finished run is always saved, so the next call goes on.
``--rules`` (default ``thesis``) is every run's label rule set, as a notebook's ``rules`` parameter; Chapter 4's
labels come from lambda_h, so there anything but ``thesis`` is an error.
"""

from __future__ import annotations

import argparse
import sys
import time

from thesis_lib.chapters import grids
from thesis_lib.data import DataError
from thesis_lib.reporting.tables import device_hours
from thesis_lib.runs import cache
from thesis_lib.runs.grid import Grid
from thesis_lib.runs.run import run_records


def summary(grid: Grid, runs_root=None) -> list[dict]:
    """Per table: distinct runs, how many are cached, and the device-hours of the cached ones."""
    out = []
    for tid in grid.tables:
        specs = grid.table_specs(tid)
        records = [r for r in (cache.load(s, runs_root) for s in specs) if r is not None]
        out.append({"table": tid, "runs": len(specs), "cached": len(records),
                    "device_hours": device_hours(records),
                    "devices": "; ".join(sorted({r["device"] for r in records})) or "-"})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m thesis_lib.grid", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chapter", type=int, required=True, choices=(3, 4, 5))
    p.add_argument("--tables", nargs="*", default=None, help="default: every table of the chapter")
    p.add_argument("--profile", default="quick", choices=("full", "quick", "smoke"))
    p.add_argument("--seeds", type=int, nargs="*", default=None, help="default: the profile's")
    p.add_argument("--models", nargs="*", default=None, help="default: the profile's")
    p.add_argument("--jobs", type=int, default=1, help="runs at once on this machine")
    p.add_argument("--backend", default=None, choices=("local", "ray"))
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
    p.add_argument("--deadline-min", type=float, default=None, help="start no run after this many minutes")
    p.add_argument("--engine", default=None, choices=("single", "multi"),
                   help="single: one run per training loop (default; THESIS_ENGINE); multi: stackable runs trained "
                        "together in this process (thesis_lib.training.multirun)")
    p.add_argument("--group-size", type=int, default=None, help="multi engine: at most this many runs per stack")
    p.add_argument("--rules", default="thesis",
                   help="label rule set of every run (chapters 3 and 5): thesis (default) or release; checked by the spec")
    p.add_argument("--list", action="store_true", help="only say what is cached and what would train")
    a = p.parse_args(argv)

    try:
        grid = grids.build(a.chapter, a.profile, seeds=a.seeds, models=a.models, tables=a.tables, figures=(),
                           rules=a.rules)
        specs = grid.specs()
        if not a.list:
            t0 = time.perf_counter()
            if a.group_size is not None and a.group_size < 1:
                raise ValueError(f"--group-size must be >= 1, got {a.group_size}")
            run_records(grid, device=a.device, jobs=a.jobs, backend=a.backend, engine=a.engine,
                        group_size=a.group_size, deadline_s=None if a.deadline_min is None else 60 * a.deadline_min)
            print(f"wall time {time.perf_counter() - t0:.0f} s")
    except (ValueError, DataError, OSError) as err:  # OSError: an output folder that cannot be written
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"chapter {a.chapter}, profile {a.profile}: {len(specs)} distinct runs")
    print("| table | runs | cached | device-hours | devices |\n|---|---|---|---|---|")
    for row in summary(grid):
        print(f"| {row['table']} | {row['runs']} | {row['cached']} | {row['device_hours']:.3f} | {row['devices']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
