"""The thesis's claims at a glance: one forest plot, a row per comparison of every claim
(:data:`thesis_lib.reporting.claims.CLAIMS`), the thesis's difference with its 95 % interval (square) beside ours
(circle), each coloured by its verdict; a comparison we did not run is drawn as "not run", never dropped.

A difference is drawn as a percentage of the compared cells' mean magnitude (``claims.judge``'s ``scale``), so
that CE, calibration and FGSM loss share one axis, signed so that the claim says "> 0" (for "not better than",
"≥ 0 or not significantly below"; for a part with no direction claimed, > 0 where the first-named row is lower);
the axis is linear within ±10 % and logarithmic beyond. The interval is the Welch interval of the difference
divided by the same scale (the scale's own uncertainty is ignored). The title gives the profile and the number
of seeds behind our cells.

It reads only the tidy tables (``results/tables/table_*.csv``), so it renders from the cache on a CPU in seconds:
``python -m thesis_lib.report`` writes it to ``figures/fig_claims_forest.png`` at every profile and shows it at the
top of the report; a notebook shows it with :func:`show`.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from thesis_lib.chapters.common import save
from thesis_lib.core.profiles import output_dirs
from thesis_lib.reporting import claims

FIGURE = "fig_claims_forest"
COLOURS = {claims.HELD: "#1a9850", claims.NOT_SIGNIFICANT: "#e6a100", claims.REVERSED: "#d73027",
           claims.INDICATIVE_SAME: "#8fc97a", claims.INDICATIVE_REVERSED: "#f08c7a",
           claims.NO_DIRECTION: "#7f7f7f", claims.NOT_RUN: "#bdbdbd"}
LINEAR_WITHIN = 10.0          # per cent: the symlog axis is linear within this


def comparisons(frames: dict[str, pd.DataFrame], thesis_n: dict | None = None) -> pd.DataFrame:
    """One row per comparison of every claim: id, table, comparison, kind, and for ``thesis`` and ``ours`` the
    difference (``*_diff``), its interval's half-width (``*_ci``), both in per cent of the cells' scale, the
    verdict (``*_verdict``) and n; ours is ``not run`` (nan difference) where a table is missing."""
    theirs = claims.judge_claims(claims.thesis_frames(), "thesis", thesis_n)
    ours = claims.judge_claims({t: f for t, f in frames.items() if f is not None and not f.empty}, "ours")
    out = theirs[["id", "table", "comparison", "kind"]].copy()
    for name, parts in (("thesis", theirs), ("ours", ours)):
        scale = parts.scale.where(parts.scale > 0)
        out[f"{name}_diff"] = 100 * parts.difference / scale
        out[f"{name}_ci"] = 100 * parts.ci / scale
        out[f"{name}_verdict"] = parts.verdict
        out[f"{name}_n"] = parts.n
    return out


def _profile_and_seeds(frames: dict[str, pd.DataFrame]) -> tuple[str, str]:
    profiles, seeds = set(), set()
    for f in frames.values():
        if f is None or f.empty:
            continue
        if "profile" in f:
            profiles |= {str(p) for p in f.profile.dropna()}
        if "n_seeds" in f and f.n_seeds.notna().any():
            seeds |= {int(s) for s in f.n_seeds.dropna()}
        elif "seeds" in f and f.seeds.notna().any():
            seeds |= {len(str(s).split(",")) for s in f.seeds.dropna()}
        elif "n" in f:
            seeds |= {int(s) for s in f.n.dropna()}
    profile = ", ".join(sorted(profiles)) or "nothing run"
    n = "–" if not seeds else (str(min(seeds)) if len(seeds) == 1 else f"{min(seeds)}–{max(seeds)}")
    return profile, n


def title(frames: dict[str, pd.DataFrame]) -> str:
    profile, seeds = _profile_and_seeds(frames)
    return (f"The thesis's claims at a glance: profile {profile}, {seeds} seed{'' if seeds == '1' else 's'} per cell "
            f"(the thesis: full, {claims.THESIS_SEEDS} seeds)")


def _split(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """Two columns of rows, cut at the claim boundary nearest the middle."""
    ids = list(dict.fromkeys(rows.id))
    sizes = rows.groupby("id", sort=False).size().reindex(ids).cumsum()
    if len(ids) < 2:
        return [rows]
    cut = ids[int((sizes - len(rows) / 2).abs().argmin())]
    first = ids[: ids.index(cut) + 1]
    return [rows[rows.id.isin(first)], rows[~rows.id.isin(first)]]


_GREEK = (("lambda", "λ"), ("omega", "ω"), ("tau ", "τ "))   # the spellings claim rows use (report.symbols has all)


def _short(text: str, width: int = 72) -> str:
    for ascii_name, letter in _GREEK:
        text = text.replace(ascii_name, letter)
    for long, short in ((", no direction claimed", ""), ("Ours (T2, Clamp)", "Ours"), (" (12.8s)", ""),
                        (" (19.2s)", ""), (" (25.6s)", ""), (" (32s)", "")):
        text = text.replace(long, short)
    return text if len(text) <= width else text[: width - 1] + "…"


def _panel(ax, rows: pd.DataFrame) -> None:
    y = range(len(rows))
    labels = []
    previous = None
    for i, r in zip(y, rows.itertuples(index=False)):
        if previous is not None and r.id != previous:
            ax.axhline(i - 0.5, color="0.85", lw=0.6)
        previous = r.id
        labels.append(f"{r.id}  {_short(r.comparison)}")
        for who, dy, marker in (("thesis", -0.17, "s"), ("ours", 0.17, "o")):
            diff, ci, verdict = getattr(r, f"{who}_diff"), getattr(r, f"{who}_ci"), getattr(r, f"{who}_verdict")
            colour = COLOURS.get(verdict, "black")
            if verdict == claims.NOT_RUN or diff is None or math.isnan(diff):
                ax.text(0, i + dy, "not run", fontsize=5.5, color="0.45", style="italic", ha="center", va="center")
                continue
            if ci is not None and not math.isnan(ci):
                ax.plot([diff - ci, diff + ci], [i + dy, i + dy], color=colour, lw=1.1, solid_capstyle="butt")
            ax.plot([diff], [i + dy], marker=marker, ms=3.6, color=colour,
                    mfc=colour if who == "thesis" else "white", mew=1.0, ls="")
    ax.axvline(0, color="0.3", lw=0.7)
    ax.set_xscale("symlog", linthresh=LINEAR_WITHIN)
    ax.set_yticks(list(y))
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("difference in the claimed direction, % of the compared cells' mean (> 0: as claimed)", fontsize=7)
    ax.grid(axis="x", color="0.92", lw=0.5)


def figure(frames: dict[str, pd.DataFrame], thesis_n: dict | None = None):
    """The forest plot of :func:`comparisons` (a matplotlib figure), in two columns of rows."""
    rows = comparisons(frames, thesis_n)
    columns = _split(rows)
    height = max(len(c) for c in columns) * 0.2 + 1.6
    fig, axes = plt.subplots(1, len(columns), figsize=(7.5 * len(columns), height), squeeze=False)
    reach = pd.concat([rows[f"{w}_diff"].abs() + rows[f"{w}_ci"].fillna(0) for w in ("thesis", "ours")]).max()
    reach = 2.0 * max(float(reach) if not math.isnan(reach) else 0.0, LINEAR_WITHIN)   # room on the log side
    for ax, col in zip(axes[0], columns):
        _panel(ax, col.reset_index(drop=True))
        ax.set_xlim(-reach, reach)                  # one axis for both columns
    handles = [Line2D([], [], marker="s", ls="", color="0.3", label="thesis's numbers"),
               Line2D([], [], marker="o", ls="", color="0.3", mfc="white", label="ours")]
    handles += [Line2D([], [], marker="o", ls="-", color=c, label=v) for v, c in COLOURS.items()]
    fig.suptitle(title(frames), fontsize=10, y=1 - 0.08 / height, va="top")
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.32 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / height))
    return fig


def write(frames: dict[str, pd.DataFrame], figures_dir: str | Path, thesis_n: dict | None = None) -> Path:
    """Draw the forest plot and write ``<figures_dir>/fig_claims_forest.png`` (stamped with profile and images)."""
    fig = figure(frames, thesis_n)
    images = sorted({str(i) for f in frames.values() if f is not None and "images" in f for i in f.images.dropna()})
    profile, _ = _profile_and_seeds(frames)
    try:
        return save(fig, FIGURE, figures_dir, f"profile={profile} | images: {', '.join(images) or '?'}")
    finally:
        plt.close(fig)


def load(tables_dir: str | Path) -> dict[str, pd.DataFrame]:
    """``{table id: tidy frame}`` from ``table_<id>.csv`` (as :func:`thesis_lib.reporting.report.load_tables`
    reads them; the report passes its own)."""
    out = {}
    for path in sorted(Path(tables_dir).glob("table_*.csv")):
        try:
            out[path.stem[len("table_"):].replace("_", ".")] = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            continue
    return out


def show(results_dir=None, figures_dir=None) -> None:
    """A notebook's one call: the forest plot of every table written so far under ``results_dir/tables``, written
    to ``figures_dir`` and displayed."""
    results, figures = output_dirs(results_dir, figures_dir)
    path = write(load(results / "tables"), figures)
    try:
        from IPython.display import Image, display  # IPython only inside a notebook
    except ImportError:  # pragma: no cover - outside a notebook
        print(f"wrote {path}")
        return
    display(Image(filename=str(path)))
