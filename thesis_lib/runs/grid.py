"""A grid: the runs behind a chapter's tables and figures, as every chapter builds it (``chapters/chN/grid.build``)
and as the notebooks, the command lines and the allocation run it (:func:`thesis_lib.runs.run.run_records`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from thesis_lib.runs.spec import RunSpec, unique_specs


@dataclass(frozen=True)
class Row:
    """One table row: its label as the thesis prints it, and the runs averaged into it. ``suffix`` names the
    column block (e.g. ``" (M=2)"`` in Table 3.3, where one printed row spans two settings); ``eval_sets`` the
    evaluation sets its cells come from."""

    label: str
    specs: tuple[RunSpec, ...]
    suffix: str = ""
    eval_sets: tuple[str, ...] = field(default=("cifar10h", "cifar10s"))


@dataclass(frozen=True)
class Point:
    """One point of a figure drawn from runs: its series, its x value and the runs averaged into it."""

    series: str          # e.g. "cifar10h" | "T2Clamp"
    x: float             # e.g. annotation cost M * t_per (Fig. 3.5) or N' (Fig. 3.6)
    specs: tuple[RunSpec, ...]
    m: int | None = None  # annotators per image (Fig. B.3 plots against it)


@dataclass(frozen=True)
class Grid:
    """``tables``: table id -> rows; ``figures``: figure id -> points (only figures drawn from runs)."""

    profile: str
    tables: dict[str, list[Row]]
    figures: dict[str, list[Point]] = field(default_factory=dict)

    def specs(self) -> list[RunSpec]:
        """Every run of the grid, each key once (tables and figures share runs), in first-seen order."""
        return unique_specs([s for rows in self.tables.values() for row in rows for s in row.specs]
                            + [s for points in self.figures.values() for p in points for s in p.specs])

    def table_specs(self, table: str) -> list[RunSpec]:
        return unique_specs(s for row in self.tables[table] for s in row.specs)

    def merged(self, other: "Grid") -> "Grid":
        """This grid and ``other`` (same profile) as one, e.g. two chapters' tables for one run."""
        if other.profile != self.profile:
            raise ValueError(f"cannot merge a {self.profile!r} grid with a {other.profile!r} one")
        return Grid(self.profile, {**self.tables, **other.tables}, {**self.figures, **other.figures})
