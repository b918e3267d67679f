"""Figures of section 4.2 (Figs 4.2-4.5 and a grid of the stimuli), drawn from :mod:`thesis_lib.chapters.ch4.analysis`.

Every function returns a matplotlib figure; write it with :func:`thesis_lib.chapters.common.save`. As in the thesis, the red
line marks perfect alignment of the human-inferred coefficient with the generating one (lambda_h = lambda_f).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from thesis_lib import CLASSES
from thesis_lib.chapters.ch4.analysis import (GROUP_HIGH, GROUP_LOW, GROUP_OTHER, CategoryBoundary, EntropyGroups,
                                          lambda_h_by_lambda_f)
from thesis_lib.data.hmix import mix_images, parse_stimulus
from thesis_lib.chapters.common import OURS, THEIRS


def _stripplot(**kw) -> None:
    """``seaborn.stripplot`` with a fixed jitter: seaborn draws it from NumPy's global generator, so the same data
    gave a different PNG depending on what ran before; the global state is restored afterwards."""
    state = np.random.get_state()
    np.random.seed(0)
    try:
        sns.stripplot(**kw)
    finally:
        np.random.set_state(state)


def _as_uint8(mixed: np.ndarray) -> np.ndarray:
    """Stimuli are float on 0-255 (lambda * x_a + (1 - lambda) * x_b); round to the 8-bit image people saw."""
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _alignment_line(ax) -> None:
    ax.plot([0, 1], [0, 1], color=THEIRS, lw=1.5, label="perfect alignment (lambda_h = lambda_f)", zorder=1)


def stimuli_grid(images: np.ndarray, stimuli, n: int = 12, ncols: int = 6):
    """The first ``n`` stimuli rebuilt in pixel space, each titled with its lambda_f and endpoint classes."""
    chosen = list(stimuli)[:n]
    mixed = _as_uint8(mix_images(images, chosen))
    nrows = max(1, -(-len(chosen) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 2.2 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, s, img in zip(axes.flat, chosen, mixed):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(f"{s.lambda_f:g} {CLASSES[s.class_a]}\n{1 - s.lambda_f:g} {CLASSES[s.class_b]}", fontsize=8)
    fig.tight_layout()
    return fig


def fig_4_2(frame: pd.DataFrame):
    """Fig. 4.2: every human-inferred lambda_h against the lambda_f that generated the image.

    Boxes (blue) show median and quartiles per lambda_f; points are the individual judgements (jittered).
    """
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    _alignment_line(ax)
    _stripplot(data=frame, x="lambda_f", y="lambda_h", native_scale=True, jitter=0.025, size=2, alpha=0.25,
               color="0.4", ax=ax, zorder=2)
    sns.boxplot(data=frame, x="lambda_f", y="lambda_h", native_scale=True, width=0.4, color=OURS, fill=False,
                showfliers=False, ax=ax, zorder=3)
    summary = lambda_h_by_lambda_f(frame)
    ax.plot(summary.index, summary["median"], "o", color=OURS, label="median lambda_h", zorder=4)
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="generating mixing coefficient lambda_f",
           ylabel="human-inferred lambda_h", title="Human-inferred vs generating mixing coefficient")
    ax.set_xticks(summary.index)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def fig_4_3(images: np.ndarray, examples: pd.DataFrame):
    """Fig. 4.3: the example stimuli with generating vs average human-inferred lambda for each endpoint.

    ``examples`` is :func:`thesis_lib.chapters.ch4.analysis.example_relabellings`; the table beneath the images
    mirrors the thesis's, with its printed values in the last row where given.
    """
    n = len(examples)
    stimuli = [parse_stimulus(name) for name in examples.stimulus]
    mixed = _as_uint8(mix_images(images, stimuli))
    fig = plt.figure(figsize=(2.6 * n + 1.5, 4.2))
    grid = fig.add_gridspec(2, n, height_ratios=[2.2, 1])
    for j, (img, (_, row)) in enumerate(zip(mixed, examples.iterrows())):
        ax = fig.add_subplot(grid[0, j])
        ax.imshow(img, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{row.class_1.title()}, {row.class_2.title()}\n{row.stimulus}", fontsize=7)
    cells = [[f"{r.lambda_f_1:g}, {r.lambda_f_2:g}" for r in examples.itertuples()],
             [f"{r.lambda_bar_h_1:.3f}, {r.lambda_bar_h_2:.3f} (M={r.n_annotators})" for r in examples.itertuples()]]
    rows = ["Generating lambda_f", "Human-inferred lambda_h (ours)"]
    if "thesis_lambda_h_1" in examples and examples.thesis_lambda_h_1.notna().any():
        cells.append([("-" if pd.isna(r.thesis_lambda_h_1) else f"{r.thesis_lambda_h_1:.2f}, {r.thesis_lambda_h_2:.2f}")
                      for r in examples.itertuples()])
        rows.append("Human-inferred lambda_h (thesis)")
    ax = fig.add_subplot(grid[1, :])
    ax.set_axis_off()
    table = ax.table(cellText=cells, rowLabels=rows, colLabels=[f"{r.class_1.title()}, {r.class_2.title()}"
                                                               for r in examples.itertuples()], loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    fig.tight_layout()
    return fig


def fig_4_4(boundary: CategoryBoundary):
    """Fig. 4.4: a class pair's "category boundary" — lambda_h against lambda_f, both as the weight of
    ``boundary.reference``; judgements in grey, mean +/- s.e.m. per lambda_f in blue."""
    j, m = boundary.judgements, boundary.means
    fig, ax = plt.subplots(figsize=(5, 4.5))
    _alignment_line(ax)
    rng = np.random.default_rng(0)   # jitter only, so overlapping judgements stay visible
    ax.scatter(j.lambda_f + rng.uniform(-0.012, 0.012, len(j)), j.lambda_h, s=12, color="0.55", alpha=0.6,
               label="judgements", zorder=2)
    ax.errorbar(m.index, m["mean"], yerr=m["sem"].fillna(0), fmt="o-", color=OURS, capsize=3,
                label="mean lambda_h", zorder=3)
    ref, oth = boundary.reference, boundary.other
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel=f"lambda_f (weight of {ref}; 0 = all {oth}, 1 = all {ref})",
           ylabel=f"lambda_h (weight of {ref})", title=f"Category boundary: {ref} vs {oth}")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def fig_4_5(groups: EntropyGroups):
    """Fig. 4.5: confidence omega when both endpoints are high-entropy under CIFAR-10H, both low, or neither;
    tick labels carry the counts because the high-entropy group is small."""
    order = [GROUP_HIGH, GROUP_LOW, GROUP_OTHER]
    s = groups.summary
    names = {GROUP_HIGH: f"both H >= {groups.high:g}", GROUP_LOW: f"both H <= {groups.low:g}", GROUP_OTHER: "other"}
    labels = [f"{names[g]}\n{s.loc[g, 'judgements']} judgements\n{s.loc[g, 'stimuli']} stimuli" for g in order]
    data = groups.judgements.assign(group=groups.judgements.group.astype(str))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    sns.boxplot(data=data, x="group", y="omega", order=order, hue="group", hue_order=order,
                palette=[THEIRS, OURS, "0.7"], showfliers=False, width=0.5, ax=ax, legend=False)
    _stripplot(data=data, x="group", y="omega", order=order, color="0.2", size=2, alpha=0.3, jitter=0.2, ax=ax)
    ax.set_xticks(range(len(order)), labels, fontsize=8)
    ax.set(xlabel="endpoint entropy (CIFAR-10H)", ylabel="confidence omega", ylim=(-0.02, 1.02),
           title="Confidence by endpoint entropy")
    fig.tight_layout()
    return fig
