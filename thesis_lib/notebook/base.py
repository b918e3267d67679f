"""What every chapter notebook does around its own analysis, so that each of its code cells is one call.

A notebook's first code cell after its parameters is ``ch = ChapterN(**parameters)``: a :class:`ChapterNotebook`
subclass (:mod:`thesis_lib.notebook.chapter3`, ...) that checks the parameters (clear errors for a bad
papermill value), resolves the output folders, loads the CIFAR-10 images once and stamps every figure with the
profile and image provenance. Each later cell is one method call: a figure (:meth:`ChapterNotebook.save` writes
it), a table of the chapter's analysis (:meth:`ChapterNotebook.show`), the runs of the chapter's grid
(:meth:`ChapterNotebook.train`: :func:`thesis_lib.chapters.grids.build` and
:func:`thesis_lib.runs.run.run_records`), a table beside the thesis (:meth:`ChapterNotebook.table`) or the
provenance sensitivity of every table (:meth:`ChapterNotebook.provenance_sensitivity`). The analysis itself lives
in the chapter's package (:mod:`thesis_lib.chapters`); this layer only orders, writes and shows, so it sits above
the reporting it calls and below the command lines.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from thesis_lib import data, labels
from thesis_lib.chapters import grids
from thesis_lib.chapters.common import SavedFigure, save
from thesis_lib.core import catalogue
from thesis_lib.core.profiles import check_profile, output_dirs
from thesis_lib.models import MODEL_NAMES
from thesis_lib.reporting import forest, provenance_sensitivity, tables
from thesis_lib.reporting.render import display
from thesis_lib.runs.grid import Grid
from thesis_lib.runs.run import run_records


def check_fraction(name: str, value, low: float = 0.0, high: float = 1.0, *, open_high: bool = False,
                   open_low: bool = False) -> float | None:
    """A notebook parameter that must lie in [low, high] (``open_*``: excluding that end); ``None`` passes (the
    thesis's value)."""
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low < value if open_low else low <= value) and (value < high if open_high else value <= high)
    if not ok:
        raise ValueError(f"{name} must lie in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}, "
                         f"got {value!r}")
    return float(value)


def check_list(name: str, value, ok, want: str) -> tuple | None:
    """A notebook parameter that is a list (or tuple) of items each passing ``ok``, or ``None`` (the profile's)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(ok(v) for v in value):
        raise ValueError(f"{name} must be a non-empty list of {want}, or None for the profile's; got {value!r}")
    return tuple(value)


def check_seeds(seeds) -> tuple | None:
    return check_list("seeds", seeds, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                      "integers >= 0")


def check_models(models) -> tuple | None:
    return check_list("models", models, lambda m: m in MODEL_NAMES, f"model names ({', '.join(MODEL_NAMES)})")


def check_model(model) -> str | None:
    """One model name, or ``None`` for the profile's (Chapters 4 and 5 train one architecture)."""
    if model is not None and model not in MODEL_NAMES:
        raise ValueError(f"model must be one model name ({', '.join(MODEL_NAMES)}), or None for the profile's; "
                         f"got {model!r}")
    return model


def check_device(device) -> str:
    """``device`` if torch can name it ("auto", "cpu", "cuda", "cuda:1" ...), else a ValueError."""
    if device != "auto":
        try:
            torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' (or 'cuda:N'), got {device!r}") from err
    return device


def check_rules(rules) -> str:
    """The label rule set: "thesis" (section 3.2.2) or "release" (the authors' released labels)."""
    try:
        return labels.check_rules(rules)
    except ValueError as err:
        raise ValueError(f"rules: {err} (section 3.2.2's rules or the authors' released ones)") from err


def check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


class ChapterNotebook:
    """The state a chapter notebook's cells share: parameters, output folders, images, the grid and its records."""

    chapter: int = 0
    #: how :meth:`table` lays a table out (:func:`thesis_lib.reporting.tables.show`'s ``label`` and ``by_group``)
    table_style: dict = {}

    def __init__(self, profile: str, *, seeds=None, models=None, tables=None, device: str = "auto", jobs: int = 1,
                 results_dir=None, figures_dir=None):
        self.profile = check_profile(profile)          # 'full' needs a GPU: it is the thesis protocol
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
        self.seeds, self.models = check_seeds(seeds), check_models(models)
        self.device, self.jobs = check_device(device), jobs
        # ``tables`` may name any chapter's tables (./run_all.sh passes one list to every notebook): each notebook
        # takes its own, and an id the thesis does not have is an error
        everything = catalogue.table_ids() + catalogue.figure_ids(trained=True)
        known = catalogue.table_ids(self.chapter) + catalogue.figure_ids(self.chapter, trained=True)
        if tables is not None and (isinstance(tables, str) or not hasattr(tables, "__iter__")):
            raise ValueError(f"tables must be a list of table ids (e.g. [\"3.1\"]) or None for all, got {tables!r}")
        wanted = tuple(str(t) for t in tables) if tables is not None else known
        unknown = [t for t in wanted if t not in everything]
        if unknown:
            raise ValueError(f"tables={list(wanted)}: {unknown} is no table of the thesis (nor a figure drawn from "
                             f"runs); Chapter {self.chapter}'s notebook has {', '.join(known)}")
        if not set(wanted) & set(known):
            print(f"tables={list(wanted)}: none is Chapter {self.chapter}'s ({', '.join(known)}), so this notebook "
                  "trains no run")
        self.tables = tuple(t for t in known if t in wanted and t in catalogue.TABLES)
        self.figure_runs = tuple(t for t in known if t in wanted and t not in catalogue.TABLES)
        self.results, self.figures = output_dirs(results_dir, figures_dir)
        self.cifar10 = data.load_cifar10_test()
        self.stamp = f"profile={profile} | images: {self.cifar10.provenance}"
        self.grid: Grid | None = None
        self.records: dict[str, dict] = {}

    # -- writing and showing ----------------------------------------------------------------------------------------

    def save(self, fig, name: str) -> SavedFigure:
        """Write ``fig`` as ``figures/<name>.png``, stamped with the profile and images (and its note, if any)."""
        return save(fig, name, self.figures, self.stamp)

    def show(self, frame: pd.DataFrame, csv: str | None = None) -> pd.DataFrame:
        """Display ``frame`` (and write it to ``results/tables/<csv>`` for the report); returns it."""
        if csv:
            tables.write_csv(frame, self.results / "tables" / csv)
        display(frame)
        return frame

    # -- the runs ---------------------------------------------------------------------------------------------------

    def train(self, **params) -> Grid:
        """Build the chapter's grid for the tables (and figures) asked for, with the notebook's seeds and models and
        the chapter's ``params``, and run it through the cache: cached runs are loaded, the rest trained
        (``device``, ``jobs``)."""
        params = {"seeds": self.seeds, "models": self.models, **params}
        self.grid = grids.build(self.chapter, self.profile, tables=self.tables, figures=self.figure_runs,
                                images=self.cifar10.provenance.source, **params)
        specs = self.grid.specs()
        print(f"{len(specs)} distinct runs for {', '.join(self.tables + self.figure_runs)} at profile "
              f"'{self.profile}'")
        self.records = run_records(self.grid, device=self.device, jobs=self.jobs)
        hours = sum(r["wall_time_s"] for r in self.records.values()) / 3600
        print(f"done: {hours:.2f} device-hours in total (cached runs count the time they took when they ran)")
        return self.grid

    def _trained(self) -> Grid:
        if self.grid is None:
            raise RuntimeError("no runs yet: run the training cell (.train()) first")
        return self.grid

    def table(self, table: str, **kw) -> pd.DataFrame | None:
        """Table ``table`` beside the thesis (:func:`thesis_lib.reporting.tables.show`: written to results/tables/,
        shown as ``ours / thesis`` per cell); ``None``, said so, when the ``tables`` parameter left it out."""
        grid = self._trained()
        if table not in grid.tables:
            print(f"Table {table}: not asked for (tables={list(self.tables)})")
            return None
        print(f"Table {table}. {catalogue.caption(table)}")
        return tables.show(table, grid, self.records, self.results / "tables", **{**self.table_style, **kw})

    def where_we_stand(self) -> pd.DataFrame:
        """Per table: cells with a thesis value, how many of those values lie inside our 95 % interval, and the mean
        absolute difference (at ``quick`` / ``smoke`` only a check that the pipeline runs)."""
        grid = self._trained()
        rows = []
        for tid, table_rows in grid.tables.items():
            frame = tables.summarise(tid, table_rows, self.records).dropna(subset=["thesis"])
            rows.append({"table": tid, "cells": len(frame), "profile": self.profile,
                         "thesis value inside our 95 % CI": int(frame.thesis_in_ci.eq(True).sum()),
                         "mean |ours - thesis|": frame["difference"].abs().mean()})
        return self.show(pd.DataFrame(rows))

    def provenance_sensitivity(self) -> pd.DataFrame:
        """Every table's headline metrics on the pixel-exact evaluation images beside all of them
        (:func:`thesis_lib.reporting.provenance_sensitivity.show`)."""
        return provenance_sensitivity.show(self._trained(), self.records, self.results / "tables")

    def claims_at_a_glance(self) -> None:
        """The forest plot of every claim over the tables written so far (:func:`thesis_lib.reporting.forest.show`)."""
        forest.show(self.results, self.figures)
