"""``results/REPORT.md`` and ``REPORT.html``: every table beside the thesis, every figure, and the thesis's
claims checked one by one, headed by the profile and image provenance so no number is mistaken for another.
The command line, ``python -m thesis_lib.report``, is :mod:`thesis_lib.cli.report`.

It only reads what the notebooks wrote (``results/tables/*.csv``, ``figures/*.png``), so it re-renders in seconds.

How it reads:

* tables are wide, as the thesis prints them: rows x metrics, each cell ``ours ± 95 % CI / thesis``; ``†`` marks
  a cell resting on fewer than 5 seeds, ``✓`` a thesis value inside our interval, and every caption says the
  protocol that ran (models, epochs, seeds; from the table's own records) beside the thesis's, and how many of
  the thesis protocol's runs the table holds (profile ``full``; another profile's runs are counted as that
  profile's, never as the thesis's);
* "Calibration" cells hold the authors' statistic (last bin dropped, as the thesis's cells were computed) with the
  correct all-bins value beside them, both recomputed from the runs' kept outputs (:mod:`.recompute`); a
  "Provenance sensitivity" section sets each table's metrics on the pixel-exact evaluation images beside all of them
  (:mod:`.provenance_sensitivity`);
* figures follow the thesis's order under the thesis's captions, embedded in the HTML (data URIs), so the HTML
  can be moved or mailed on its own;
* claim verdicts on a table that did not run the thesis protocol (profile ``smoke`` or ``quick``, or fewer than 5
  seeds) are labelled "indicative (not the thesis protocol)" and never set in bold;
* every claim quotes its sentence (section and page; :mod:`.claims`), and a forest plot of every comparison, the
  thesis's difference beside ours (:mod:`.forest`, ``figures/fig_claims_forest.png``, written by :func:`write` at
  every profile), heads the report;
* ASCII spellings (``lambda_h``, ``omega``, ``tau``...) are shown as symbols (λ_h, ω, τ); counts as integers,
  p-values in scientific notation (``3.2e-04``).

A report without any table is an error (``python -m thesis_lib.report`` exits with status 1, after writing the
report that says so); ``--require`` names notebooks (``03``, ``notebooks/04_hmix.ipynb``) that must each have produced at least one table, or table
ids (``3.1``) that must exist, and ``--since`` (seconds since the epoch) makes tables older than that count as
missing (:func:`check_tables`).
"""

from __future__ import annotations

import base64
import html as html_lib
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from thesis_lib.core import atomic, profiles
from thesis_lib.core.profiles import default_figures_dir, default_results_dir
from thesis_lib.reporting import claims
from thesis_lib.reporting import forest
from thesis_lib.reporting import provenance_sensitivity
from thesis_lib.reporting import reference

THESIS_SEEDS = claims.THESIS_SEEDS          # the thesis protocol: 5 seeds per model

# ---------------------------------------------------------------------------------------------------------------
# Names and symbols
# ---------------------------------------------------------------------------------------------------------------

_GREEK = {"lambda": "λ", "omega": "ω", "kappa": "κ", "gamma": "γ", "beta": "β", "tau": "τ", "alpha": "α",
          "Psi": "Ψ", "psi": "ψ", "sigma": "σ", "epsilon": "ε"}
_GREEK_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(_GREEK, key=len, reverse=True)) + r")(?![a-z])")


def symbols(text) -> str:
    """ASCII spellings of Greek letters as the letters: ``"Ours (Sep, lambda_h^m with omega_m)"`` ->
    ``"Ours (Sep, λ_h^m with ω_m)"``, ``"tau mixing"`` -> ``"τ mixing"``, ``"gamma^omega"`` -> ``"γ^ω"``."""
    return _GREEK_RE.sub(lambda m: _GREEK[m.group(1)], str(text))


MODEL_NAMES = {"resnet34a": "ResNet-34A", "resnet50": "ResNet-50", "vgg11": "VGG-11",
               "preact_resnet18": "PreAct ResNet-18", "preact_resnet34": "PreAct ResNet-34",
               "resnet34_mixup": "ResNet-34 (mixup code)", "small_cnn": "small CNN"}

_CH3_THREE = ("resnet34a", "resnet50", "vgg11")
#: The thesis protocol of each table: its models, epochs, and the runs it trains (rows x models x 5 seeds),
#: as :func:`thesis_lib.chapters.ch3.grid.build`, :func:`thesis_lib.chapters.ch4.runs.build_grid` and
#: :func:`thesis_lib.chapters.ch5.runs.build_grid` make them at profile ``full`` (tests check the two agree).
THESIS_PROTOCOL: dict[str, tuple[tuple[str, ...], int, int]] = {
    "3.1": (_CH3_THREE, 65, 75), "3.2": (_CH3_THREE, 65, 30), "3.3": (("resnet34a",), 65, 20),
    "3.4": (("resnet34a",), 65, 20), "B.1": (_CH3_THREE, 65, 45), "B.2": (("resnet34a",), 65, 10),
    "B.3": (("resnet34a",), 65, 10),
    "4.1": (("preact_resnet18",), 200, 25), "4.2": (("preact_resnet18",), 200, 15),
    "4.3": (("preact_resnet18",), 200, 25),
    "5.1": (("preact_resnet34",), 200, 15), "5.2": (("preact_resnet34",), 200, 30),
    "C.1": (("preact_resnet34",), 200, 45),
}

#: Which tables each notebook writes (``--require 03`` wants at least one of them).
NOTEBOOK_TABLES = {"03": ("3.1", "3.2", "3.3", "3.4", "B.1", "B.2", "B.3"), "04": ("4.1", "4.2", "4.3"),
                   "05": ("5.1", "5.2", "C.1")}

#: Figures in the thesis's order: (file stem, thesis figure number or None, caption). Thesis captions are the
#: thesis's text (its List of figures), with LaTeX written out; figures the thesis does not have say so.
FIGURES: tuple[tuple[str, str | None, str], ...] = (
    ("fig_3_2_label_varieties", "3.2",
     "Depiction of constructed label varieties from the information elicited from a single annotator: A) Top 1, "
     "Uniform, B) Top 1, Clamp, C) Top 2, Uniform, D) Top 2, Clamp. Note, possible labels are inferred by "
     "exclusions."),
    ("fig_3_3_similar_classes", "3.3",
     "Our soft variant of a CIFAR-10H hard label captures inter-class similarities (i.e., trucks and automobiles)."),
    ("fig_3_4_cifar10s_vs_cifar10h", "3.4",
     "Comparison of our elicited labels against CIFAR-10H. From left to right: two examples with high Wasserstein "
     "distance between labels; one example where we recover similarly rich, high entropy labels from 8.5x fewer "
     "annotators. The CIFAR-10 labels for these images are frog, airplane, and frog, respectively."),
    ("fig_3_5_annotation_cost", "3.5",
     "Comparison of learner performance as a factor of estimated total cost of elicitation (M · t_per). Red dots "
     "depict performance when aggregating M CIFAR-10H annotators for M ∈ {1, 2, 4, 8, 16, 32, 51}. Blue dots "
     "indicate CIFAR-10S T2 Clamp soft labels, constructed from varying M ∈ {1, 2, 3, 4, 5, 6}. Dots represent "
     "performance averaged over 5 seeds. Evaluation is conducted over CIFAR-10H (top) and CIFAR-10S (bottom). Bars "
     "indicate 95% confidence intervals over the 5 seeds. Lower is better for all metrics."),
    ("fig_3_6_training_examples", "3.6",
     "Impact of varying the number of soft-labeled examples (N' = 250, 500, 750, 900) during training. Evaluation "
     "is run over heldout CIFAR-10H labels. Lower is better for all metrics."),
    ("fig_4_0_stimuli", None,
     "Not a figure of the thesis (section 4.2.1): the first stimuli of the relabelling experiment, CIFAR-10 test "
     "images of two classes mixed with the generating coefficient λ_f."),
    ("fig_4_2_inferred_vs_generating", "4.2",
     "All human-inferred mixing coefficients compared against the mixing coefficient used to generate the image "
     "(blue). Red line indicates what perfect alignment with the generating coefficient would look like. Although "
     "when mixed, these data look remarkably well-calibrated, we reason this is due to significant averaging "
     "effects."),
    ("fig_4_3_example_relabellings", "4.3",
     "Example actual average human relabelings of the generating mixing coefficient."),
    ("fig_4_4_category_boundary", "4.4",
     "An example “category boundary” extracted from elicited from people diverge from linearity in the generating "
     "coefficient. λ_f is depicted against λ_h (where the mixing coefficient is varied between all deer and all "
     "airplane). The red line indicates what an exact parallel between inferred and generating mixing coefficient "
     "would look like (highlighting perceived human deviation)."),
    ("fig_4_5_confidence_by_entropy", "4.5",
     "Confidence reported by annotators in their inference of λ, as a factor of whether the combined labels y_i, "
     "y_j are high or low entropy. Entropy is measured over the CIFAR-10H human-derived labels."),
    ("fig_5_1_human_soft_label", "5.1",
     "Example combined image (λ = 0.5; horse/ship) which has been relabeled by humans (red) using our soft label "
     "elicitation. The label which would be used by mixup is shown in blue."),
    ("fig_B_1_highest_wasserstein", "B.1",
     "Top three highest Wasserstein distance examples between our CIFAR-10S labels (blue) and CIFAR-10H (red). The "
     "hard labels in CIFAR-10 are: dog, frog, and bird."),
    ("fig_B_2_softening", "B.2",
     "Additional examples demonstrating the “softening” of CIFAR-10H labels with our elicitation. The hard labels "
     "in CIFAR-10 are: truck, dog, and airplane."),
    ("fig_B_3_annotators", "B.3",
     "Comparison of learner performance based on number of annotators used to create the training labels. Same "
     "depiction as Fig 3.5 with only M."),
    ("fig_B_5_simulator_fit", None,
     "Not a figure of the thesis (appendix B.5, the soft-label simulator): fitted Beta densities over the human "
     "top-1 / top-2 probabilities and the histograms of the number of possible classes, for low- and "
     "high-entropy images."),
    ("fig_C_1_tau_curves", None,
     "Not a figure of the thesis (appendix C): every class pair's fitted logistic transform τ_ij(λ_f) against "
     "linear mixup's identity."),
)

# ---------------------------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------------------------


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (not isinstance(x, str) and pd.isna(x))


def format_p(p) -> str:
    """A p-value in scientific notation, two significant digits: ``0.00032`` -> ``"3.2e-04"``."""
    return "–" if _isnan(p) else f"{float(p):.1e}"


def format_number(v) -> str:
    """A value of a free-form table: integers (counts, even when pandas read them as floats) without decimals,
    other numbers with up to four decimals, text as it is."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if v.is_integer():
            return str(int(v))
        return f"{v:.4f}".rstrip("0").rstrip(".")
    if hasattr(v, "item"):                    # numpy scalars
        return format_number(v.item())
    return str(v)


def _is_p_column(name: str) -> bool:
    return bool(re.fullmatch(r"(p|p[ _-]?value|p[ _-]?val|.* p|p \(.*\))", str(name).strip(), re.IGNORECASE))


def _seed_count(value) -> int:
    if _isnan(value):
        return 0
    return len([s for s in str(value).split(",") if s.strip()])


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------


def load_tables(tables_dir: Path, since: float | None = None) -> dict[str, pd.DataFrame]:
    """``{table id: tidy frame}`` from ``table_<id>.csv`` files (``table_3_1`` -> ``3.1``); with ``since``
    (seconds since the epoch), files last written before it are left out."""
    out = {}
    for path in sorted(Path(tables_dir).glob("table_*.csv")):
        if since is not None and path.stat().st_mtime < since:
            continue
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        out[path.stem[len("table_"):].replace("_", ".")] = frame
    return out


def _first(frame: pd.DataFrame, column: str, default=None):
    if column not in frame or frame.empty:
        return default
    values = frame[column].dropna()
    return values.iloc[0] if len(values) else default


def _joined(frame: pd.DataFrame, column: str, default="?") -> str:
    if column not in frame or frame.empty:
        return default
    return ", ".join(sorted({str(v) for v in frame[column].dropna()})) or default


def _n_seeds(r) -> int:
    if "n_seeds" in r and not _isnan(r["n_seeds"]):
        return int(r["n_seeds"])
    return int(r["n"]) if "n" in r and not _isnan(r["n"]) else 1


def table_runs(frame: pd.DataFrame) -> int:
    """Distinct runs behind a table: the ``runs`` column :func:`thesis_lib.reporting.tables.write` records, else (older
    tables) the runs pooled into each row and column block of the first evaluation set."""
    runs = _first(frame, "runs")
    if runs is not None:
        return int(runs)
    if frame.empty or "n" not in frame:
        return 0
    first = frame[frame.group == frame.group.iloc[0]]
    block = first.metric.astype(str).str.extract(r"(\(.*\))$")[0].fillna("")
    return int(first.assign(block=block).groupby(["row", "block"]).n.max().sum())


def table_seeds(frame: pd.DataFrame) -> int:
    """The seeds a table ran: from its ``seeds`` column, else the largest ``n_seeds`` (or ``n``)."""
    k = _seed_count(_first(frame, "seeds")) if "seeds" in frame else 0
    if k:
        return k
    if frame.empty:
        return 0
    return max(_n_seeds(r) for _, r in frame.iterrows())


def at_thesis_protocol(frame: pd.DataFrame | None) -> bool:
    """Whether a table ran the thesis's protocol: profile ``full`` only, every cell on 5 seeds or more."""
    if frame is None or frame.empty or "profile" not in frame:
        return False
    if {str(p) for p in frame.profile.dropna()} != {"full"}:
        return False
    return all(_n_seeds(r) >= THESIS_SEEDS for _, r in frame.iterrows())


def _models_text(models) -> str:
    return "/".join(MODEL_NAMES.get(m, m) for m in models)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _profile_protocol(tid: str, profile: str):
    if profile not in profiles.SETTINGS:
        return None
    ps = profiles.SETTINGS[profile]
    return ps.chapter3 if tid[0] in "3B" else ps.mixup


def protocol_lines(tid: str, frame: pd.DataFrame) -> list[str]:
    """The caption's provenance: profile, images, label rules; the protocol that ran beside the thesis's; and
    how many of the thesis protocol's runs the table holds."""
    prof = _joined(frame, "profile")
    imgs = _joined(frame, "images")
    rules = _joined(frame, "rules", "thesis")
    lines = [f"Profile: **{prof}** · images: {imgs} · label rules: {rules}", ""]
    models = [m.strip() for m in _joined(frame, "models", "").split(",") if m.strip()]
    epochs = _joined(frame, "epochs", "")
    guessed = ""
    if not models or not epochs:               # a table written before these were recorded: the profile's own
        proto = _profile_protocol(tid, prof)
        if proto is not None:
            models, epochs = models or list(proto.models), epochs or str(proto.epochs)
            guessed = " (the profile's defaults; this table did not record them)"
    seeds = table_seeds(frame)
    ran = [_models_text(models) if models else "models not recorded",
           (f"{_plural(int(epochs), 'epoch')}" if epochs.isdigit() else f"{epochs} epochs") if epochs
           else "epochs not recorded", _plural(seeds, "seed")]
    text = f"Ran: {', '.join(ran)}{guessed}"
    if tid in THESIS_PROTOCOL:
        t_models, t_epochs, t_runs = THESIS_PROTOCOL[tid]
        text += f"; thesis: {_models_text(t_models)}, {t_epochs} epochs, {THESIS_SEEDS} seeds"
        n = table_runs(frame)
        profs = {str(p) for p in frame.profile.dropna()} if "profile" in frame else set()
        if profs != {"full"}:                  # another profile's runs are never counted as the thesis's
            where = (f"at the {prof} profile{'s' if len(profs) > 1 else ''}" if profs
                     else "of an unrecorded profile")
            text += f". {_plural(n, 'run')} {where} (not the thesis protocol, which trains {t_runs})."
        else:
            text += (f". **{n} of {t_runs} runs** of the thesis protocol." if n < t_runs
                     else f". All {t_runs} runs of the thesis protocol.")
    else:
        text += "."
    return lines + [text, ""]


def _printed(tid: str) -> dict[tuple[str, str, str], str]:
    """The thesis's means as it prints them (``"8.750"``, not ``8.75``), by (group, row, metric)."""
    if tid not in reference.TABLES:
        return {}
    _, metrics, groups = reference.TABLES[tid]
    return {(g, row, m): cell.replace("+/-", "±").split("±")[0].strip()
            for g, body in groups.items() for row, cells in body.items() for m, cell in zip(metrics, cells)}


def _cell(r, printed: str | None = None) -> str:
    if r is None:
        return ""
    ours = "–" if _isnan(r.ours) else (f"{r.ours:.3f}" if _isnan(r.ours_ci) else f"{r.ours:.3f} ± {r.ours_ci:.3f}")
    if _n_seeds(r) < THESIS_SEEDS:
        ours += " †"
    theirs = "–" if _isnan(r.thesis) else (printed or f"{r.thesis:g}")
    inside = str(r.thesis_in_ci) in ("True", "1", "1.0") if "thesis_in_ci" in r else False
    return f"{ours} / {theirs}" + (" ✓" if inside else "")


def wide_table(tid: str, frame: pd.DataFrame) -> list[str]:
    """Rows x metrics as the thesis prints them; each cell ``ours ± CI / thesis``. Thesis rows we did not run
    show ``– / thesis``; our rows the thesis lacks show ``ours / –``, and so do metrics the thesis does not print
    for the table (after its own); accuracy is left out, as in the thesis."""
    pub = reference.published(tid) if tid in reference.TABLES else pd.DataFrame(
        columns=["group", "row", "metric", "mean", "ci"])
    ours_metrics = [m for m in dict.fromkeys(frame.metric) if not str(m).startswith("Accuracy")] \
        if not frame.empty else []
    metrics = list(reference.TABLES[tid][1]) if tid in reference.TABLES else []
    metrics += [m for m in ours_metrics if m not in metrics]  # a metric we add (C.1's Corruption CE): "ours / –"
    metrics = _all_bins_beside_authors(metrics)
    groups = list(dict.fromkeys(list(frame.group) + list(pub.group))) if not frame.empty else list(
        dict.fromkeys(pub.group))
    one_group = len(groups) == 1
    printed = _printed(tid)
    head = ([] if one_group else ["evaluation"]) + ["labels"] + [symbols(m) for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        ours_g = frame[frame.group == g] if not frame.empty else frame
        pub_g = pub[pub.group == g]
        # our rows in our order (the grids follow the thesis's), then the thesis's rows we did not run
        ours_rows = list(dict.fromkeys(ours_g.row)) if not ours_g.empty else []
        rows = ours_rows + [r for r in dict.fromkeys(pub_g.row) if r not in ours_rows]
        for i, row in enumerate(rows):
            cells = []
            for m in metrics:
                hit = ours_g[(ours_g.row == row) & (ours_g.metric == m)] if not ours_g.empty else ours_g
                if not hit.empty:
                    cells.append(_cell(hit.iloc[0], printed.get((g, row, m))))
                    continue
                cells.append(f"– / {printed[(g, row, m)]}" if (g, row, m) in printed else "")
            first = [] if one_group else [f"**{g}**" if i == 0 else ""]
            lines.append("| " + " | ".join(first + [symbols(row)] + cells) + " |")
    return lines


def _table_section(tid: str, frame: pd.DataFrame | None) -> list[str]:
    lines = [f"### Table {tid}. {symbols(reference.caption(tid))}", ""]
    if frame is None:
        return lines + ["*Not run at this profile.*", ""]
    if frame.empty:
        return lines + ["**Error: the table file holds no rows.**", ""]
    return lines + table_body(tid, frame)


ALL_BINS, AUTHORS = "Calibration, all bins", "Calibration"   # as thesis_lib.reporting.tables names the cells


def _all_bins_beside_authors(metrics: list[str]) -> list[str]:
    """Each "Calibration, all bins<suffix>" column moved right after its "Calibration<suffix>" column."""
    moved = [m for m in metrics if str(m).startswith(ALL_BINS) and AUTHORS + str(m)[len(ALL_BINS):] in metrics]
    out = [m for m in metrics if m not in moved]
    for m in moved:
        out.insert(out.index(AUTHORS + str(m)[len(ALL_BINS):]) + 1, m)
    return out


CALIBRATION_LEGEND = ("Calibration: the authors' statistic (their adaptive bins, last bin dropped), as the thesis's "
                      "cells were computed, so it is the one compared with the thesis; Calibration, all bins: the "
                      "correct RMS calibration error over every bin, beside it (both recomputed from each run's kept "
                      "outputs).")


def table_body(tid: str, frame: pd.DataFrame) -> list[str]:
    """A table below its heading: the protocol that ran beside the thesis's, the wide table, and its legend."""
    lines = protocol_lines(tid, frame)
    groups = list(dict.fromkeys(frame.group))
    few = sorted({_n_seeds(r) for _, r in frame.iterrows() if _n_seeds(r) < THESIS_SEEDS})
    legend = ("Each cell: ours (mean ± 95 % CI over runs) / thesis (mean as printed). ✓: the thesis value lies "
              "inside our interval.")
    if few:
        legend += (f" †: fewer than {THESIS_SEEDS} seeds (here {', '.join(map(str, few))}); with one seed there is "
                   "no interval.")
    if len(groups) == 1:
        legend += f" Evaluated on {groups[0]}."
    if "metric" in frame and frame.metric.astype(str).str.startswith(ALL_BINS).any():
        legend += " " + CALIBRATION_LEGEND
    lines += wide_table(tid, frame) + ["", legend, ""]
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------------------------

INDICATIVE = "indicative (not the thesis protocol)"


def _verdict_cell(verdict: str, p: float, n: int | None = None, indicative: bool = False) -> str:
    bits = [] if _isnan(p) else [f"p = {format_p(p)}"]
    if n:
        bits.append(f"n = {int(n)}")
    tail = f" ({', '.join(bits)})" if bits else ""
    if verdict == claims.NOT_RUN:
        return verdict
    if verdict == claims.NO_DIRECTION and not indicative:     # nothing claimed: never a bold finding
        return f"{verdict}{tail}"
    if indicative:                   # "indicative: 1 seed, reversed" -> "indicative (not the ...): 1 seed, reversed"
        return f"{INDICATIVE}: {verdict.removeprefix('indicative: ')}{tail}"
    return f"**{verdict}**{tail}"


def claims_section(verdicts: pd.DataFrame, indicative_tables: set[str] | None = None) -> list[str]:
    """The claims judged on the thesis's own numbers and on ours, side by side (:func:`claims.side_by_side`).
    Our verdicts on ``indicative_tables`` (tables not run at the thesis protocol) are labelled indicative and
    never bold."""
    indicative_tables = set(indicative_tables or ())
    ours, theirs = verdicts.ours.value_counts(), verdicts.thesis.value_counts()
    one_seed = ours.get(claims.INDICATIVE_SAME, 0) + ours.get(claims.INDICATIVE_REVERSED, 0)
    lines = ["## The thesis's claims", "",
             "Each claim is re-read from the thesis's sentence, quoted below the table with its section and page, "
             "and encodes each part of it as a comparison of two rows (lower is better; a sentence that names no "
             "metric is read on CE): *A < B* (A beats B), *A not better than B* (\"does not outperform\": held "
             "unless A is significantly lower), a gain larger under one setting than another, or no direction "
             "claimed (\"mixed results\", \"within error bars\", \"inconclusive\"). Each comparison is judged by a "
             f"two-sided Welch t-test over seeds at p < {claims.ALPHA:g}, with standard deviations recovered from "
             "the 95 % t-intervals (sd = half-width × √n / t₀.₉₇₅,ₙ₋₁). *held*: every directional part holds "
             "(significant in the claimed direction; for *not better than*, no significant win); *same direction, "
             "not significant*: the claimed sign, but some p ≥ 0.05; *reversed*: some difference has the opposite "
             "sign (or, for *not better than*, a significant win); *no directional claim*: the sentence claims no "
             "direction (its differences are shown, not judged); *indicative: 1 seed*: a row has one run, so only "
             "the direction is known. \"Nearly all checks\" lets the weakest part fail; p is the deciding part's. "
             "The figure at the top of this report draws every comparison.", "",
             f"The thesis's numbers are read as intervals over n = {claims.THESIS_SEEDS} seeds. Tables 3.1, 3.2 and B.1 "
             "average three architectures: the thesis does not say how its interval is formed there, and our interval "
             "pools every model × seed run of a row (n = 3 × seeds), so the test counts the spread between "
             "architectures as noise (conservative).", ""]
    counts = (f"{ours.get(claims.HELD, 0)} held, {ours.get(claims.NOT_SIGNIFICANT, 0)} same direction but not "
              f"significant, {ours.get(claims.REVERSED, 0)} reversed, {one_seed} indicative (1 seed), "
              f"{ours.get(claims.NO_DIRECTION, 0)} no directional claim, {ours.get(claims.NOT_RUN, 0)} not run")
    ran = verdicts[verdicts.ours != claims.NOT_RUN]
    if indicative_tables and ran.table.isin(indicative_tables).any():
        lines += [f"Ours, {INDICATIVE}: {counts}. Our verdicts on tables not run at the thesis protocol (profile "
                  f"`smoke` or `quick`, or fewer than {THESIS_SEEDS} seeds) only exercise the pipeline; they are "
                  "not findings."]
    else:
        lines += [f"**Ours:** {counts}."]
    held, directional = claims.supported(verdicts, "thesis")
    lines[-1] += (f" **The thesis's own numbers:** {theirs.get(claims.HELD, 0)} held, "
                  f"{theirs.get(claims.NOT_SIGNIFICANT, 0)} same direction but not significant, "
                  f"{theirs.get(claims.REVERSED, 0)} reversed, {theirs.get(claims.NO_DIRECTION, 0)} no directional "
                  f"claim: they support {held} of the {directional} directional claims at p < {claims.ALPHA:g}.")
    lines += ["", '<div class="claims">', "", "| table | claim | thesis's numbers | ours | our comparisons |",
              "|---|---|---|---|---|"]
    for _, r in verdicts.iterrows():
        detail = symbols(r["ours detail"]) if r["ours detail"] else "–"
        lines.append(f"| {r.table} | {r.id}: {symbols(r.claim)} | {_verdict_cell(r.thesis, r['thesis p'])} | "
                     f"{_verdict_cell(r.ours, r['ours p'], int(r['ours n']) or None, r.table in indicative_tables)}"
                     f" | {detail} |")
    lines += ["", "</div>", "", "**The sentences.**", ""]
    for c in claims.CLAIMS:
        note = f" *Read as:* {symbols(c.note)}." if c.note else ""
        lines.append(f"- **{c.id}** ({c.where}): “{symbols(c.quote.replace('$', ''))}”{note}")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Free-form tables and figures
# ---------------------------------------------------------------------------------------------------------------

EXTRA_TABLES = (("Chapter 3: dataset statistics", "chapter3_data_statistics.csv"),
                ("Chapter 4: the statements of section 4.2.2", "chapter4_statements.csv"),
                ("Chapter 5: what the humans' soft labels put on mixed images (section 5.1.2)",
                 "chapter5_soft_composition.csv"))


def _md_table(frame: pd.DataFrame) -> str:
    """A free-form table: counts as integers, p-values in scientific notation, Greek letters as symbols."""
    p_cols = {c for c in frame.columns if _is_p_column(c)}

    def cell(col, v):
        if isinstance(v, (bool, np.bool_)):                 # a held / not-held column reads as words
            return "yes" if v else "no"
        if col in p_cols and isinstance(v, (int, float)) and not isinstance(v, bool):
            return format_p(v)
        return symbols(format_number(v)).replace("|", "\\|").replace("\n", " ")

    # column names as words (p_value -> p value, thesis_says -> thesis says)
    head = ("| " + " | ".join(symbols(str(c).replace("_", " ")) for c in frame.columns) + " |\n|"
            + "---|" * len(frame.columns))
    return head + "\n" + "\n".join("| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |"
                                   for row in frame.itertuples(index=False))


def figure_list(figures_dir: Path) -> list[tuple[Path, str]]:
    """``(png, caption)`` in the thesis's order: the thesis's own figures under their captions, then any other
    figure under its file name."""
    found = {p.stem: p for p in sorted(Path(figures_dir).glob("*.png")) if p.stem != forest.FIGURE}
    out = []
    for stem, number, caption in FIGURES:
        if stem in found:
            label = f"Fig. {number}." if number else "Companion figure."
            png = found.pop(stem)
            out.append((png, f"**{label}** {symbols(caption)}{_figure_note(png)}"))
    out += [(p, f"**{symbols(stem)}** (not a figure of the thesis){_figure_note(p)}") for stem, p in found.items()]
    return out


def _figure_note(png: Path) -> str:
    """What our figure shows where it differs from the thesis's (the note :func:`thesis_lib.chapters.common.save`
    wrote beside it), as a sentence after the caption; empty when there is none."""
    note = Path(png).with_name(Path(png).stem + ".note.txt")
    if not note.is_file():
        return ""
    text = note.read_text().strip()
    return f" **Our figure:** {symbols(text)}" if text else ""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


# ---------------------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------------------


def markdown(results_dir: Path, figures_dir: Path, report_dir: Path, tables: dict | None = None) -> str:
    tables = load_tables(results_dir / "tables") if tables is None else tables
    profiles = sorted({str(p) for f in tables.values() if "profile" in f for p in set(f.profile.dropna())})
    images = sorted({str(p) for f in tables.values() if "images" in f for p in set(f.images.dropna())})
    verdicts = claims.side_by_side({t: f for t, f in tables.items() if not f.empty})
    indicative = {tid for tid in reference.TABLES if not at_thesis_protocol(tables.get(tid))}
    lines = ["# Reproducing Collins (2022): report", "",
             f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from `results/tables/` and `figures/`.", "",
             f"**Profile: {', '.join(profiles) or 'no tables yet'}** · **images: {', '.join(images) or '?'}**", ""]
    if not tables:
        lines += ["> **Error: no table was produced.** Run the notebooks (`./run_all.sh`) first; a report without "
                  "tables is a failed run.", ""]
    if profiles != ["full"]:
        lines += ["> Only the `full` profile is the thesis's protocol. Numbers from `quick` or `smoke` come from a small "
                  "CNN trained for a few epochs (each table says what ran) and exercise the pipeline; they are not "
                  "comparable with the thesis, and every verdict on them is indicative (not the thesis protocol).", ""]
    if "mirror_reconstruction" in images:
        lines += ["> Images: the offline mirror's CIFAR-10 reconstruction (2,375 of 10,000 images pixel-exact, the rest "
                  "JPEG-recompressed copies), not the official archive.", ""]
    glance = Path(figures_dir) / f"{forest.FIGURE}.png"
    if glance.is_file():                             # written by write() at every profile (forest.write)
        lines += [f"![{forest.FIGURE}]({quote(Path(_relpath(glance, report_dir)).as_posix())})", "",
                  "**The claims at a glance.** Every comparison of every claim below: the thesis's difference with its "
                  "95 % interval (square) beside ours (circle), as a percentage of the compared cells' mean, coloured "
                  "by verdict; > 0 is the claimed direction.", ""]
    lines += claims_section(verdicts, indicative)
    lines += ["", "## Tables", ""]
    for tid in reference.TABLES:
        lines += _table_section(tid, tables.get(tid))
    for tid in sorted(set(tables) - set(reference.TABLES)):
        lines += [f"### Table {tid}", ""] + (["**Error: the table file holds no rows.**", ""] if tables[tid].empty
                                             else table_body(tid, tables[tid]))
    for title, name in EXTRA_TABLES:
        path = results_dir / "tables" / name
        if path.is_file():
            lines += [f"### {title}", "", _md_table(pd.read_csv(path)), ""]
    lines += provenance_sensitivity.report_section(results_dir / "tables", tables, order=tuple(reference.TABLES))
    figs = figure_list(figures_dir)
    lines += ["## Figures", "", "In the thesis's order, under the thesis's captions; each figure is ours, stamped "
              "with the profile and images it was made from.", ""]
    for fig, caption in figs:
        rel = quote(Path(_relpath(fig, report_dir)).as_posix())     # a space in the path must not break the link
        lines += [f"![{fig.stem}]({rel})", "", caption, ""]
    if not figs:
        lines += ["*No figures yet.*", ""]
    return "\n".join(lines) + "\n"


def _relpath(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:0 1em;line-height:1.4;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 .3em;font-size:.92em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top}th{background:#f0f0f0}"
        "tbody tr:nth-child(even){background:#fafafa}td{font-variant-numeric:tabular-nums}"
        "blockquote{border-left:4px solid #d9822b;background:#fff7ee;margin:1em 0;padding:.2em 1em}"
        "img{max-width:100%;display:block;margin:1.2em auto .3em}h3{margin-top:1.8em}"
        ".claims td:nth-child(1){white-space:nowrap}.claims td:nth-child(2){min-width:16em}"
        ".claims td:nth-child(3),.claims td:nth-child(4){min-width:13em}.claims td:nth-child(5){font-size:.82em}")


def html(md: str, figures: list[tuple[Path, str]] | None = None) -> str:
    """The HTML page of ``md``; every figure in ``figures`` is embedded as a data URI (no path outside the file)."""
    import mistune

    from urllib.parse import unquote

    body = mistune.html(md) if hasattr(mistune, "html") else mistune.markdown(md)
    by_name = {Path(fig).name: Path(fig) for fig, _ in figures or ()}

    def embed(m):                        # whatever escaping the link got, the file name finds the figure
        name = Path(unquote(html_lib.unescape(m.group(1)))).name
        return f'src="{_data_uri(by_name[name])}"' if name in by_name else m.group(0)

    body = re.sub(r'src="([^"]+)"', embed, body)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Collins (2022) report</title>"
            f"<style>{_CSS}</style></head><body>" + body + "</body></html>")


def write(results_dir=None, figures_dir=None) -> tuple[Path, Path]:
    results = Path(results_dir) if results_dir else default_results_dir()
    figures = Path(figures_dir) if figures_dir else default_figures_dir()
    tables = load_tables(results / "tables")
    glance = forest.write(tables, figures)           # the claims at a glance, at every profile
    md = markdown(results, figures, results, tables)
    md_path, html_path = results / "REPORT.md", results / "REPORT.html"
    results.mkdir(parents=True, exist_ok=True)
    atomic.write_text(md_path, md)
    atomic.write_text(html_path, html(md, figure_list(figures) + [(glance, "")]))
    return md_path, html_path


# ---------------------------------------------------------------------------------------------------------------
# The no-table check
# ---------------------------------------------------------------------------------------------------------------


class MissingTables(RuntimeError):
    """The notebooks produced no table, or not the tables asked for."""


def _notebook_key(name: str) -> str | None:
    m = re.match(r"(\d\d)", Path(str(name)).name)
    return m.group(1) if m else None


def check_tables(expected=None, results_dir=None, since: float | None = None) -> dict[str, pd.DataFrame]:
    """Raise :class:`MissingTables` unless ``results_dir/tables`` holds at least one thesis table with rows, and
    every entry of ``expected`` is satisfied: a notebook (``"03"``, ``"04_hmix"``, ``"notebooks/05_soft_mixup.ipynb"``)
    must have written at least one of its tables (:data:`NOTEBOOK_TABLES`), a table id (``"3.1"``) must exist.
    With ``since`` (seconds since the epoch) only tables written at or after it count, so tables left over from
    an earlier run do not hide a notebook that wrote none. Returns the tables found."""
    results = Path(results_dir) if results_dir else default_results_dir()
    tables = {t: f for t, f in load_tables(results / "tables", since).items() if not f.empty}
    problems = []
    if not tables:
        problems.append(f"no table in {results / 'tables'}" + (" written since the run started" if since else ""))
    for item in expected or ():
        item = str(item)
        if item in reference.TABLES or re.fullmatch(r"[0-9A-Z]+\.[0-9]+", item):
            if item not in tables:
                problems.append(f"Table {item} is missing")
            continue
        key = _notebook_key(item)
        if key is None or key not in NOTEBOOK_TABLES:
            problems.append(f"{item!r}: no tables are known for this notebook (report.NOTEBOOK_TABLES)")
        elif not set(NOTEBOOK_TABLES[key]) & set(tables):
            problems.append(f"notebook {item} produced no table (expected one of {', '.join(NOTEBOOK_TABLES[key])})")
    if problems:
        raise MissingTables("; ".join(problems))
    return tables
