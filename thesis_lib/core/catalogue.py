"""The thesis catalogue: every table and figure of the thesis this companion reproduces, listed once, and the
thesis's protocol settings, declared once. Everything else reads it: the chapters (which tables and figures they
build), the claims, the report (captions, printed values, order) and the pre-flight (which ids exist).

* :data:`TABLES`: id -> :class:`Table` (chapter, notebook, caption, metrics, the thesis's printed cells). Cells are
  written as the thesis prints them (``"2.026±0.18"``, mean ± 95 % CI; source ``shared/thesis/thesis.txt``, each
  table with the thesis's row and column names) and parsed here, so a transcription can be checked by eye.
* :data:`FIGURES`: in the thesis's order, each with its file stem, thesis number (``None``: a companion figure the
  thesis does not have), chapter, caption (the thesis's List of figures, LaTeX written out) and, for figures drawn
  from training runs, the grid entry whose runs it plots (``runs``).
* :data:`HYP`: the thesis's settings that are not a profile's training schedule (:mod:`thesis_lib.core.profiles`
  holds those: models, epochs, milestones, batch sizes, learning rates, seeds), each with the section that states it.
  Run specs, labels, chapters, command lines and notebooks read them from here.

The protocol of a table (its models, epochs and the runs it trains) is not written here: it is what the chapter's
grid builds at profile ``full`` (:func:`thesis_lib.chapters.thesis_protocol`), so it cannot drift from what runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from thesis_lib.core.profiles import SETTINGS

#: The thesis's settings other than the training schedules, declared once (the section stating each in the comment).
HYP: dict[str, float | int] = {
    "gamma": 0.1,              # T2 / T1 Clamp redistribution factor, chosen on validation (sections 3.2.2, 3.3)
    "beta": 0.05,              # label smoothing, chosen on validation (appendix B.2)
    "annotators": 6,           # M, our annotators per image in training and in the CIFAR-10S evaluation label (3.3)
    "validation_size": 500,    # training images a validation run holds out (the Chapter 3 method, reused in 5.2.2)
    "fgsm_eps": 4 / 255,       # FGSM budget, l-inf 4 on the 0-255 scale (section 3.3.1)
    "confidence_gamma": 0.005,  # confidence smoothing gamma ** omega (section 4.3.3)
    "mixup_alpha": 1.0,        # Zhang et al.'s CIFAR-10 default for mixup, tau and the logistic baseline (5.2.2)
    "maxent_alpha": 10.0,      # Mix-MaxEnt's alpha (section 5.2.2)
    "maxent_weight": 1.0,      # Mix-MaxEnt's entropy term weight
    "ent_wc_alpha": 0.2,       # Ent-WC's mixup alpha (section 5.2.2)
    "kappa": 0.7,              # Ent-WC's clamp (section 5.2.2)
    "logistic_k": 10.0,        # slope of the logistic not fitted to people (appendix C's missing baseline)
}

#: Seeds per model in every table of the thesis (the full profile's seeds).
THESIS_SEEDS = len(SETTINGS["full"].seeds)

#: The chapter notebook of each chapter (appendix B is folded into Chapter 3's, appendix C into Chapter 5's).
NOTEBOOKS = {3: "03_cifar10s", 4: "04_hmix", 5: "05_soft_mixup"}
_CHAPTER_OF = {"3": 3, "B": 3, "4": 4, "5": 5, "C": 5}   # a table's or figure's number -> its chapter

M3 = ("CE", "Calibration", "FGSM Loss")
M5 = ("CE", "FGSM Loss", "Calibration", "Corruption CE")


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    metrics: tuple[str, ...]
    printed: dict                # {group: {row: [cells in metric order]}}, as the thesis prints them

    @property
    def chapter(self) -> int:
        return _CHAPTER_OF[self.id[0]]

    @property
    def notebook(self) -> str:
        return NOTEBOOKS[self.chapter]


@dataclass(frozen=True)
class Figure:
    stem: str                    # file name without .png
    number: str | None           # the thesis's figure number; None: a companion figure
    caption: str
    runs: str | None = None      # the grid entry whose runs it plots (Fig. B.3 plots Fig. 3.5's)

    @property
    def chapter(self) -> int:
        return _CHAPTER_OF[self.stem[len("fig_")]]

    @property
    def notebook(self) -> str:
        return NOTEBOOKS[self.chapter]


def _Table(tid, caption, metrics, printed) -> tuple[str, Table]:
    return tid, Table(tid, caption, tuple(metrics), printed)


_Figure = Figure

TABLES: dict[str, Table] = dict(_Table(tid, *entry) for tid, entry in {
    "3.1": ("Aggregated human labels (M = 51 CIFAR-10H, M = 6 ours); ResNet-34A, ResNet-50, VGG-11, 5 seeds each",
            M3, {
                "CIFAR-10H": {
                    "Hard Labels": ["2.026±0.18", "0.277±0.01", "15.455±7.5"],
                    "Random Labels": ["1.77±0.16", "0.226±0.02", "13.476±1.39"],
                    "Uniform Labels": ["1.599±0.13", "0.203±0.02", "10.199±3.82"],
                    "CIFAR-10H": ["1.325±0.07", "0.201±0.01", "8.750±1.8"],
                    "Ours (T2, Clamp)": ["1.369±0.07", "0.203±0.01", "8.872±1.63"]},
                "CIFAR-10S": {
                    "Hard Labels": ["4.46±0.49", "0.425±0.09", "15.782±4.67"],
                    "Random Labels": ["3.093±0.53", "0.353±0.05", "10.697±4.14"],
                    "Uniform Labels": ["2.923±0.26", "0.311±0.06", "11.768±5.18"],
                    "CIFAR-10H": ["2.558±0.16", "0.313±0.03", "8.416±1.64"],
                    "Ours (T2, Clamp)": ["2.591±0.19", "0.324±0.02", "9.116±1.63"]}}),
    "3.2": ("De-aggregated labels: one human's label per image per batch", M3, {
        "CIFAR-10H": {"CIFAR-10H": ["1.293±0.08", "0.194±0.01", "8.577±1.91"],
                      "Ours (T2, Clamp)": ["1.281±0.06", "0.184±0.01", "8.406±1.75"]},
        "CIFAR-10S": {"CIFAR-10H": ["2.459±0.21", "0.311±0.02", "8.334±1.75"],
                      "Ours (T2, Clamp)": ["2.355±0.14", "0.297±0.03", "8.405±1.59"]}}),
    "3.3": ("Fewer annotators: labels sampled per batch from a pool of M = 2 or M = 1 (ResNet-34A, 5 seeds)",
            ("CE (M=2)", "Calibration (M=2)", "FGSM Loss (M=2)", "CE (M=1)", "Calibration (M=1)", "FGSM Loss (M=1)"), {
                "CIFAR-10H": {"CIFAR-10H": ["1.71±0.15", "0.25±0.02", "14.16±0.67", "2.17±0.11", "0.29±0.01", "19.20±0.86"],
                              "Ours": ["1.49±0.08", "0.22±0.01", "11.57±0.44", "1.58±0.08", "0.23±0.01", "12.57±1.29"]},
                "CIFAR-10S": {"CIFAR-10H": ["3.37±0.42", "0.34±0.08", "13.13±0.7", "4.49±0.31", "0.45±0.05", "17.85±0.68"],
                              "Ours": ["2.88±0.17", "0.36±0.04", "11.39±0.59", "2.90±0.31", "0.38±0.06", "12.13±1.31"]}}),
    "3.4": ("Labels from subsets of the elicited knowledge; pool of M = 6 humans (elicitation time per label)",
            ("CE", "FGSM Loss", "Calibration"), {
                "CIFAR-10H": {"T1, Unif (12.8s)": ["1.423±0.08", "10.891±0.32", "0.198±0.01"],
                              "T1, Clamp (19.2s)": ["1.368±0.12", "10.386±0.8", "0.198±0.02"],
                              "T2, Unif (25.6s)": ["1.448±0.14", "10.474±0.44", "0.203±0.02"],
                              "T2, Clamp (32s)": ["1.306±0.19", "8.482±3.95", "0.183±0.03"]},
                "CIFAR-10S": {"T1, Unif (12.8s)": ["2.531±0.15", "11.25±0.4", "0.312±0.03"],
                              "T1, Clamp (19.2s)": ["2.637±0.31", "10.423±1.17", "0.328±0.06"],
                              "T2, Unif (25.6s)": ["2.63±0.29", "10.667±1.15", "0.339±0.1"],
                              "T2, Clamp (32s)": ["2.466±0.32", "10.382±1.0", "0.321±0.07"]}}),
    "B.1": ("De-aggregated human soft labels against label smoothing", M3, {
        "CIFAR-10H": {"Label Smoothing": ["1.368±0.19", "0.175±0.05", "6.965±1.7"],
                      "CIFAR-10H": ["1.293±0.08", "0.194±0.01", "8.577±1.91"],
                      "Ours (T2, Clamp)": ["1.281±0.06", "0.184±0.01", "8.406±1.75"]},
        "CIFAR-10S": {"Label Smoothing": ["2.674±0.33", "0.299±0.05", "9.375±3.4"],
                      "CIFAR-10H": ["2.459±0.21", "0.311±0.02", "8.334±1.75"],
                      "Ours (T2, Clamp)": ["2.355±0.14", "0.297±0.03", "8.405±1.59"]}}),
    "B.2": ("T1 labels: uniform vs semantic redistribution (ResNet-34A, 5 seeds)", M3, {
        "CIFAR-10H": {"Uniform": ["1.423±0.08", "0.198±0.01", "10.891±0.32"],
                      "Semantic": ["1.439±0.05", "0.198±0.02", "10.369±1.23"]},
        "CIFAR-10S": {"Uniform": ["2.531±0.15", "0.312±0.03", "11.25±0.4"],
                      "Semantic": ["2.568±0.97", "0.32±0.17", "10.284±1.35"]}}),
    "B.3": ("T2 labels: uniform vs semantic redistribution (ResNet-34A, 5 seeds)", M3, {
        "CIFAR-10H": {"Uniform": ["1.448±0.14", "0.203±0.02", "10.474±0.44"],
                      "Semantic": ["1.382±0.19", "0.195±0.04", "10.378±1.11"]},
        "CIFAR-10S": {"Uniform": ["2.63±0.29", "0.339±0.1", "10.667±1.15"],
                      "Semantic": ["2.64±0.73", "0.335±0.18", "10.326±1.72"]}}),
    "4.1": ("Labels for the 810 synthetic images of the augmenting set (PreAct ResNet-18), CIFAR-10H evaluation", M3, {
        "CIFAR-10H": {"Regular (No Aug)": ["2.25±0.04", "0.29±0.01", "14.53±0.22"],
                      "+ Uniform Labels": ["2.56±0.05", "0.29±0.01", "18.54±0.31"],
                      "+ Random Labels": ["2.66±0.05", "0.3±0.01", "19.75±0.31"],
                      "+ mixup Labels": ["2.19±0.04", "0.28±0.01", "14.35±0.21"],
                      "Ours (Agg, mean lambda_h)": ["2.27±0.04", "0.28±0.01", "15.07±0.22"]}}),
    "4.2": ("Individual (Sep) vs averaged (Agg) human relabelings vs mixup labels", M3, {
        "CIFAR-10H": {"mixup Labels": ["2.19±0.04", "0.28±0.01", "14.35±0.21"],
                      "Ours (Agg, mean lambda_h)": ["2.27±0.04", "0.28±0.01", "15.07±0.22"],
                      "Ours (Sep, lambda_h^m)": ["2.01±0.03", "0.27±0.01", "13.33±0.19"]}}),
    "4.3": ("Confidence smoothing gamma^omega (gamma = 0.005) with Agg and Sep labels", M3, {
        "CIFAR-10H": {"mixup Labels": ["2.19±0.04", "0.28±0.01", "14.35±0.21"],
                      "Ours (Agg, mean lambda_h)": ["2.27±0.04", "0.28±0.01", "15.07±0.22"],
                      "Ours (Sep, lambda_h^m)": ["2.01±0.03", "0.27±0.01", "13.33±0.19"],
                      "Ours (Agg, mean lambda_h with mean omega)": ["2.09±0.04", "0.27±0.01", "14.01±0.22"],
                      "Ours (Sep, lambda_h^m with omega_m)": ["1.83±0.03", "0.24±0.01", "11.81±0.19"]}}),
    "5.1": ("Variants of mixup (PreAct ResNet-34, hard endpoints)", M5, {
        "CIFAR-10H": {"mixup": ["1.252±0.02", "10.547±0.26", "0.087±0.01", "1.606±0.03"],
                      "Mix-MaxEnt": ["1.070±0.04", "6.436±0.59", "0.065±0.01", "1.340±0.03"],
                      "Ours (Ent-WC)": ["1.054±0.01", "3.314±0.05", "0.102±0.0", "1.346±0.03"]}}),
    "5.2": ("Hard vs soft (simulated CIFAR-10S) endpoints", M5, {
        "CIFAR-10H": {"mixup, Hard": ["1.252±0.02", "10.547±0.26", "0.087±0.01", "1.606±0.03"],
                      "mixup, Ours (Soft)": ["1.18±0.02", "8.893±0.24", "0.131±0.01", "1.48±0.03"],
                      "Mix-MaxEnt, Hard": ["1.07±0.04", "6.436±0.59", "0.065±0.01", "1.34±0.03"],
                      "Mix-MaxEnt, Ours (Soft)": ["1.019±0.02", "6.013±0.59", "0.054±0.01", "1.252±0.02"],
                      "Ours (Ent-WC), Hard": ["1.054±0.01", "3.314±0.05", "0.102±0.0", "1.346±0.03"],
                      "Ours (Ent-WC), Ours (Soft)": ["1.027±0.02", "3.399±0.06", "0.107±0.01", "1.30±0.02"]}}),
    "C.1": ("Mixing with lambda_g = tau_ij(lambda_f) fitted to human data, with and without Ent-WC",
            ("CE", "FGSM Loss", "Calibration"), {
                "CIFAR-10H": {"mixup, no Ent-WC": ["1.252±0.02", "10.547±0.26", "0.087±0.01"],
                              "tau mixing, no Ent-WC": ["1.28±0.04", "6.502±1.61", "0.172±0.11"],
                              "mixup, Ent-WC": ["1.054±0.01", "3.314±0.05", "0.102±0.0"],
                              "tau mixing, Ent-WC": ["1.039±0.02", "4.171±0.06", "0.109±0.01"]}}),
}.items())

FIGURES: tuple[Figure, ...] = (
    _Figure("fig_3_2_label_varieties", "3.2",
     "Depiction of constructed label varieties from the information elicited from a single annotator: A) Top 1, "
     "Uniform, B) Top 1, Clamp, C) Top 2, Uniform, D) Top 2, Clamp. Note, possible labels are inferred by "
     "exclusions."),
    _Figure("fig_3_3_similar_classes", "3.3",
     "Our soft variant of a CIFAR-10H hard label captures inter-class similarities (i.e., trucks and automobiles)."),
    _Figure("fig_3_4_cifar10s_vs_cifar10h", "3.4",
     "Comparison of our elicited labels against CIFAR-10H. From left to right: two examples with high Wasserstein "
     "distance between labels; one example where we recover similarly rich, high entropy labels from 8.5x fewer "
     "annotators. The CIFAR-10 labels for these images are frog, airplane, and frog, respectively."),
    _Figure("fig_3_5_annotation_cost", "3.5",
     "Comparison of learner performance as a factor of estimated total cost of elicitation (M · t_per). Red dots "
     "depict performance when aggregating M CIFAR-10H annotators for M ∈ {1, 2, 4, 8, 16, 32, 51}. Blue dots "
     "indicate CIFAR-10S T2 Clamp soft labels, constructed from varying M ∈ {1, 2, 3, 4, 5, 6}. Dots represent "
     "performance averaged over 5 seeds. Evaluation is conducted over CIFAR-10H (top) and CIFAR-10S (bottom). Bars "
     "indicate 95% confidence intervals over the 5 seeds. Lower is better for all metrics.", runs="3.5"),
    _Figure("fig_3_6_training_examples", "3.6",
     "Impact of varying the number of soft-labeled examples (N' = 250, 500, 750, 900) during training. Evaluation "
     "is run over heldout CIFAR-10H labels. Lower is better for all metrics.", runs="3.6"),
    _Figure("fig_4_0_stimuli", None,
     "Not a figure of the thesis (section 4.2.1): the first stimuli of the relabelling experiment, CIFAR-10 test "
     "images of two classes mixed with the generating coefficient λ_f."),
    _Figure("fig_4_2_inferred_vs_generating", "4.2",
     "All human-inferred mixing coefficients compared against the mixing coefficient used to generate the image "
     "(blue). Red line indicates what perfect alignment with the generating coefficient would look like. Although "
     "when mixed, these data look remarkably well-calibrated, we reason this is due to significant averaging "
     "effects."),
    _Figure("fig_4_3_example_relabellings", "4.3",
     "Example actual average human relabelings of the generating mixing coefficient."),
    _Figure("fig_4_4_category_boundary", "4.4",
     "An example “category boundary” extracted from elicited from people diverge from linearity in the generating "
     "coefficient. λ_f is depicted against λ_h (where the mixing coefficient is varied between all deer and all "
     "airplane). The red line indicates what an exact parallel between inferred and generating mixing coefficient "
     "would look like (highlighting perceived human deviation)."),
    _Figure("fig_4_5_confidence_by_entropy", "4.5",
     "Confidence reported by annotators in their inference of λ, as a factor of whether the combined labels y_i, "
     "y_j are high or low entropy. Entropy is measured over the CIFAR-10H human-derived labels."),
    _Figure("fig_5_1_human_soft_label", "5.1",
     "Example combined image (λ = 0.5; horse/ship) which has been relabeled by humans (red) using our soft label "
     "elicitation. The label which would be used by mixup is shown in blue."),
    _Figure("fig_B_1_highest_wasserstein", "B.1",
     "Top three highest Wasserstein distance examples between our CIFAR-10S labels (blue) and CIFAR-10H (red). The "
     "hard labels in CIFAR-10 are: dog, frog, and bird."),
    _Figure("fig_B_2_softening", "B.2",
     "Additional examples demonstrating the “softening” of CIFAR-10H labels with our elicitation. The hard labels "
     "in CIFAR-10 are: truck, dog, and airplane."),
    _Figure("fig_B_3_annotators", "B.3",
     "Comparison of learner performance based on number of annotators used to create the training labels. Same "
     "depiction as Fig 3.5 with only M.", runs="3.5"),
    _Figure("fig_B_5_simulator_fit", None,
     "Not a figure of the thesis (appendix B.5, the soft-label simulator): fitted Beta densities over the human "
     "top-1 / top-2 probabilities and the histograms of the number of possible classes, for low- and "
     "high-entropy images."),
    _Figure("fig_C_1_tau_curves", None,
     "Not a figure of the thesis (appendix C): every class pair's fitted logistic transform τ_ij(λ_f) against "
     "linear mixup's identity."),
)


def table_ids(chapter: int | None = None) -> tuple[str, ...]:
    """Every table id in the thesis's order, or those of ``chapter`` (3 includes appendix B, 5 appendix C)."""
    return tuple(t for t, table in TABLES.items() if chapter is None or table.chapter == chapter)


def figure_ids(chapter: int | None = None, trained: bool = False) -> tuple[str, ...]:
    """Figure numbers in the thesis's order (of ``chapter``); ``trained``: only the grid entries of figures drawn
    from training runs (each once: Fig. B.3 plots Fig. 3.5's runs)."""
    figs = [f for f in FIGURES if chapter is None or f.chapter == chapter]
    if trained:
        return tuple(dict.fromkeys(f.runs for f in figs if f.runs))
    return tuple(f.number for f in figs if f.number)


def chapter_of(table_id: str) -> int:
    """The chapter (3, 4 or 5) whose notebook builds the table."""
    return table(table_id).chapter


def table(table_id: str) -> Table:
    try:
        return TABLES[table_id]
    except KeyError:
        raise KeyError(f"unknown table {table_id!r}; the thesis's tables are {', '.join(TABLES)}") from None


def caption(table_id: str) -> str:
    return table(table_id).caption


def parse_cell(cell: str) -> tuple[float, float]:
    """``"2.026±0.18"`` -> ``(2.026, 0.18)``."""
    mean, ci = cell.replace("+/-", "±").split("±")
    return float(mean), float(ci)


def printed_means(table_id: str) -> dict[tuple[str, str, str], str]:
    """The thesis's means as it prints them (``"8.750"``, not ``8.75``), by (group, row, metric); empty for an id
    the thesis does not have."""
    if table_id not in TABLES:
        return {}
    t = TABLES[table_id]
    return {(g, row, m): cell.replace("+/-", "±").split("±")[0].strip()
            for g, body in t.printed.items() for row, cells in body.items() for m, cell in zip(t.metrics, cells)}


def published(table_id: str) -> pd.DataFrame:
    """The thesis's table as rows of (table, group, row, metric, mean, ci)."""
    t = table(table_id)
    rows = []
    for group, body in t.printed.items():
        for row, cells in body.items():
            if len(cells) != len(t.metrics):
                raise ValueError(f"table {table_id}, {group} / {row}: {len(cells)} cells for {len(t.metrics)} metrics")
            for metric, cell in zip(t.metrics, cells):
                mean, ci = parse_cell(cell)
                rows.append({"table": table_id, "group": group, "row": row, "metric": metric, "mean": mean, "ci": ci})
    return pd.DataFrame(rows, columns=["table", "group", "row", "metric", "mean", "ci"])
