"""Section 4.2.2 of the thesis, "(Mis)-Alignment to Human-Inferred Mixing Coefficient", computed from H-Mix.

Each function returns data (DataFrames / dataclasses); :mod:`thesis_lib.chapters.ch4.plots` draws them.

Notation follows the thesis: ``lambda_f`` is the generating mixing coefficient (weight of the stimulus's first
image ``idx_a``), ``lambda_h`` a participant's inferred coefficient for that same image, ``omega`` the participant's
confidence in the inference (both on 0-1), and ``|lambda_h - lambda_f|`` the *amount of relabelling*.

Independence. The 1,974 first-collection judgements are not independent: each of the 810 stimuli was judged by
2-5 participants, and each participant judged about 58 stimuli. Tests on judgements therefore overstate the
effective sample size. The primary analysis (``level="stimulus"``) first averages the judgements of a stimulus
(mean lambda_h, mean omega, mean amount of relabelling) and tests the 810 stimulus means; ``level="judgement"``
is kept for comparison with the thesis's figures, which pool all judgements. Participant effects remain (the
processed file carries no participant id), so the p-values are best read as descriptive.

Repeats. The processed file counts a participant's repeated attention-check trial as one more annotator of the
stimulus (66 of the 1,974 first-collection judgements); ``n_annotators`` here follows the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from thesis_lib import CLASSES
from thesis_lib.data import (entropy, load_cifar10h_probs, load_first_collection, load_hmix_inferences,
                             registry)

LAMBDA_F_VALUES = (0.1, 0.25, 0.5, 0.75, 0.9)

# Fig. 4.3 as printed: (first class, second class, lambda_f of the first class, thesis's lambda_h of the first class)
THESIS_FIG_4_3 = (("dog", "airplane", 0.25, 0.42), ("bird", "cat", 0.5, 0.99), ("automobile", "bird", 0.5, 0.87))

# Fig. 4.5 thresholds as the thesis states them (H >= 0.5 "very high", H <= 0.1 "low"), in the units of the frame.
HIGH_ENTROPY, LOW_ENTROPY = 0.5, 0.1
GROUP_HIGH, GROUP_LOW, GROUP_OTHER = "both high", "both low", "other"


# --------------------------------------------------------------------------------------------- the joined frame
def relabel_frame(inferences: pd.DataFrame | None = None, cifar10h_probs: np.ndarray | None = None,
                  entropy_units: str = "nats") -> pd.DataFrame:
    """One row per judgement, joined with what every section-4.2.2 analysis needs.

    Adds the per-stimulus aggregates ``lambda_bar_h`` (mean lambda_h), ``omega_bar`` (mean omega) and
    ``n_annotators``; the CIFAR-10H label entropy of both endpoint images ``H_a``, ``H_b`` and their mean
    ``H_mean`` (nats by default, like :func:`thesis_lib.data.entropy`; ``"bits"`` divides by ln 2 — the thesis
    does not state its units); and the amount of relabelling ``relabel = |lambda_h - lambda_f|``.
    ``inferences`` / ``cifar10h_probs`` default to the real data; tests pass small hand-made ones.
    """
    df = (load_hmix_inferences() if inferences is None else inferences).copy()
    probs = load_cifar10h_probs() if cifar10h_probs is None else np.asarray(cifar10h_probs)
    if entropy_units not in ("nats", "bits"):
        raise ValueError(f"entropy_units must be 'nats' or 'bits', not {entropy_units!r}")
    h = entropy(probs) / (np.log(2) if entropy_units == "bits" else 1.0)
    df["H_a"] = h[df.idx_a.to_numpy()]
    df["H_b"] = h[df.idx_b.to_numpy()]
    df["H_mean"] = (df.H_a + df.H_b) / 2
    df["relabel"] = (df.lambda_h - df.lambda_f).abs()
    grouped = df.groupby("stimulus")
    df["lambda_bar_h"] = grouped.lambda_h.transform("mean")
    df["omega_bar"] = grouped.omega.transform("mean")
    df["n_annotators"] = grouped.lambda_h.transform("size").astype(int)
    return df


def stimulus_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per stimulus: the unit of the primary analysis (judgements of a stimulus are not independent).

    ``relabel`` is the stimulus's mean amount of relabelling over its judgements, mean(|lambda_h - lambda_f|),
    so it measures what individuals do; ``relabel_of_mean`` = |lambda_bar_h - lambda_f| is the relabelling the
    averaged label would carry (smaller, because opposite deviations cancel — the thesis's averaging effect).
    """
    first = ["lambda_f", "class_a", "idx_a", "class_b", "idx_b", "H_a", "H_b", "H_mean"]
    out = frame.groupby("stimulus", sort=True).agg(
        **{c: (c, "first") for c in first},
        lambda_bar_h=("lambda_h", "mean"), omega_bar=("omega", "mean"),
        n_annotators=("lambda_h", "size"), relabel=("relabel", "mean")).reset_index()
    out["relabel_of_mean"] = (out.lambda_bar_h - out.lambda_f).abs()
    return out


def _units(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    """The observations a test runs on: judgements, or stimulus means renamed to the judgement columns."""
    if level == "judgement":
        return frame
    if level == "stimulus":
        return stimulus_frame(frame).rename(columns={"lambda_bar_h": "lambda_h", "omega_bar": "omega"})
    raise ValueError(f"level must be 'stimulus' or 'judgement', not {level!r}")


# ------------------------------------------------------------------------------------------------ the stimuli
def both_endpoints_exact(stimuli, exact_mask) -> int:
    """How many ``stimuli`` have both endpoint images (``idx_a``, ``idx_b``) pixel-exact under ``exact_mask``
    (:attr:`thesis_lib.data.cifar10.CIFAR10Test.exact_mask`): only those are the images people saw, bit for bit."""
    exact = np.asarray(exact_mask, dtype=bool)
    return sum(bool(exact[s.idx_a] and exact[s.idx_b]) for s in stimuli)


# -------------------------------------------------------------------------------------------------- Fig. 4.2
def lambda_h_by_lambda_f(frame: pd.DataFrame, level: str = "judgement") -> pd.DataFrame:
    """Fig. 4.2: the distribution of lambda_h at each lambda_f (all judgements pooled, as the thesis does).

    The median is what the thesis says lands close to lambda_f; the quartiles are its "wide error bars".
    """
    units = _units(frame, level)
    g = units.groupby("lambda_f").lambda_h
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "median": g.median(),
                        "q25": g.quantile(0.25), "q75": g.quantile(0.75)})
    out["median_minus_lambda_f"] = out["median"] - out.index.to_numpy()
    return out


# -------------------------------------------------------------------------------------------------- Fig. 4.3
def oriented(frame: pd.DataFrame, reference: str, other: str) -> pd.DataFrame:
    """Rows of ``frame`` for the class pair {reference, other}, with lambda re-expressed as the weight of
    ``reference``: stimuli list the pair in either order, and where the first class is ``other`` the weight of
    ``reference`` is 1 - lambda (for lambda_f, lambda_h and lambda_bar_h alike).

    Works on the judgement frame and on :func:`stimulus_frame`; adds ``reference_first`` (bool).
    """
    ref, oth = CLASSES.index(reference), CLASSES.index(other)
    if ref == oth:
        raise ValueError("a class pair needs two different classes")
    keep = ((frame.class_a == ref) & (frame.class_b == oth)) | ((frame.class_a == oth) & (frame.class_b == ref))
    out = frame[keep].copy()
    first = (out.class_a == ref).to_numpy()
    out["reference_first"] = first
    for col in ("lambda_f", "lambda_h", "lambda_bar_h"):
        if col in out:
            out[col] = np.where(first, out[col], 1.0 - out[col])
    return out


def example_candidates(frame: pd.DataFrame, reference: str, other: str, lambda_f: float) -> pd.DataFrame:
    """All stimuli of a class pair whose weight of ``reference`` is ``lambda_f``, with their average relabelling
    (oriented to ``reference``), sorted by |lambda_bar_h - lambda_f|, largest first."""
    s = oriented(stimulus_frame(frame), reference, other)
    s = s[np.isclose(s.lambda_f, lambda_f)].copy()
    s["deviation"] = (s.lambda_bar_h - s.lambda_f).abs()
    return s.sort_values(["deviation", "stimulus"], ascending=[False, True]).reset_index(drop=True)


def example_relabellings(frame: pd.DataFrame, examples=THESIS_FIG_4_3) -> pd.DataFrame:
    """Fig. 4.3: one example stimulus per (class pair, lambda_f) with its average human relabelling.

    Rule: the stimulus with the largest |lambda_bar_h - lambda_f| among those of the pair at that coefficient
    (the thesis shows deviations, and does not say how it picked its examples). Beside it, the candidate whose
    lambda_bar_h is closest to the thesis's printed value, so the lead can see whether the thesis's image is in
    the data. ``examples`` holds (class 1, class 2, lambda_f of class 1, thesis lambda_h of class 1 or None).
    """
    rows = []
    for reference, other, lam, thesis in examples:
        cand = example_candidates(frame, reference, other, lam)
        if cand.empty:
            raise ValueError(f"no {reference}/{other} stimulus with lambda_f = {lam}")
        pick = cand.iloc[0]
        row = {"class_1": reference, "class_2": other, "lambda_f_1": lam, "lambda_f_2": 1 - lam,
               "stimulus": pick.stimulus, "lambda_bar_h_1": pick.lambda_bar_h,
               "lambda_bar_h_2": 1 - pick.lambda_bar_h, "n_annotators": int(pick.n_annotators),
               "n_candidates": len(cand), "candidates_lambda_bar_h_1": tuple(cand.lambda_bar_h.round(3)),
               "thesis_lambda_h_1": thesis, "thesis_lambda_h_2": None if thesis is None else 1 - thesis}
        if thesis is not None:
            near = cand.iloc[int(np.argmin(np.abs(cand.lambda_bar_h.to_numpy() - thesis)))]
            row.update(closest_to_thesis_stimulus=near.stimulus, closest_to_thesis_lambda_bar_h_1=near.lambda_bar_h)
        rows.append(row)
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------------------- Fig. 4.4
@dataclass(frozen=True)
class CategoryBoundary:
    reference: str            # lambda is the weight of this class ("all deer" at lambda = 1)
    other: str
    judgements: pd.DataFrame  # stimulus, lambda_f, lambda_h, omega (oriented to ``reference``)
    means: pd.DataFrame       # per lambda_f: n, mean, median, sem of lambda_h


def category_boundary(frame: pd.DataFrame, reference: str = "deer", other: str = "airplane") -> CategoryBoundary:
    """Fig. 4.4: lambda_h against lambda_f for one class pair, per judgement and averaged per lambda_f.

    Both coefficients are expressed as the weight of ``reference`` (see :func:`oriented`), so a linear percept
    lies on the diagonal and a categorical one bends into an S — the "category boundary" of the thesis.
    """
    j = oriented(frame, reference, other)[["stimulus", "lambda_f", "lambda_h", "omega", "reference_first"]]
    g = j.groupby("lambda_f").lambda_h
    means = pd.DataFrame({"n": g.size(), "mean": g.mean(), "median": g.median(), "sem": g.sem()})
    return CategoryBoundary(reference, other, j.reset_index(drop=True), means)


# -------------------------------------------------------------------------------------------------- Fig. 4.5
def entropy_group(h_a, h_b, high: float = HIGH_ENTROPY, low: float = LOW_ENTROPY) -> np.ndarray:
    """Label each stimulus by its endpoints' CIFAR-10H entropy: both >= ``high``, both <= ``low``, or other."""
    h_a, h_b = np.asarray(h_a), np.asarray(h_b)
    return np.where((h_a >= high) & (h_b >= high), GROUP_HIGH,
                    np.where((h_a <= low) & (h_b <= low), GROUP_LOW, GROUP_OTHER))


@dataclass(frozen=True)
class EntropyGroups:
    high: float
    low: float
    judgements: pd.DataFrame  # the frame with a ``group`` column
    summary: pd.DataFrame     # per group: judgements, stimuli, omega median / mean / quartiles, mean relabel


def confidence_by_endpoint_entropy(frame: pd.DataFrame, high: float = HIGH_ENTROPY,
                                   low: float = LOW_ENTROPY) -> EntropyGroups:
    """Fig. 4.5: confidence omega when both endpoints are ambiguous (H >= high) vs both clear (H <= low).

    The remaining stimuli form a third group for context. Counts are given because the both-high group is small.
    """
    j = frame.copy()
    j["group"] = pd.Categorical(entropy_group(j.H_a, j.H_b, high, low),
                                categories=[GROUP_HIGH, GROUP_LOW, GROUP_OTHER])
    g = j.groupby("group", observed=False)
    summary = pd.DataFrame({"judgements": g.size(), "stimuli": g.stimulus.nunique(),
                            "omega_median": g.omega.median(), "omega_mean": g.omega.mean(),
                            "omega_q25": g.omega.quantile(0.25), "omega_q75": g.omega.quantile(0.75),
                            "relabel_mean": g.relabel.mean()})
    return EntropyGroups(high, low, j, summary)


# ------------------------------------------------------------------------------------------------ statements
STATEMENTS = {
    "a1": ("confidence is lowest at lambda_f = 0.5",
           "participants' confidence ... is lowest at lambda_f = 0.5"),
    "a2": ("confidence differs across the five lambda_f values", "(implied by a1)"),
    "a3": ("confidence at lambda_f = 0.5 is below every other lambda_f", "lowest at lambda_f = 0.5"),
    "b": ("both-high-entropy endpoints give lower confidence than both-low",
          "H >= 0.5 endpoints: markedly lower confidence than H <= 0.1"),
    "c1": ("no significant effect of endpoint entropy on |lambda_h - lambda_f| (high vs low)",
           "we do not find a significant effect of endpoint entropy and amount of relabeling"),
    "c2": ("no significant association of mean endpoint entropy with |lambda_h - lambda_f|",
           "we do not find a significant effect of endpoint entropy and amount of relabeling"),
    "d": ("on aggregate the median lambda_h is close to lambda_f",
          "participants recover close to the generating coefficient when considering the median"),
}


def _row(key, test, statistic, p, held, detail, n):
    statement, thesis = STATEMENTS[key]
    return {"id": key, "statement": statement, "test": test, "statistic": float(statistic), "p_value": float(p),
            "held": bool(held), "n": n, "detail": detail, "thesis_says": thesis}


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error over the comparisons of one statement)."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    adj = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(adj)
    out[order] = np.minimum(adj, 1.0)
    return out


def _confidence_rows(units: pd.DataFrame, alpha: float) -> list[dict]:
    at = np.isclose(units.lambda_f, 0.5)
    mid, rest = units.omega[at], units.omega[~at]
    u = stats.mannwhitneyu(mid, rest, alternative="less")
    means = units.groupby("lambda_f").omega.mean()
    lowest = bool(np.isclose(means.idxmin(), 0.5))
    detail = "mean omega per lambda_f: " + ", ".join(f"{k:g}: {v:.3f}" for k, v in means.items())
    rows = [_row("a1", "Mann-Whitney U, one-sided (omega at 0.5 < omega at other lambda_f); held needs p < alpha "
                 "and 0.5 to have the lowest mean omega", u.statistic, u.pvalue, u.pvalue < alpha and lowest,
                 detail, f"{len(mid)} vs {len(rest)}")]
    groups = [grp.omega.to_numpy() for _, grp in units.groupby("lambda_f")]
    kw = stats.kruskal(*groups)
    rows.append(_row("a2", "Kruskal-Wallis H across the lambda_f values", kw.statistic, kw.pvalue, kw.pvalue < alpha,
                     detail, " / ".join(str(len(x)) for x in groups)))
    others = [v for v in means.index if not np.isclose(v, 0.5)]
    tests = [stats.mannwhitneyu(mid, units.omega[np.isclose(units.lambda_f, v)], alternative="less") for v in others]
    adj = _holm(np.array([t.pvalue for t in tests]))
    worst = int(np.argmax(adj))
    rows.append(_row("a3", "Mann-Whitney U one-sided, 0.5 vs each other lambda_f, Holm-adjusted; statistic and p of "
                     "the least significant pair", tests[worst].statistic, adj[worst], bool((adj < alpha).all()),
                     "Holm p per lambda_f: " + ", ".join(f"{v:g}: {p:.2g}" for v, p in zip(others, adj)),
                     f"{len(mid)} at 0.5"))
    return rows


def _entropy_rows(units: pd.DataFrame, high: float, low: float, alpha: float) -> list[dict]:
    group = entropy_group(units.H_a, units.H_b, high, low)
    hi, lo = units[group == GROUP_HIGH], units[group == GROUP_LOW]
    counts = f"{len(hi)} both-high vs {len(lo)} both-low"
    u = stats.mannwhitneyu(hi.omega, lo.omega, alternative="less")
    rows = [_row("b", f"Mann-Whitney U, one-sided (omega, both H >= {high:g} < both H <= {low:g})", u.statistic,
                 u.pvalue, u.pvalue < alpha,
                 f"median omega {hi.omega.median():.3f} vs {lo.omega.median():.3f}", counts)]
    u = stats.mannwhitneyu(hi.relabel, lo.relabel, alternative="two-sided")
    rows.append(_row("c1", "Mann-Whitney U, two-sided (|lambda_h - lambda_f|, both-high vs both-low); held = p >= "
                     "alpha", u.statistic, u.pvalue, u.pvalue >= alpha,
                     f"median relabel {hi.relabel.median():.3f} vs {lo.relabel.median():.3f}", counts))
    rho = stats.spearmanr(units.H_mean, units.relabel)
    rows.append(_row("c2", "Spearman rank correlation (mean endpoint entropy vs |lambda_h - lambda_f|, all units); "
                     "held = p >= alpha", rho.statistic, rho.pvalue, rho.pvalue >= alpha,
                     f"rho = {rho.statistic:.3f}", str(len(units))))
    return rows


def _median_row(units: pd.DataFrame, tolerance: float) -> dict:
    """"Close" is a tolerance on |median - lambda_f|, not a null hypothesis; the sign tests (is a median
    detectably off lambda_f at all?) are reported beside it, and with hundreds of units they can reject even
    for a deviation well within the tolerance."""
    gaps, pvals, parts = [], [], []
    for lam, grp in units.groupby("lambda_f"):
        x = grp.lambda_h.to_numpy()
        above, below = int((x > lam).sum()), int((x < lam).sum())
        pvals.append(stats.binomtest(above, above + below, 0.5).pvalue if above + below else 1.0)
        gaps.append(abs(np.median(x) - lam))
        parts.append(f"{lam:g}: median {np.median(x):.3f}")
    adj = _holm(np.array(pvals))
    detail = "; ".join(f"{p} (sign-test Holm p {q:.2g})" for p, q in zip(parts, adj))
    return _row("d", f"max |median lambda_h - lambda_f| over lambda_f (statistic) <= tolerance {tolerance:g}; p = "
                "smallest Holm-adjusted two-sided sign test of median = lambda_f", max(gaps), adj.min(),
                max(gaps) <= tolerance, detail, str(len(units)))


def statement_tests(frame: pd.DataFrame | None = None, level: str = "stimulus", high: float = HIGH_ENTROPY,
                    low: float = LOW_ENTROPY, alpha: float = 0.05, median_tolerance: float = 0.1) -> pd.DataFrame:
    """The section's statements, each with a test from scipy.stats: one tidy row per (sub-)statement.

    ``level="stimulus"`` (default, primary) tests the 810 per-stimulus means, because the judgements of one
    stimulus are not independent; ``level="judgement"`` pools all judgements as the thesis's figures do.
    ``held`` is p < alpha for statements of an effect (a, b) and p >= alpha for "no significant effect" (c);
    absence of significance is not evidence of absence — read c with the group counts in ``n``. Statement d
    is judged by ``median_tolerance`` (see :func:`_median_row`). Entropy thresholds are in the frame's units.
    """
    frame = relabel_frame() if frame is None else frame
    units = _units(frame, level)
    rows = _confidence_rows(units, alpha) + _entropy_rows(units, high, low, alpha) + [_median_row(units,
                                                                                                 median_tolerance)]
    out = pd.DataFrame(rows)
    out.insert(1, "level", level)
    return out


def statement_tests_by_level(frame: pd.DataFrame | None = None, levels=("stimulus", "judgement"),
                             **kw) -> pd.DataFrame:
    """:func:`statement_tests` at each of ``levels`` (default the primary, stimulus, level then the judgement level
    for comparison), one frame; ``kw`` goes to every call."""
    frame = relabel_frame() if frame is None else frame
    return pd.concat([statement_tests(frame, level=level, **kw) for level in levels], ignore_index=True)


def readable_statements(statements: pd.DataFrame) -> pd.DataFrame:
    """:func:`statement_tests` rows as a reader wants them in a notebook: named columns, the statistic to four
    significant digits, p in scientific notation (``3.2e-04``), "held" as yes / no, the thesis's sentence last."""
    def p_text(p):
        return "–" if pd.isna(p) else f"{float(p):.1e}"

    return pd.DataFrame({
        "statement": statements["id"], "level": statements["level"], "what is tested": statements["statement"],
        "test": statements["test"], "statistic": [f"{float(v):.4g}" for v in statements["statistic"]],
        "p": [p_text(p) for p in statements["p_value"]],
        "held": ["yes" if bool(h) else "no" for h in statements["held"]],
        "the thesis says": statements["thesis_says"]}).reset_index(drop=True)


# ------------------------------------------------------------------------------------------ participant stats
def participant_statistics(first_collection_names=None, raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """Section 4.2.1's crowdsourcing numbers, from the raw trials of the first collection, beside the thesis's.

    A participant belongs to the first collection when their trials show first-collection stimuli (no
    participant saw both collections). Repeats are the ``rerun_rate_mixture`` trials; their position is the
    zero-based index, among the participant's ordinary trials, of the trial they repeat.
    """
    if first_collection_names is None:
        first_collection_names = {s.name for s in load_first_collection()}
    if raw is None:
        raw = pd.read_csv(registry.locate("hmix/hmix_infer_mixing_factor.csv"), low_memory=False)
    t = raw[raw.filename.isin(set(first_collection_names))].sort_values(["subject", "trial_index"])
    per_subject = t.groupby("subject").size()
    main = t[t.task == "rate_mixture"]
    reps = t[t.task == "rerun_rate_mixture"]
    per_image = main.groupby("filename").subject.nunique().reindex(sorted(first_collection_names), fill_value=0)
    positions, at_end, diffs = set(), True, []
    for subject, rep in reps.groupby("subject"):
        mine = main[main.subject == subject].reset_index(drop=True)
        at_end &= bool(rep.trial_index.min() > mine.trial_index.max())
        for _, r in rep.iterrows():
            hit = mine.index[mine.filename == r.filename]
            positions.update(int(i) for i in hit)
            diffs += [abs(_coeff(r.responses) - _coeff(mine.responses[i])) for i in hit]
    rows = [
        ("participants", "33", str(t.subject.nunique()), "distinct subjects with first-collection trials"),
        ("images per participant", "59-60", f"{per_subject.min()}-{per_subject.max()}",
         "trials per participant, repeats included"),
        ("repeats per participant", "2", _span(reps.groupby("subject").size()), "rerun_rate_mixture trials"),
        ("repeats placed at the end", "yes", "yes" if at_end else "no", "every repeat after the last ordinary trial"),
        ("trials repeated", "15 and 20", " and ".join(map(str, sorted(positions))),
         "zero-based index among a participant's ordinary trials"),
        ("stimuli", "810", f"{int((per_image > 0).sum())} of {len(per_image)}", "first-collection stimuli shown"),
        ("participants per image", "at least 2", f"{per_image.min()}-{per_image.max()} "
         f"(mean {per_image.mean():.2f})", "distinct participants, repeats not counted"),
        ("judgements", "-", f"{len(main)} + {len(reps)} repeats", "first-collection trials"),
        ("repeat consistency |delta lambda_h|", "-", f"median {np.median(diffs):.2f}, mean {np.mean(diffs):.2f}"
         if diffs else "-", "same participant, same image, first vs repeated trial"),
    ]
    return pd.DataFrame(rows, columns=["quantity", "thesis", "ours", "how computed"])


def _coeff(response: str) -> float:
    """lambda_h from a raw response: the slider reads the weight of the *second* image on 0-100 (the processed
    file stores 1 - mixingcoeff / 100, the weight of the first)."""
    return 1.0 - json.loads(response)["mixingcoeff"] / 100.0


def _span(counts: pd.Series) -> str:
    return str(counts.min()) if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"
