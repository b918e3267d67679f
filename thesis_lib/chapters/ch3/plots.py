"""Chapter 3's figures (and appendix B's). Functions draw onto matplotlib figures and return them; :func:`save`
(:func:`thesis_lib.chapters.common.save`) writes them under figures/."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from thesis_lib import CLASSES
from thesis_lib.chapters.common import OURS, THEIRS, save, set_note  # noqa: F401  (the figures' colours and writer)
from thesis_lib.core.summary import mean_ci
from thesis_lib.labels import DEFAULT_GAMMA, soft_label


def label_varieties(el, gamma: float = DEFAULT_GAMMA, title: str = "", rules: str = "thesis"):
    """Fig. 3.2: the four labels built (under ``rules``) from one annotator's elicitation."""
    fig, axes = plt.subplots(1, 4, figsize=(14, 2.8), sharey=True)
    for ax, (letter, variety) in zip(axes, zip("ABCD", ("T1Uniform", "T1Clamp", "T2Uniform", "T2Clamp"))):
        lab = soft_label(el, variety, gamma, rules=rules)
        colors = ["0.75" if k in el.impossible else OURS for k in range(len(CLASSES))]
        ax.bar(range(len(CLASSES)), lab, color=colors)
        ax.set_title(f"{letter}) {variety[:2]}, {variety[2:]}")
        ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=60, fontsize=8)
    axes[0].set_ylabel("probability")
    fig.suptitle(title or describe_elicitation(el), fontsize=9, y=1.04)
    return fig


def describe_elicitation(el) -> str:
    """One line saying what an annotator answered (the title of Fig. 3.2's panels)."""
    s = f"most probable: {CLASSES[el.top1]} {el.p1:g}%"
    if el.top2 is not None:
        s += f"; second: {CLASSES[el.top2]} {el.p2:g}%"
    return s + f"; definitely not: {', '.join(CLASSES[k] for k in sorted(el.impossible)) or 'none'} (grey)"


#: The CIFAR-10 classes of the images the thesis's figures show, as their captions name them.
THESIS_CLASSES = {"3.4": ("frog", "airplane", "frog"), "B.1": ("dog", "frog", "bird"),
                  "B.2": ("truck", "dog", "airplane")}


def _and(words) -> str:
    words = [str(w) for w in words]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def comparison_note(frame, thesis_classes=None) -> str:
    """What a label-comparison figure of ours shows: its test images and their CIFAR-10 classes, and whether those
    differ from the images the thesis's figure shows (``thesis_classes``, from its caption)."""
    idx = [int(i) for i in frame.index]
    classes = [CLASSES[int(h)] for h in frame.hard]
    text = (f"test image{'s' if len(idx) > 1 else ''} {_and(idx)} (CIFAR-10 label{'s' if len(idx) > 1 else ''} "
            f"{_and(classes)}), picked by the thesis's rule from our labels")
    if thesis_classes is not None:
        if tuple(classes) != tuple(thesis_classes):
            text += f"; not the thesis's images (its figure shows {_and(thesis_classes)})"
        else:
            text += f"; the same classes as the thesis's figure ({_and(thesis_classes)})"
    return text + "."


def label_comparisons(images: np.ndarray, frame, titles=None, thesis_classes=None):
    """Figs 3.3, 3.4, B.1, B.2: each image beside its CIFAR-10S (blue) and CIFAR-10H (red) labels. The figure's
    note (:func:`comparison_note`, written by :func:`save` and added to the report's caption) names the images
    and, given the thesis figure's ``thesis_classes``, says whether they are other images than the thesis's."""
    n = len(frame)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 5.2), gridspec_kw={"height_ratios": [1.1, 1]}, squeeze=False)
    x = np.arange(len(CLASSES))
    for j, (idx, row) in enumerate(frame.iterrows()):
        axes[0, j].imshow(images[idx], interpolation="lanczos")
        axes[0, j].set_axis_off()
        axes[0, j].set_title(titles[j] if titles else f"test image {idx} (CIFAR-10: {CLASSES[row.hard]})", fontsize=9)
        ax = axes[1, j]
        ax.bar(x - 0.2, row.cifar10s, 0.4, color=OURS, label=f"CIFAR-10S (M={row.annotators})")
        ax.bar(x + 0.2, row.cifar10h, 0.4, color=THEIRS, label="CIFAR-10H (M~51)")
        ax.set_xticks(x, CLASSES, rotation=60, fontsize=8)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return set_note(fig, comparison_note(frame, thesis_classes))


def simulator_fit(sim, elicitations_by_band: dict):
    """Appendix B.5: fitted Beta densities over the human top-1 / top-2 probabilities, and K_p histograms."""
    from scipy import stats

    fig, axes = plt.subplots(2, 3, figsize=(13, 6))
    grid = np.linspace(0.005, 0.995, 199)
    for r, band in enumerate(("low", "high")):
        fit, els = getattr(sim, band), elicitations_by_band[band]
        for c, (what, values, ab) in enumerate((("top-1", [e.p1 / 100 for e in els], fit.top1_beta),
                                                 ("top-2", [e.p2 / 100 for e in els if e.top2 is not None],
                                                  fit.top2_beta))):
            ax = axes[r, c]
            sns.histplot(values, bins=20, stat="density", ax=ax, color="0.7")
            ax.plot(grid, stats.beta.pdf(grid, *ab), color=OURS, label=f"Beta({ab[0]:.2f}, {ab[1]:.2f})")
            ax.set_ylim(0, 8)
            ax.set_title(f"{band}-entropy images: {what} probability")
            ax.legend(fontsize=8)
        axes[r, 2].bar(range(10), fit.kp_hist, color=OURS)
        axes[r, 2].set_title(f"{band}-entropy images: K_p (alternatives left possible)")
    fig.tight_layout()
    return fig


SERIES = {"cifar10h": ("CIFAR-10H", THEIRS), "T2Clamp": ("CIFAR-10S (T2, Clamp)", OURS)}
METRIC_NAMES = {"ce": "CE", "calibration": "Calibration", "fgsm_loss": "FGSM loss"}


def metric_curves(points, records: dict, eval_sets=("cifar10h", "cifar10s"), x: str = "x", xlabel: str = "",
                  log_x: bool = False):
    """Figs 3.5, B.3 and 3.6: each metric against ``x`` per series, mean with 95 % CI bars over the runs. When a
    point rests on fewer than the thesis's 5 seeds the figure's note says how many (and, with one seed, that no
    bars can be drawn), so the thesis's caption ("averaged over 5 seeds", "bars ... over the 5 seeds") is not
    read as describing ours."""
    fig, axes = plt.subplots(len(eval_sets), 3, figsize=(13, 3.4 * len(eval_sets)), squeeze=False)
    for r, es in enumerate(eval_sets):
        for c, (metric, name) in enumerate(METRIC_NAMES.items()):
            ax = axes[r, c]
            for series, (label, color) in SERIES.items():
                pts = sorted((getattr(p, x), p) for p in points if p.series == series)
                if not pts:
                    continue
                stats_ = [mean_ci(records[s.key]["metrics"][es][metric] for s in p.specs) for _, p in pts]
                xs = [v for v, _ in pts]
                ys = [m for m, _ in stats_]
                err = [0 if np.isnan(h) else h for _, h in stats_]
                ax.errorbar(xs, ys, yerr=err, fmt="o-", color=color, label=label, capsize=3, ms=4)
            ax.set_title(f"{name} ({'CIFAR-10H' if es == 'cifar10h' else 'CIFAR-10S'} evaluation)", fontsize=9)
            ax.set_xlabel(xlabel)
            if log_x:
                ax.set_xscale("log")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return set_note(fig, seeds_note([len({s.seed for s in p.specs}) for p in points]))


def seeds_note(per_point) -> str | None:
    """The note of a figure whose points average ``per_point`` seeds each, when that is not the thesis's 5."""
    counts = sorted(set(int(n) for n in per_point))
    if not counts or counts[0] >= 5:
        return None
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    plural = "s" if counts[-1] != 1 else ""
    if counts[-1] == 1:
        return "each dot rests on one seed, not an average over 5 seeds; with one seed there are no interval bars."
    return (f"each dot averages {seeds} seed{plural}, not 5; bars are 95 % intervals over those seeds"
            + (" (none where a dot has one seed)." if counts[0] == 1 else "."))
