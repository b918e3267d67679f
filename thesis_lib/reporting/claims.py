"""The thesis's textual claims, judged with statistics against our tables and against the thesis's own numbers.

Each claim is one or more comparisons "row A has a lower <metric> than row B" (lower is better for every metric)
read from the tidy tables of :mod:`thesis_lib.reporting.tables` (group, row, metric, ours, ours_ci, n, thesis, thesis_ci).
A comparison is judged by a two-sided Welch t-test over seeds (``scipy.stats.ttest_ind_from_stats`` with
``equal_var=False``) at alpha = 0.05; the standard deviations come from the printed 95 % t-intervals,
``sd = half-width * sqrt(n) / t_{0.975, n-1}``. A claim's verdict is its weakest comparison's:

* ``held``: every difference has the claimed sign and p < 0.05;
* ``same direction, not significant``: every difference has the claimed sign, at least one p >= 0.05;
* ``reversed``: at least one difference has the opposite sign (or is zero), significant or not (see ``p``);
* ``indicative: 1 seed, ...``: a cell comes from a single run, so there is no variance to test; only the
  direction is reported (the quick profile);
* ``not run``: a table the claim needs was not run.

No correction for the several comparisons of a compound claim is applied: each part must pass on its own.

Sample sizes. Ours: the tidy table's ``n``, the runs pooled into the row. Tables 3.1, 3.2 and B.1 average three
architectures: :func:`thesis_lib.reporting.tables.summarise` pools all models x seeds of a row into one t-interval, so our
test treats the 3 x seeds runs as independent draws of the row; the spread between architectures counts as noise,
which makes the test conservative (a test blocked by architecture would be sharper). The thesis's: every table
is read as a 5-seed interval (n = 5, :data:`THESIS_SEEDS`). For Tables 3.1, 3.2 and B.1 the thesis does not say
whether its interval spans the 15 runs or averages three per-model intervals; ``thesis_n`` overrides n per table
(reading them as n = 15 changes no verdict, see the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

ALPHA = 0.05
THESIS_SEEDS = 5
HELD = "held"
NOT_SIGNIFICANT = "same direction, not significant"
REVERSED = "reversed"
INDICATIVE_SAME = "indicative: 1 seed, same direction"
INDICATIVE_REVERSED = "indicative: 1 seed, reversed"
NOT_RUN = "not run"
VERDICTS = (HELD, NOT_SIGNIFICANT, REVERSED, INDICATIVE_SAME, INDICATIVE_REVERSED, NOT_RUN)


class Missing(LookupError):
    """A cell the claim needs is not in the tables (the table was not run)."""


@dataclass(frozen=True)
class Less:
    """The claim that ``lower`` has a lower ``metric`` than ``higher`` in ``table`` (evaluation ``group``)."""

    table: str
    lower: str
    higher: str
    metric: str = "CE"
    group: str = "CIFAR-10H"

    def __str__(self) -> str:
        return f"{self.lower} < {self.higher} ({self.metric}, {self.group})"


@dataclass(frozen=True)
class Claim:
    table: str
    text: str
    comparisons: tuple[Less, ...]


@dataclass(frozen=True)
class Cell:
    mean: float
    sd: float      # nan with one run
    n: int


def sd_from_ci(half: float, n: int) -> float:
    """The standard deviation behind a 95 % t-interval half-width over ``n`` runs (nan for n < 2)."""
    if n < 2 or half is None or math.isnan(half):
        return math.nan
    return half * math.sqrt(n) / stats.t.ppf(0.975, n - 1)


class Cells:
    """Look-up of a (table, group, row, metric) cell; ``column`` picks ``ours`` or ``thesis``.

    Ours reads ``ours``, ``ours_ci`` and ``n``; the thesis reads ``thesis`` and ``thesis_ci`` with n from
    ``thesis_n`` (default :data:`THESIS_SEEDS`)."""

    def __init__(self, frames: dict[str, pd.DataFrame], column: str = "ours", thesis_n: dict | None = None):
        if column not in ("ours", "thesis"):
            raise ValueError(f"column must be 'ours' or 'thesis', not {column!r}")
        self.frames, self.column, self.thesis_n = frames, column, thesis_n or {}

    def __call__(self, table: str, row: str, metric: str = "CE", group: str = "CIFAR-10H") -> Cell:
        frame = self.frames.get(table)
        if frame is None:
            raise Missing(table)
        hit = frame[(frame.group == group) & (frame.row == row) & (frame.metric == metric)]
        if hit.empty:
            raise Missing(f"{table}: {group} / {row} / {metric}")
        r = hit.iloc[0]
        mean = float(r[self.column])
        if math.isnan(mean):
            raise Missing(f"{table}: {group} / {row} / {metric} has no {self.column} value")
        if self.column == "thesis":
            n = int(self.thesis_n.get(table, THESIS_SEEDS))
        else:
            n = int(r["n"]) if "n" in r and not pd.isna(r["n"]) else 1
        half = r.get(f"{self.column}_ci", math.nan)
        return Cell(mean, sd_from_ci(float(half) if not pd.isna(half) else math.nan, n), n)


def welch_p(a: Cell, b: Cell) -> float:
    """Two-sided Welch t-test p-value for a difference of the two cells' means (nan with a single run)."""
    if a.n < 2 or b.n < 2 or math.isnan(a.sd) or math.isnan(b.sd):
        return math.nan
    if a.sd == 0 and b.sd == 0:
        return 0.0 if a.mean != b.mean else 1.0
    return float(stats.ttest_ind_from_stats(a.mean, a.sd, a.n, b.mean, b.sd, b.n, equal_var=False).pvalue)


def judge(comparison: Less, cells: Cells) -> dict:
    """One comparison: the difference (higher - lower; the claim says > 0), its p-value and its verdict."""
    lo = cells(comparison.table, comparison.lower, comparison.metric, comparison.group)
    hi = cells(comparison.table, comparison.higher, comparison.metric, comparison.group)
    diff, p = hi.mean - lo.mean, welch_p(lo, hi)
    if math.isnan(p):
        verdict = INDICATIVE_SAME if diff > 0 else INDICATIVE_REVERSED
    elif diff <= 0:
        verdict = REVERSED
    else:
        verdict = HELD if p < ALPHA else NOT_SIGNIFICANT
    return {"comparison": str(comparison), "difference": diff, "p": p, "n": min(lo.n, hi.n), "verdict": verdict}


def _combine(parts: list[dict]) -> str:
    verdicts = {p["verdict"] for p in parts}
    if verdicts & {INDICATIVE_SAME, INDICATIVE_REVERSED}:
        reversed_ = any(p["difference"] <= 0 for p in parts)
        return INDICATIVE_REVERSED if reversed_ else INDICATIVE_SAME
    for v in (REVERSED, NOT_SIGNIFICANT):
        if v in verdicts:
            return v
    return HELD


def _less(table, a, b, metric="CE", groups=("CIFAR-10H",)):
    return tuple(Less(table, a, b, metric, g) for g in groups)


def _best(table, row, rows, metric="CE", group="CIFAR-10H"):
    return tuple(Less(table, row, r, metric, group) for r in rows if r != row)


BOTH = ("CIFAR-10H", "CIFAR-10S")
OURS = "Ours (T2, Clamp)"
_VARIETIES = ("T1, Unif (12.8s)", "T1, Clamp (19.2s)", "T2, Unif (25.6s)", "T2, Clamp (32s)")
_43 = ("mixup Labels", "Ours (Agg, mean lambda_h)", "Ours (Sep, lambda_h^m)",
       "Ours (Agg, mean lambda_h with mean omega)", "Ours (Sep, lambda_h^m with omega_m)")
_51 = ("mixup", "Mix-MaxEnt", "Ours (Ent-WC)")

CLAIMS: tuple[Claim, ...] = (
    Claim("3.1", "Soft labels beat hard labels: CIFAR-10H and ours both have lower CE than hard labels (both evaluation sets)",
          tuple(c for r in ("CIFAR-10H", OURS) for c in _less("3.1", r, "Hard Labels", groups=BOTH))),
    Claim("3.1", "Aggregated, our labels do not outperform CIFAR-10H: CIFAR-10H has the lower CE (both evaluation sets)",
          _less("3.1", "CIFAR-10H", OURS, groups=BOTH)),
    Claim("3.2", "De-aggregated T2 Clamp beats CIFAR-10H on CE on both evaluation sets",
          _less("3.2", OURS, "CIFAR-10H", groups=BOTH)),
    Claim("3.2", "De-aggregated T2 Clamp beats CIFAR-10H on calibration on both evaluation sets",
          _less("3.2", OURS, "CIFAR-10H", "Calibration", BOTH)),
    Claim("3.3", "With a single annotator (M = 1) our labels beat CIFAR-10H on CE and FGSM loss (both evaluation sets)",
          tuple(c for m in ("CE (M=1)", "FGSM Loss (M=1)") for c in _less("3.3", "Ours", "CIFAR-10H", m, BOTH))),
    Claim("3.3", "With M = 2 our labels beat CIFAR-10H on CE (both evaluation sets)",
          _less("3.3", "Ours", "CIFAR-10H", "CE (M=2)", BOTH)),
    Claim("3.4", "The full elicitation (T2, Clamp) gives the best CE of the four varieties (both evaluation sets)",
          tuple(c for g in BOTH for c in _best("3.4", "T2, Clamp (32s)", _VARIETIES, "CE", g))),
    Claim("3.4", "Clamp beats Unif for T1 on CIFAR-10H CE: the 'definitely not' answers help",
          _less("3.4", "T1, Clamp (19.2s)", "T1, Unif (12.8s)")),
    Claim("B.1", "Label smoothing is better calibrated than both human label sets on CIFAR-10H",
          tuple(Less("B.1", "Label Smoothing", r, "Calibration") for r in ("CIFAR-10H", OURS))),
    Claim("B.1", "On CIFAR-10S, label smoothing has a higher CE than our labels",
          (Less("B.1", OURS, "Label Smoothing", "CE", "CIFAR-10S"),)),
    Claim("B.2", "For T1, semantic redistribution lowers the FGSM loss against uniform (both evaluation sets)",
          _less("B.2", "Semantic", "Uniform", "FGSM Loss", BOTH)),
    Claim("B.3", "For T2, semantic redistribution lowers CE against uniform on CIFAR-10H",
          _less("B.3", "Semantic", "Uniform")),
    Claim("4.1", "mixup labels and Agg both beat uniform and random labels on CE",
          tuple(Less("4.1", a, b) for a in ("+ mixup Labels", "Ours (Agg, mean lambda_h)")
                for b in ("+ Uniform Labels", "+ Random Labels"))),
    Claim("4.1", "Agg has a higher CE than mixup labels", _less("4.1", "+ mixup Labels", "Ours (Agg, mean lambda_h)")),
    Claim("4.2", "Sep < mixup labels < Agg on CE",
          (Less("4.2", "Ours (Sep, lambda_h^m)", "mixup Labels"), Less("4.2", "mixup Labels", "Ours (Agg, mean lambda_h)"))),
    Claim("4.3", "Sep with each annotator's confidence has the best CE, calibration and FGSM loss",
          tuple(c for m in ("CE", "Calibration", "FGSM Loss") for c in _best("4.3", "Ours (Sep, lambda_h^m with omega_m)", _43, m))),
    Claim("4.3", "Confidence smoothing improves Agg's CE", _less("4.3", "Ours (Agg, mean lambda_h with mean omega)",
                                                                "Ours (Agg, mean lambda_h)")),
    Claim("5.1", "Ent-WC has the best FGSM loss", _best("5.1", "Ours (Ent-WC)", _51, "FGSM Loss")),
    Claim("5.1", "Mix-MaxEnt has the best calibration and corruption CE",
          tuple(c for m in ("Calibration", "Corruption CE") for c in _best("5.1", "Mix-MaxEnt", _51, m))),
    Claim("5.2", "Soft endpoints improve mixup's CE and corruption CE",
          tuple(Less("5.2", "mixup, Ours (Soft)", "mixup, Hard", m) for m in ("CE", "Corruption CE"))),
    Claim("C.1", "tau mixing with Ent-WC has the best CE", _best("C.1", "tau mixing, Ent-WC", (
        "mixup, no Ent-WC", "tau mixing, no Ent-WC", "mixup, Ent-WC", "tau mixing, Ent-WC"))),
)


def judge_claims(frames: dict[str, pd.DataFrame], column: str = "ours", thesis_n: dict | None = None) -> pd.DataFrame:
    """One row per (claim, comparison): difference, p, n and the comparison's verdict (or ``not run``)."""
    cells = Cells(frames, column, thesis_n)
    rows = []
    for k, claim in enumerate(CLAIMS):
        for comp in claim.comparisons:
            try:
                part = judge(comp, cells)
            except Missing:
                part = {"comparison": str(comp), "difference": math.nan, "p": math.nan, "n": 0, "verdict": NOT_RUN}
            rows.append({"claim_id": k, "table": claim.table, "claim": claim.text, **part})
    return pd.DataFrame(rows)


def check(frames: dict[str, pd.DataFrame], column: str = "ours", thesis_n: dict | None = None) -> pd.DataFrame:
    """Every claim's verdict (:data:`VERDICTS`), with the largest p-value of its comparisons (``p``, the weakest
    link), the smallest n and the comparisons spelled out (``detail``)."""
    parts = judge_claims(frames, column, thesis_n)
    rows = []
    for k, claim in enumerate(CLAIMS):
        ps = parts[parts.claim_id == k].to_dict("records")
        if any(p["verdict"] == NOT_RUN for p in ps):
            verdict, p_max, n_min, detail = NOT_RUN, math.nan, 0, ""
        else:
            verdict = _combine(ps)
            p_max = max((p["p"] for p in ps), default=math.nan)
            n_min = min(p["n"] for p in ps)
            detail = "; ".join(f"{p['comparison']}: Δ = {p['difference']:+.3g}"
                               + ("" if math.isnan(p["p"]) else f", p = {p['p']:.1e}") for p in ps)
        rows.append({"table": claim.table, "claim": claim.text, "verdict": verdict, "p": p_max, "n": n_min,
                     "detail": detail})
    return pd.DataFrame(rows)


def thesis_frames(tables=None) -> dict[str, pd.DataFrame]:
    """The thesis's published tables as tidy frames with ``thesis`` and ``thesis_ci`` columns."""
    from thesis_lib.reporting import reference

    return {t: reference.published(t).rename(columns={"mean": "thesis", "ci": "thesis_ci"})
            for t in (tables or reference.TABLES)}


def side_by_side(frames: dict[str, pd.DataFrame], thesis_n: dict | None = None) -> pd.DataFrame:
    """Each claim judged on the thesis's own numbers and on ours: table, claim, thesis verdict and p, our verdict,
    p and n."""
    theirs = check(thesis_frames(), "thesis", thesis_n)
    ours = check(frames, "ours")
    return pd.DataFrame({"table": theirs.table, "claim": theirs.claim,
                         "thesis": theirs.verdict, "thesis p": theirs.p,
                         "ours": ours.verdict, "ours p": ours.p, "ours n": ours.n, "ours detail": ours.detail})
