"""Every chapter's grid through one contract. Each ``chapters/chN/`` offers the same two functions:

* ``grid.build(profile, **params) -> Grid``: the rows of run specs of each table (and of each figure drawn from
  runs); ``seeds``, ``models``, ``tables``, ``figures`` (the catalogue's ids), ``images`` and ``rules`` are common
  to every chapter, the rest the chapter's own (``gamma``, ``confidence_gamma``, ``chosen``...);
* ``runs.run_data(spec) -> RunData``: what one run trains and is evaluated on, which the engine finds through
  :mod:`thesis_lib.runs.chapters`.

The command lines (:mod:`thesis_lib.cli.grid`, :mod:`thesis_lib.cli.allocate`),
the pre-flight and the report reach the chapters only through here; which chapter a table belongs to is the thesis
catalogue's (:mod:`thesis_lib.core.catalogue`)."""

from __future__ import annotations

from functools import lru_cache

from thesis_lib.chapters.ch3 import grid as chapter3
from thesis_lib.chapters.ch4 import grid as chapter4
from thesis_lib.chapters.ch5 import grid as chapter5
from thesis_lib.core import catalogue
from thesis_lib.runs.grid import Grid

GRIDS = {3: chapter3, 4: chapter4, 5: chapter5}


def build(chapter: int, profile: str, **params) -> Grid:
    """Chapter ``chapter``'s grid exactly as its notebook builds it (``params`` as above)."""
    if chapter not in GRIDS:
        raise ValueError(f"chapter must be one of {sorted(GRIDS)}, got {chapter!r}")
    return GRIDS[chapter].build(profile, **params)


def build_tables(profile: str, tables, **params) -> Grid:
    """The runs of ``tables`` (any chapters', no figures) as one grid; ``params`` go to every chapter's build."""
    grid = Grid(profile, {})
    for chapter in sorted({catalogue.chapter_of(t) for t in tables}):
        mine = tuple(t for t in tables if catalogue.chapter_of(t) == chapter)
        grid = grid.merged(build(chapter, profile, tables=mine, figures=(), **params))
    return grid


@lru_cache(maxsize=None)
def thesis_protocol(table: str) -> tuple[tuple[str, ...], int, int]:
    """``(models, epochs, runs)`` of ``table`` under the thesis protocol: what its chapter's grid builds at profile
    ``full`` (no GPU or data needed to build it). The report's captions read it, so they cannot drift from what
    the full profile trains."""
    grid = build_tables("full", (table,), images="official")
    specs = grid.table_specs(table)
    return tuple(dict.fromkeys(s.model for s in specs)), specs[0].epochs, len(specs)
