"""The dataset statistics Chapter 3 quotes, computed from the data and set beside the thesis's values, the
selection of the example images its figures show (Figs 3.3, 3.4, B.1, B.2), what the data sources hold (section
3.2.1) and how the appendix B.5 simulator's labels compare with the human ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from thesis_lib import CLASSES
from thesis_lib.data import CIFAR10S, SOURCES, CIFAR10Test, UmaSplit, entropy
from thesis_lib.labels import DEFAULT_GAMMA, SoftLabelSimulator, aggregate, annotator_labels
from thesis_lib.labels.simulator import HIGH_ENTROPY_MIN, LOW_ENTROPY_MAX

#: CIFAR-10H entropy bands (nats) of appendix B.5's simulator: low H <= 0.1, high H > 0.25 (the simulator's own)
LOW_ENTROPY, HIGH_ENTROPY = LOW_ENTROPY_MAX, HIGH_ENTROPY_MIN


def data_overview(cifar10: CIFAR10Test, c10s: CIFAR10S, split: UmaSplit) -> list[str]:
    """What the sources hold, one line each: the CIFAR-10 test images' provenance, the CIFAR-10S images and
    elicitations, Uma et al.'s split (and how many CIFAR-10S images fall in its training part), the excluded
    participants and the CIFAR-10S images that are pixel-exact."""
    idx = c10s.indices
    return [
        f"CIFAR-10 test images: {cifar10.provenance}",
        f"   {cifar10.provenance.detail}",
        f"CIFAR-10S images labelled: {len(idx)} | elicitations: {c10s.report.n_rows}",
        f"Uma et al. split: {len(split.train)} train / {len(split.test)} test; CIFAR-10S images in train: "
        f"{len(set(idx) & set(split.train))}",
        f"Excluded Prolific IDs: {len(c10s.excluded_ids)} | found in the released records: "
        f"{len(c10s.excluded_subjects)}",
        f"CIFAR-10S pixel-exact images: {int(cifar10.exact_mask[idx].sum())} of {len(idx)}",
    ]


def sources_table() -> pd.DataFrame:
    """Every data file with its canonical source and (the start of) its sha256 (:data:`thesis_lib.data.SOURCES`)."""
    return pd.DataFrame([{"file": s.path, "canonical source": s.url or "offline mirror only",
                          "sha256": s.sha256[:16] + "…"} for s in SOURCES.values()])


@dataclass(frozen=True)
class Statistic:
    name: str
    computed: float
    thesis: float | None
    tolerance: float          # |computed - thesis| <= tolerance counts as a match
    thesis_text: str          # how the thesis states it
    comment: str = ""

    @property
    def matches(self) -> bool | None:
        return None if self.thesis is None else abs(self.computed - self.thesis) <= self.tolerance


def chapter3_statistics(c10s: CIFAR10S, counts: np.ndarray, probs: np.ndarray) -> list[Statistic]:
    """Every Chapter 3 statistic about CIFAR-10S and CIFAR-10H that the data can check."""
    idx = c10s.indices
    per_image = np.array([len(c10s.elicitations[i]) for i in idx])
    h_all = entropy(probs)
    h_s = h_all[idx]
    trials = c10s.trials
    first = trials[trials.task == "spec_conf"]
    sessions = trials.groupby("subject").size() // 27  # one subject took two batches
    reruns = (trials.task != "spec_conf").sum()
    votes = counts.sum(1)
    nonzero = (counts > 0).sum(1)
    ratio_min = votes[idx].mean() / per_image.min()
    return [
        Statistic("participants (N)", c10s.n_annotators, 248, 0, "N = 248 participants (section 3.2.1)",
                  "distinct subjects in raw_human_data.csv after exclusions"),
        Statistic("images labelled", len(idx), 1000, 0, "1,000 images (10 % of the dataset)"),
        Statistic("share of CIFAR-10 test set", len(idx) / len(probs), 0.10, 0, "10 % of the dataset"),
        Statistic("min annotators per image", per_image.min(), 6, 0, "at least 6 annotators per image",
                  "counts the repeated attention-check trials, as the released labels do"),
        Statistic("mean annotators per image", per_image.mean(), None, 0, "-",
                  f"{reruns} of {len(trials)} elicitations are repeats of a batch's attention checks"),
        Statistic("elicitations per batch (incl. 2 repeats)", len(trials) / sessions.sum(), 27, 0,
                  "a batch of 27 images, two repeated as checks", f"{sessions.sum()} batches taken"),
        Statistic("repeats per batch", reruns / sessions.sum(), 2, 0, "two images repeated per batch"),
        Statistic("CIFAR-10H annotators per image (mean)", votes.mean(), 51, 0.5, "M ~ 51 CIFAR-10H annotators"),
        Statistic("CIFAR-10H images with mass on <= 2 classes (%)", 100 * (nonzero <= 2).mean(), 77.2, 0.051,
                  "approximately 77.2 %"),
        Statistic("CIFAR-10H images with low disagreement H <= 0.1 (%)", 100 * (h_all <= 0.1).mean(), 70, 0.5,
                  "the majority (70 %) have very low annotator disagreement (Battleday et al. 2020)",
                  "entropy in nats; the thesis cites Battleday et al.'s figure, whose operationalisation may differ"),
        Statistic("CIFAR-10S images with CIFAR-10H H > 0.25", (h_s > 0.25).sum(), None, 0, "enriched with H > 0.25"),
        Statistic("CIFAR-10S images with CIFAR-10H H <= 0.1", (h_s <= 0.1).sum(), 114, 0,
                  "three low-entropy images per batch, except 2 of the 40 batches (3 x 38 = 114)"),
        Statistic("CIFAR-10S images with 0.1 < H <= 0.25", ((h_s > 0.1) & (h_s <= 0.25)).sum(), 0, 0,
                  "only H > 0.25 or H <= 0.1 images were shown"),
        Statistic("median elicitation time (s)", first.rt_s.median(), 32, 1.0, "approximately 32 seconds",
                  "first presentations only; the mean is pulled up by a long tail"),
        Statistic("mean elicitation time (s)", first.rt_s.mean(), 32, 1.0, "approximately 32 seconds",
                  f"max {first.rt_s.max():.0f} s: a few trials left open inflate the mean"),
        Statistic("fewer annotators than CIFAR-10H (x)", ratio_min, 8.5, 0.05, "8.5x fewer human annotators",
                  f"CIFAR-10H votes on these images / min annotators (M = 6); with the mean "
                  f"({per_image.mean():.2f}) it is {votes[idx].mean() / per_image.mean():.1f}x"),
    ]


def statistics_table(stats: list[Statistic]) -> pd.DataFrame:
    def verdict(s):
        return "-" if s.matches is None else ("matches" if s.matches else "DIFFERS")

    return pd.DataFrame([{"statistic": s.name, "computed": round(float(s.computed), 3),
                          "thesis": s.thesis_text, "verdict": verdict(s), "comment": s.comment} for s in stats])


def differing_statistics(table: pd.DataFrame) -> list[str]:
    """One line per statistic of :func:`statistics_table` whose value differs from the thesis's, with why."""
    return [f"{row.statistic}: computed {row.computed}; thesis: {row.thesis}. {row.comment}"
            for row in table[table.verdict == "DIFFERS"].itertuples()]


def label_wasserstein(p: np.ndarray, q: np.ndarray) -> float:
    """The "Wasserstein distance between labels" of Figs 3.4 and B.1: ``scipy.stats.wasserstein_distance(p, q)``
    with the two label vectors passed as samples, i.e. a comparison of their sorted probability values.

    It ignores which class holds which mass. We use it because it reproduces the thesis's Fig. B.1 (the three
    highest-distance images are, in order, a dog, a frog and a bird); a distance over class indices would
    treat the class order as meaningful and picks only trucks."""
    return float(wasserstein_distance(np.asarray(p, float), np.asarray(q, float)))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def comparison_frame(c10s: CIFAR10S, probs: np.ndarray, hard: np.ndarray, variety: str = "T2Clamp",
                     gamma: float = DEFAULT_GAMMA, rules: str = "thesis") -> pd.DataFrame:
    """Per CIFAR-10S image: aggregated label, CIFAR-10H label, their Wasserstein distance and entropies."""
    agg = aggregate(annotator_labels(c10s.elicitations, variety, gamma, rules=rules))
    rows = []
    for i, lab in agg.items():
        rows.append({"index": i, "hard": int(hard[i]), "cifar10s": lab, "cifar10h": probs[i],
                     "wasserstein": label_wasserstein(lab, probs[i]), "tv": total_variation(lab, probs[i]), "H_10s": float(entropy(lab)),
                     "H_10h": float(entropy(probs[i])), "annotators": len(c10s.elicitations[i])})
    return pd.DataFrame(rows).set_index("index")


def highest_wasserstein(frame: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """Figs 3.4 (left) and B.1: the images whose CIFAR-10S and CIFAR-10H labels differ most."""
    return frame.sort_values("wasserstein", ascending=False).head(n)


def similar_rich_label(frame: pd.DataFrame) -> pd.DataFrame:
    """Fig. 3.4 (right): a high-entropy CIFAR-10H label recovered closely by CIFAR-10S's few annotators."""
    rich = frame[frame.H_10h > 1.0]
    return rich.sort_values("wasserstein").head(1)


def softening_examples(frame: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """Fig. B.2: the images whose CIFAR-10S label moves most mass (total variation) away from CIFAR-10H's.

    The thesis does not say how it picked them; this rule yields the classes its caption names (truck, dog,
    airplane, in that order)."""
    return frame.sort_values("tv", ascending=False).head(n)


def similar_class_example(frame: pd.DataFrame, a: str = "automobile", b: str = "truck") -> pd.DataFrame:
    """Fig. 3.3: CIFAR-10H puts (nearly) all mass on ``a`` while CIFAR-10S also gives the similar class ``b``."""
    ia, ib = CLASSES.index(a), CLASSES.index(b)
    cand = frame[frame.cifar10h.apply(lambda p: p.argmax() == ia and p.max() >= 0.95)]
    return cand.assign(_b=cand.cifar10s.apply(lambda p: p[ib])).sort_values("_b", ascending=False).head(1).drop(columns="_b")


def classes_of(frame: pd.DataFrame) -> list[str]:
    """The CIFAR-10 classes of a comparison frame's images, in its order (what a figure's caption names)."""
    return [CLASSES[int(h)] for h in frame.hard]


def variety_example(c10s: CIFAR10S):
    """Fig. 3.2: an elicitation on which all four T1/T2 x Uniform/Clamp labels differ (a second choice, mass
    left unspecified, and some classes ruled out). Returns ``(test index, Elicitation)``."""
    for idx in c10s.indices:
        for el in c10s.elicitations[idx]:
            if el.top2 is not None and el.p1 + el.p2 < 90 and 2 <= len(el.possible_others) <= 5 and not el.notes:
                return int(idx), el
    raise LookupError("no elicitation with a second choice, leftover mass and partial exclusions")


def statistics_by_rules(c10s: CIFAR10S, probs: np.ndarray, hard: np.ndarray) -> pd.DataFrame:
    """The Chapter 3 statistics and figure picks that depend on how labels are built, under the thesis's rules
    and under the authors' released rules (:mod:`thesis_lib.labels.varieties`), with whether each moved.

    The dataset statistics of :func:`chapter3_statistics` (participants, annotators, times, CIFAR-10H shares)
    do not use the label construction and so cannot move."""
    def picks(frame):
        return {
            "Fig. B.1: three highest-Wasserstein images": ", ".join(map(str, highest_wasserstein(frame).index)),
            "Fig. 3.4 (right): rich label recovered": ", ".join(map(str, similar_rich_label(frame).index)),
            "Fig. B.2: three most-softened images": ", ".join(map(str, softening_examples(frame).index)),
            "Fig. 3.3: automobile/truck example": ", ".join(map(str, similar_class_example(frame).index)),
            "mean entropy of aggregated T2 Clamp labels (nats)": f"{frame.H_10s.mean():.4f}",
            "mean Wasserstein distance to CIFAR-10H": f"{frame.wasserstein.mean():.5f}",
            "mean total variation to CIFAR-10H": f"{frame.tv.mean():.4f}",
        }

    thesis = picks(comparison_frame(c10s, probs, hard, rules="thesis"))
    release = picks(comparison_frame(c10s, probs, hard, rules="release"))
    return pd.DataFrame([{"statistic": k, "thesis rules": v, "release rules": release[k], "moved": v != release[k]}
                         for k, v in thesis.items()])


def entropy_bands(c10s: CIFAR10S, probs: np.ndarray, low: float = LOW_ENTROPY,
                  high: float = HIGH_ENTROPY) -> dict[str, list]:
    """Appendix B.5's bands: ``{"low": elicitations of images with CIFAR-10H entropy <= low, "high": ... > high}``
    (every CIFAR-10S elicitation of those images)."""
    h = entropy(probs)
    return {"low": [e for i in c10s.indices if h[i] <= low for e in c10s.elicitations[i]],
            "high": [e for i in c10s.indices if h[i] > high for e in c10s.elicitations[i]]}


def simulated_vs_human(simulator: SoftLabelSimulator, c10s: CIFAR10S, probs: np.ndarray, train: np.ndarray,
                       gamma: float = DEFAULT_GAMMA, rules: str = "thesis", seed: int = 0) -> pd.DataFrame:
    """Appendix B.5's simulated labels of the ``train`` images (Chapter 5 softens its 7,000 training labels with
    them) beside the human per-annotator T2 Clamp labels of CIFAR-10S (under ``rules``): the mean top probability
    and the mean number of classes given mass, rounded to 3 places."""
    simulated = simulator.simulate(probs[train], seed=seed)
    human = np.concatenate(list(annotator_labels(c10s.elicitations, "T2Clamp", gamma, rules=rules).values()))
    return pd.DataFrame({"labels": ["human T2 Clamp (per annotator, CIFAR-10S)",
                                    f"simulated ({len(train):,} training images)"],
                         "mean top probability": [human.max(1).mean(), simulated.max(1).mean()],
                         "mean classes with mass": [(human > 0).sum(1).mean(), (simulated > 0).sum(1).mean()]}
                        ).round(3)
