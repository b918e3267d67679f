"""What every chapter shares: the evaluation subset and validation draws, the validation choice (:func:`choose`),
and the figures' colours and writer (:func:`save`). Chapters import this; nothing below the chapters does. (What a
run trains on, :class:`~thesis_lib.runs.run_data.RunData`, and a grid's rows, :mod:`thesis_lib.runs.grid`, are the
engine's types.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from thesis_lib.core import profiles
from thesis_lib.core.atomic import atomic_path
from thesis_lib.core.catalogue import HYP
from thesis_lib.core.summary import mean_ci
from thesis_lib.runs.spec import RunSpec

#: training images held out by a validation run (``validation=True``), the Chapter 3 method Chapter 5 reuses
VALIDATION_SIZE = HYP["validation_size"]

OURS, THEIRS = "#1f77b4", "#d62728"   # CIFAR-10S blue, CIFAR-10H red, as in the thesis's figures


def one_model_grid(chapter: int, profile: str, seeds, models, tables, figures, default_model: str,
                   all_tables: tuple[str, ...]) -> tuple[tuple[int, ...], str, tuple[str, ...]]:
    """The common arguments of a one-architecture chapter's ``grid.build`` (Chapters 4 and 5), checked:
    ``(seeds, model, tables)`` with the profile's seeds, ``default_model`` and every table where none are given."""
    ps = profiles.settings(profile)
    if figures:
        raise ValueError(f"Chapter {chapter} has no figures drawn from runs; got {list(figures)}")
    if models is not None and len(models) != 1:
        raise ValueError(f"Chapter {chapter}'s tables use one model; got {list(models)}")
    tables = all_tables if tables is None else tuple(tables)
    unknown = set(tables) - set(all_tables)
    if unknown:
        raise ValueError(f"unknown table {sorted(unknown)}; Chapter {chapter} has {all_tables}")
    return (tuple(seeds) if seeds is not None else ps.seeds), (models[0] if models else default_model), tables


def eval_subset(test: np.ndarray, spec: RunSpec) -> np.ndarray:
    """The CIFAR-10H evaluation images of ``spec``: all of ``test``, or (``spec.eval_subset``, the smoke profile)
    that many drawn once with seed 0, the same for every run and chapter, sorted."""
    if spec.eval_subset is not None and spec.eval_subset < len(test):
        return np.sort(np.random.default_rng(0).choice(test, size=spec.eval_subset, replace=False))
    return test


def validation_draw(pool: np.ndarray, seed: int) -> np.ndarray:
    """The :data:`VALIDATION_SIZE` images a validation run of ``seed`` holds out of ``pool``, sorted."""
    return np.sort(np.random.default_rng(10_000 + seed).choice(pool, VALIDATION_SIZE, replace=False))


def choose(candidates: dict, records: dict) -> tuple[object, pd.DataFrame]:
    """The candidate with the lowest mean validation CE, and the table of every candidate's score."""
    rows = []
    for value, specs in candidates.items():
        mean, half = mean_ci(records[s.key]["metrics"]["validation"]["ce"] for s in specs)
        rows.append({"candidate": value, "validation CE": mean, "95% CI": half})
    table = pd.DataFrame(rows)
    return table.loc[table["validation CE"].idxmin(), "candidate"], table


#: the suffix of a figure's note beside its PNG (``fig_3_4_....note.txt``), read by the report's captions
NOTE_SUFFIX = ".note.txt"


def set_note(fig, text: str | None):
    """Attach to ``fig`` what it shows where it differs from the thesis's figure (other images, fewer seeds);
    :func:`save` writes it beside the PNG and the report adds it to the thesis's caption. Returns ``fig``."""
    fig._thesis_note = text or None
    return fig


def note_of(fig) -> str | None:
    return getattr(fig, "_thesis_note", None)


class SavedFigure(type(Path())):
    """The path :func:`save` returns; a notebook cell ending in ``save(...)`` shows where the figure went (and
    its note) instead of ``PosixPath('...')``."""

    def __repr__(self) -> str:
        note = Path(str(self)[:-len(".png")] + NOTE_SUFFIX) if str(self).endswith(".png") else None
        text = f"saved {self}"
        if note is not None and note.is_file():
            text += f"\nOur figure: {note.read_text().strip()}"
        return text

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


def save(fig, name: str, out_dir: str | Path = "figures", stamp: str | None = None, note: str | None = None) -> Path:
    """Write ``fig`` as ``<out_dir>/<name>.png``; ``stamp`` (e.g. profile and image provenance) is printed in
    the lower corner so a figure is never mistaken for one of another run. ``note`` (default: the one
    :func:`set_note` attached) says what our figure shows where it differs from the thesis's; it is written to
    ``<name>.note.txt`` (an old note is removed when there is none)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if stamp:  # below everything drawn so far, so it never covers tick labels
        box = fig.get_tightbbox(fig.canvas.get_renderer())
        y = (box.y0 - 0.05) / fig.get_figheight()
        fig.text(0.99, y, stamp, ha="right", va="top", fontsize=6, color="0.4")
    path = out / f"{name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format="png")
    note = note if note is not None else note_of(fig)
    note_path = out / f"{name}{NOTE_SUFFIX}"
    if note:
        with atomic_path(note_path) as tmp:
            Path(tmp).write_text(note.strip() + "\n")
    elif note_path.exists():
        note_path.unlink()
    return SavedFigure(path)
