"""Section 5.1: humans perceive "softer" category compositions for mixed images.

From the soft labels elicited over 100 mixed images (H-Mix, CIFAR-10S interface), built with the project's own
T2 Clamp construction (gamma = 0.1): the share of each label's mass placed *off* the two generating classes
(thesis: 38.3 % +/- 0.6 %), and the Pearson correlation between the mass on an endpoint class and that
endpoint's mixing coefficient (thesis: r = 0.52). Each annotator's label is one observation; the interval is
the 95 % t-interval of the mean (the thesis does not say what its +/- is). ``rules="release"`` builds the labels
with the H-Mix release's rules instead (:mod:`thesis_lib.labels.varieties`); :func:`composition_by_rules` sets
the two side by side. Fig. 5.1 (:func:`example_figure`) shows one mixed image's mean human label beside its mixup
label; appendix C's tau_ij curves are fitted to every H-Mix judgement (:func:`tau_fits`, :func:`tau_fit_table`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from thesis_lib import CLASSES
from thesis_lib.chapters.common import OURS, THEIRS, set_note
from thesis_lib.core.summary import mean_ci
from thesis_lib.data import load_hmix_inferences, load_hmix_soft_label_elicitations, mix_images, parse_stimulus
from thesis_lib.labels import DEFAULT_GAMMA, annotator_labels, two_hot_label
from thesis_lib.training.soft_mixup import fit_tau, logistic


@dataclass(frozen=True)
class SoftComposition:
    off_mass_mean: float       # mean share of mass off the two generating classes
    off_mass_ci: float
    pearson_r: float           # mass on an endpoint vs its coefficient
    pearson_p: float
    n_labels: int
    n_images: int
    frame: pd.DataFrame        # one row per (label, endpoint)


def soft_composition(variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA, rules: str = "thesis") -> SoftComposition:
    elicited = load_hmix_soft_label_elicitations()
    labels = annotator_labels(elicited.elicitations, variety, gamma, rules=rules)
    rows, off = [], []
    for name, per in labels.items():
        s = parse_stimulus(name)
        for m, lab in enumerate(per):
            on = lab[s.class_a] + (lab[s.class_b] if s.class_b != s.class_a else 0.0)
            off.append(1.0 - on)
            rows.append({"stimulus": name, "annotator": m, "endpoint": "a", "coefficient": s.lambda_f,
                         "mass": lab[s.class_a]})
            rows.append({"stimulus": name, "annotator": m, "endpoint": "b", "coefficient": 1.0 - s.lambda_f,
                         "mass": lab[s.class_b]})
    frame = pd.DataFrame(rows)
    mean, half = mean_ci(off)
    r, p = stats.pearsonr(frame.coefficient, frame.mass)
    return SoftComposition(mean, half, float(r), float(p), len(off), len(labels), frame)


def table(sc: SoftComposition) -> pd.DataFrame:
    return pd.DataFrame([
        {"statistic": "share of mass off the two generating classes (%)",
         "computed": f"{100 * sc.off_mass_mean:.1f} ± {100 * sc.off_mass_ci:.1f}", "thesis": "38.3 ± 0.6"},
        {"statistic": "Pearson r, endpoint mass vs its coefficient", "computed": f"{sc.pearson_r:.2f} (p = {sc.pearson_p:.1g})",
         "thesis": "0.52"},
        {"statistic": "labels / mixed images", "computed": f"{sc.n_labels} / {sc.n_images}", "thesis": "- / 100"},
    ])


def composition_by_rules(variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA) -> pd.DataFrame:
    """Section 5.1.2's statistics under the thesis's rules and under the H-Mix release's rules."""
    rows = []
    for rules in ("thesis", "release"):
        sc = soft_composition(variety, gamma, rules)
        rows.append({"rules": rules, "mass off the generating classes (%)":
                     f"{100 * sc.off_mass_mean:.1f} ± {100 * sc.off_mass_ci:.1f}",
                     "Pearson r": round(sc.pearson_r, 3), "labels": sc.n_labels, "thesis": "38.3 ± 0.6; r = 0.52"})
    return pd.DataFrame(rows)


def example_labels(name: str, variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA, rules: str = "thesis"):
    """Fig. 5.1: a mixed image's aggregated human label (built under ``rules``) and its mixup (two-hot) label."""
    elicited = load_hmix_soft_label_elicitations()
    per = annotator_labels({name: elicited.elicitations[name]}, variety, gamma, rules=rules)[name]
    s = parse_stimulus(name)
    return per.mean(0), two_hot_label(s.lambda_f, s.class_a, s.class_b)


def example_stimulus(names, classes=("horse", "ship"), lambda_f: float = 0.5) -> str:
    """The stimulus Fig. 5.1 shows: a 50/50 mix of ``classes`` when H-Mix has one, else the first by name."""
    want = {CLASSES.index(c) for c in classes}
    names = sorted(set(names))
    for n in names:
        s = parse_stimulus(n)
        if {s.class_a, s.class_b} == want and abs(s.lambda_f - lambda_f) < 1e-9:
            return n
    return names[0]


def fig_5_1(image: np.ndarray, name: str, human: np.ndarray, mix: np.ndarray):
    """A mixed image beside its mixup label and its mean human soft label."""
    import matplotlib.pyplot as plt


    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 2.5]})
    s = parse_stimulus(name)
    if {s.class_a, s.class_b} != {CLASSES.index("horse"), CLASSES.index("ship")} or abs(s.lambda_f - 0.5) > 1e-9:
        set_note(fig, f"{name}, not a λ = 0.5 horse/ship mix (H-Mix has none with soft labels).")
    ax0.imshow(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    ax0.set_axis_off()
    ax0.set_title(name, fontsize=7)
    x = np.arange(len(CLASSES))
    ax1.bar(x - 0.2, mix, 0.4, color=OURS, label="mixup label")
    ax1.bar(x + 0.2, human, 0.4, color=THEIRS, label="human soft label (mean)")
    ax1.set_xticks(x, CLASSES, rotation=60, fontsize=8)
    ax1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def example_figure(images: np.ndarray, names, variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA,
                   rules: str = "thesis"):
    """Fig. 5.1 drawn from the CIFAR-10 test ``images``: the stimulus :func:`example_stimulus` picks among ``names``
    (a 50/50 horse-ship mix, as in the thesis), mixed from its two images, beside its mixup label and its mean human
    label built under ``rules`` (:func:`example_labels`)."""
    name = example_stimulus(names)
    human, mix = example_labels(name, variety, gamma, rules=rules)
    return fig_5_1(mix_images(images, [parse_stimulus(name)])[0], name, human, mix)


def tau_fits() -> dict[tuple[int, int], tuple[float, float]]:
    """Appendix C: each class pair's logistic tau_ij, ``{(i, j): (k, m)}``, fitted by least squares to every H-Mix
    judgement of the pair (:func:`thesis_lib.training.soft_mixup.fit_tau`)."""
    return fit_tau(load_hmix_inferences())


def tau_fit_table(fits: dict) -> pd.DataFrame:
    """The fitted curves ``{(i, j): (k, m)}`` one row a class pair: ``pair`` ("cat–dog"), slope ``k`` and midpoint
    ``m``."""
    return pd.DataFrame([{"pair": f"{CLASSES[a]}–{CLASSES[b]}", "k": k, "m": m} for (a, b), (k, m) in fits.items()],
                        columns=["pair", "k", "m"])


def fig_c_1(fits: dict):
    """Appendix C: every class pair's fitted tau_ij(lambda_f) against linear mixup's identity."""
    import matplotlib.pyplot as plt


    grid = np.linspace(0, 1, 101)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for k, m in fits.values():
        ax.plot(grid, logistic(grid, k, m), lw=0.8, alpha=0.6)
    ax.plot([0, 1], [0, 1], color="red", lw=1.5, label="linear mixup")
    ax.set_xlabel("λ_f (weight of the lower-index class)")
    ax.set_ylabel("τ_ij(λ_f)")
    ax.legend()
    return fig
