"""The thesis's textual claims, each re-read from its sentence, judged with statistics against our tables and
against the thesis's own numbers.

Every :class:`Claim` quotes the thesis's sentence (``quote``, verbatim from ``shared/thesis/thesis.txt``; ``…``
marks text left out, e.g. a figure caption the extraction put mid-sentence) and says where it stands (``where``:
the section with the page on which the section begins, and the table with its page, both from the thesis's table
of contents and list of tables: ``thesis.txt`` has no page breaks). Each part of the sentence is one comparison
of cells of the tidy tables of :mod:`thesis_lib.reporting.tables` (group, row, metric, ours, ours_ci, n, thesis,
thesis_ci); lower is better for every metric. A sentence that names no metric ("advantageous", "better",
"performance", "the best training signal") is read on CE, the thesis's measure of generalization, on every
evaluation set the table has; named metrics are encoded as named. The kinds of comparison:

* :class:`Less` ("A beats B"): A has the lower value;
* :class:`NotBetter` ("A does not outperform B"): A is not significantly lower than B; it is held whenever there
  is no significant difference in the claimed-against direction (A worse, or A better but p >= 0.05);
* :class:`Gain` ("the gain is larger under X than under Y"): a difference of two differences, e.g. semantic
  over uniform redistribution with T2 against the same with T1;
* :class:`Unclaimed` ("mixed results", "within error bars", "comparable", "inconclusive"): no directional
  claim; the difference and its p-value are shown, never judged.

A comparison is a linear contrast of independent cells, ``Δ = Σ w_i · mean_i``, signed so that the claim says
``Δ > 0`` (for :class:`NotBetter`: ``Δ = A − B``, which must not be significantly below 0). It is judged by a
two-sided Welch t-test over seeds at alpha = 0.05: ``se² = Σ w_i² s_i² / n_i`` with the Welch–Satterthwaite
degrees of freedom (for two cells exactly ``scipy.stats.ttest_ind_from_stats(equal_var=False)``); the standard
deviations come from the printed 95 % t-intervals, ``sd = half-width · sqrt(n) / t_{0.975, n-1}``, and the
interval of Δ is ``Δ ± t_{0.975, df} · se``. A comparison's verdict:

* ``held``: :class:`Less` / :class:`Gain`: Δ > 0 and p < 0.05; :class:`NotBetter`: not (Δ < 0 and p < 0.05);
* ``same direction, not significant``: Δ > 0, p >= 0.05 (:class:`Less` / :class:`Gain` only);
* ``reversed``: :class:`Less` / :class:`Gain`: Δ <= 0, significant or not (see ``p``); :class:`NotBetter`:
  A is significantly better than B;
* ``indicative: 1 seed, same direction`` / ``… reversed``: a cell comes from a single run, so there is no
  variance to test; only the direction of the point estimates is reported (the quick profile);
* ``no directional claim``: an :class:`Unclaimed` part;
* ``not run``: a table the part needs was not run.

A claim's verdict is its weakest directional part's (its ``p`` is that part's), after dropping the
``exceptions`` weakest where the thesis says "nearly all checks"; :class:`Unclaimed` parts do not count, and a
claim made only of them reads ``no directional claim``. No correction for the several comparisons of a compound
claim is applied: each part must pass on its own.

Sample sizes. Ours: the tidy table's ``n``, the runs pooled into the row. Tables 3.1, 3.2 and B.1 average three
architectures: :func:`thesis_lib.reporting.tables.summarise` pools all models x seeds of a row into one t-interval, so our
test treats the 3 x seeds runs as independent draws of the row; the spread between architectures counts as noise,
which makes the test conservative (a test blocked by architecture would be sharper). The thesis's: every table
is read as a 5-seed interval (n = 5, :data:`THESIS_SEEDS`). For Tables 3.1, 3.2 and B.1 the thesis does not say
whether its interval spans the 15 runs or averages three per-model intervals; ``thesis_n`` overrides n per table
(``tests/test_reporting_claims.py`` shows which verdicts reading them as n = 15 changes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
from scipy import stats

from thesis_lib.core import catalogue
from thesis_lib.core.catalogue import THESIS_SEEDS

ALPHA = 0.05
HELD = "held"
NOT_SIGNIFICANT = "same direction, not significant"
REVERSED = "reversed"
INDICATIVE_SAME = "indicative: 1 seed, same direction"
INDICATIVE_REVERSED = "indicative: 1 seed, reversed"
NO_DIRECTION = "no directional claim"
NOT_RUN = "not run"
VERDICTS = (HELD, NOT_SIGNIFICANT, REVERSED, INDICATIVE_SAME, INDICATIVE_REVERSED, NO_DIRECTION, NOT_RUN)
DIRECTIONAL = (HELD, NOT_SIGNIFICANT, REVERSED, INDICATIVE_SAME, INDICATIVE_REVERSED)


class Missing(LookupError):
    """A cell the claim needs is not in the tables (the table was not run)."""


Term = tuple[float, str, str, str, str]        # (weight, table, row, metric, group)


@dataclass(frozen=True)
class Less:
    """The claim that ``lower`` has a lower ``metric`` than ``higher`` in ``table`` (evaluation ``group``):
    Δ = higher − lower > 0."""

    table: str
    lower: str
    higher: str
    metric: str = "CE"
    group: str = "CIFAR-10H"
    kind = "less"

    def terms(self) -> tuple[Term, ...]:
        return ((1.0, self.table, self.higher, self.metric, self.group),
                (-1.0, self.table, self.lower, self.metric, self.group))

    def __str__(self) -> str:
        return f"{self.lower} < {self.higher} ({self.metric}, {self.group})"


@dataclass(frozen=True)
class NotBetter:
    """The claim that ``row`` does not outperform ``than``: Δ = row − than is not significantly below 0."""

    table: str
    row: str
    than: str
    metric: str = "CE"
    group: str = "CIFAR-10H"
    kind = "not better"

    def terms(self) -> tuple[Term, ...]:
        return ((1.0, self.table, self.row, self.metric, self.group),
                (-1.0, self.table, self.than, self.metric, self.group))

    def __str__(self) -> str:
        return f"{self.row} not better than {self.than} ({self.metric}, {self.group})"


@dataclass(frozen=True)
class Unclaimed:
    """No directional claim ("mixed results", "within error bars") about ``a`` against ``b``: Δ = b − a (> 0 where
    ``a`` is lower, as for :class:`Less`), shown and never judged."""

    table: str
    a: str
    b: str
    metric: str = "CE"
    group: str = "CIFAR-10H"
    kind = "unclaimed"

    def terms(self) -> tuple[Term, ...]:
        return ((1.0, self.table, self.b, self.metric, self.group),
                (-1.0, self.table, self.a, self.metric, self.group))

    def __str__(self) -> str:
        return f"{self.a} vs {self.b} ({self.metric}, {self.group}), no direction claimed"


@dataclass(frozen=True)
class Gain:
    """The claim that ``better`` gains more over ``worse`` at ``under`` (``table``, ``metric``) than at
    ``under_less`` (``table_less``, ``metric_less``, default the same metric):
    Δ = (worse − better)[under] − (worse − better)[under_less] > 0."""

    table: str
    table_less: str
    better: str
    worse: str
    metric: str = "CE"
    group: str = "CIFAR-10H"
    metric_less: str | None = None
    under: str = ""
    under_less: str = ""
    kind = "less"

    def terms(self) -> tuple[Term, ...]:
        other = self.metric_less or self.metric
        return ((1.0, self.table, self.worse, self.metric, self.group),
                (-1.0, self.table, self.better, self.metric, self.group),
                (-1.0, self.table_less, self.worse, other, self.group),
                (1.0, self.table_less, self.better, other, self.group))

    def __str__(self) -> str:
        return (f"{self.better} gains more over {self.worse} at {self.under or self.table} than at "
                f"{self.under_less or self.table_less} ({self.metric.split(' (')[0]}, {self.group})")


@dataclass(frozen=True)
class Claim:
    id: str                     # "3.1a": the table, then a letter per claim on it
    table: str                  # the table the claim is read from (some parts may read a second one)
    text: str                   # what is tested, in a line
    quote: str                  # the thesis's sentence, verbatim ("…" marks text left out)
    where: str                  # section and page, table and page
    comparisons: tuple = field(default=())
    exceptions: int = 0         # parts allowed to fail ("in nearly all checks")
    note: str = ""              # how the sentence was read, where it needed reading

    @property
    def directional(self) -> bool:
        return any(c.kind != "unclaimed" for c in self.comparisons)


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


def contrast(terms: list[tuple[float, Cell]]) -> tuple[float, float, float]:
    """``Σ w · mean`` over independent cells, its two-sided Welch p-value and the half-width of its 95 % interval
    (Welch–Satterthwaite degrees of freedom); p and the half-width are nan when a cell has one run."""
    diff = sum(w * c.mean for w, c in terms)
    if any(c.n < 2 or math.isnan(c.sd) for _, c in terms):
        return diff, math.nan, math.nan
    parts = [w * w * c.sd ** 2 / c.n for w, c in terms]
    var = sum(parts)
    if var == 0:
        return diff, (0.0 if diff != 0 else 1.0), 0.0
    df = var ** 2 / sum(v ** 2 / (c.n - 1) for v, (_, c) in zip(parts, terms))
    se = math.sqrt(var)
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return diff, p, float(stats.t.ppf(0.975, df) * se)


def welch_p(a: Cell, b: Cell) -> float:
    """Two-sided Welch t-test p-value for a difference of the two cells' means (nan with a single run)."""
    return contrast([(1.0, b), (-1.0, a)])[1]


def judge(comparison, cells: Cells) -> dict:
    """One comparison: Δ (the claim says Δ > 0; see the module's docstring), the half-width of its 95 % interval
    (``ci``), the cells' mean magnitude (``scale``, for relative plots), its p-value and its verdict."""
    looked = [(w, cells(t, r, m, g)) for w, t, r, m, g in comparison.terms()]
    diff, p, ci = contrast(looked)
    if comparison.kind == "unclaimed":
        verdict = NO_DIRECTION
    elif math.isnan(p):
        same = diff >= 0 if comparison.kind == "not better" else diff > 0
        verdict = INDICATIVE_SAME if same else INDICATIVE_REVERSED
    elif comparison.kind == "not better":
        verdict = REVERSED if diff < 0 and p < ALPHA else HELD
    elif diff <= 0:
        verdict = REVERSED
    else:
        verdict = HELD if p < ALPHA else NOT_SIGNIFICANT
    scale = sum(abs(c.mean) for _, c in looked) / len(looked)
    return {"comparison": str(comparison), "kind": comparison.kind, "difference": diff, "ci": ci, "scale": scale,
            "p": p, "n": min(c.n for _, c in looked), "verdict": verdict}


_RANK = {REVERSED: 0, INDICATIVE_REVERSED: 0, NOT_SIGNIFICANT: 1, INDICATIVE_SAME: 1, HELD: 2}


def _weakness(part: dict) -> tuple:
    """Sort key, weakest first: the verdict, then (for ``less``) the larger p, (for ``not better``) the smaller
    p of a difference in the claimed-against direction."""
    p = part["p"] if not math.isnan(part["p"]) else 1.0
    if part["kind"] == "not better":
        tie = p if part["difference"] < 0 else 2.0
    else:
        tie = -p
    return (_RANK[part["verdict"]], tie)


def combine(parts: list[dict], exceptions: int = 0) -> tuple[str, dict | None]:
    """A claim's verdict from its parts' and the part that decides it (None when nothing is claimed)."""
    if any(p["verdict"] == NOT_RUN for p in parts):
        return NOT_RUN, None
    directional = sorted((p for p in parts if p["verdict"] != NO_DIRECTION), key=_weakness)
    if not directional:
        return NO_DIRECTION, None
    kept = directional[min(exceptions, len(directional) - 1):]
    weakest = kept[0]
    if any(p["verdict"] in (INDICATIVE_SAME, INDICATIVE_REVERSED) for p in kept):
        bad = any(p["verdict"] in (REVERSED, INDICATIVE_REVERSED) for p in kept)
        return (INDICATIVE_REVERSED if bad else INDICATIVE_SAME), weakest
    return weakest["verdict"], weakest


def _less(table, a, b, metric="CE", groups=("CIFAR-10H",)):
    return tuple(Less(table, a, b, metric, g) for g in groups)


def _best(table, row, rows, metric="CE", group="CIFAR-10H"):
    return tuple(Less(table, row, r, metric, group) for r in rows if r != row)


BOTH = ("CIFAR-10H", "CIFAR-10S")
M3 = ("CE", "Calibration", "FGSM Loss")
OURS = "Ours (T2, Clamp)"
_VARIETIES = ("T1, Unif (12.8s)", "T1, Clamp (19.2s)", "T2, Unif (25.6s)", "T2, Clamp (32s)")
AGG, SEP = "Ours (Agg, mean lambda_h)", "Ours (Sep, lambda_h^m)"
AGG_W, SEP_W = "Ours (Agg, mean lambda_h with mean omega)", "Ours (Sep, lambda_h^m with omega_m)"
_52 = ("mixup, Hard", "mixup, Ours (Soft)", "Mix-MaxEnt, Hard", "Mix-MaxEnt, Ours (Soft)", "Ours (Ent-WC), Hard",
       "Ours (Ent-WC), Ours (Soft)")
_C1 = ("mixup, no Ent-WC", "tau mixing, no Ent-WC", "mixup, Ent-WC", "tau mixing, Ent-WC")

_S332 = "§3.3.2 (from p. 21), Table 3.1 (p. 23)"
_S335 = "§3.3.5 (from p. 24), Table 3.4 (p. 26)"
_B2 = "§B.2 (from p. 70), Table B.1 (p. 71)"
_51 = "§5.2.2 (from p. 45), Table 5.1 (p. 47)"
_52W = "§5.2.3 (from p. 46), Table 5.2 (p. 48)"
_C = "Appendix C (p. 74), Table C.1 (p. 74)"
_NAMES_NO_METRIC = "names no metric: read on CE"

CLAIMS: tuple[Claim, ...] = (
    # ---- Chapter 3 -----------------------------------------------------------------------------------------
    Claim("3.1a", "3.1", "Soft labels beat hard labels: CIFAR-10H and ours both have lower CE than hard labels "
          "(both evaluation sets)",
          "As shown in Table 3.1, we recover the findings of (Peterson et al., 2019) that training with soft labels "
          "is markedly more advantageous", _S332,
          tuple(c for r in ("CIFAR-10H", OURS) for c in _less("3.1", r, "Hard Labels", groups=BOTH)),
          note=f"'advantageous' {_NAMES_NO_METRIC}"),
    Claim("3.1b", "3.1", "Aggregated, our labels are better than the baselines (hard, random, uniform) on CE "
          "(both evaluation sets)",
          "While better than baselines, training on our soft labels does not outperform labels constructed from "
          "many annotators’ hard labels.", _S332,
          tuple(c for b in ("Hard Labels", "Random Labels", "Uniform Labels") for c in _less("3.1", OURS, b, groups=BOTH)),
          note=f"'better' {_NAMES_NO_METRIC}"),
    Claim("3.1c", "3.1", "Aggregated, our labels do not outperform CIFAR-10H (no metric, no evaluation set "
          "significantly better)",
          "While better than baselines, training on our soft labels does not outperform labels constructed from "
          "many annotators’ hard labels.", _S332,
          tuple(NotBetter("3.1", OURS, "CIFAR-10H", m, g) for m in M3 for g in BOTH),
          note="'does not outperform' is a claim of no significant win, held on every metric of the table"),
    Claim("3.2a", "3.2", "De-aggregated, our labels beat CIFAR-10H on CE, calibration and FGSM loss in all but "
          "one of the six checks",
          "Table 3.2 reveals this is the case: from 8.5x fewer human annotators than CIFAR-10H, our labels endow "
          "trained classifiers with better generalization, calibration, and robustness in nearly all checks.",
          "§3.3.2 (from p. 21), Table 3.2 (p. 23)",
          tuple(c for m in M3 for c in _less("3.2", OURS, "CIFAR-10H", m, BOTH)), exceptions=1,
          note="'nearly all checks' read as all but one of the 3 metrics x 2 evaluation sets"),
    Claim("3.3a", "3.3", "With M = 2 our labels beat CIFAR-10H on all but one of CE, calibration and FGSM loss x "
          "both evaluation sets, and their CE gain is larger at M = 1",
          "We find that our labels provide a substantial boost along nearly all metrics – and the gains of our "
          "method in the few annotator setting become even more apparent when considering access to only $M = 1$ "
          "human.", "§3.3.3 (from p. 22), Table 3.3 (p. 24)",
          tuple(c for m in M3 for c in _less("3.3", "Ours", "CIFAR-10H", f"{m} (M=2)", BOTH))
          + tuple(Gain("3.3", "3.3", "Ours", "CIFAR-10H", "CE (M=1)", g, "CE (M=2)", "M = 1", "M = 2") for g in BOTH),
          exceptions=1,
          note="'nearly all metrics' allows one of the six M = 2 checks to fail; 'gains ... more apparent' "
               f"{_NAMES_NO_METRIC}"),
    Claim("3.3b", "3.3", "With a single annotator (M = 1) our labels beat CIFAR-10H on CE (both evaluation sets)",
          "we demonstrate that if one has access to only a single annotator, our label … method provides the "
          "best training signal", "§3.3.3 (from p. 22), Table 3.3 (p. 24)",
          _less("3.3", "Ours", "CIFAR-10H", "CE (M=1)", BOTH), note=f"'best training signal' {_NAMES_NO_METRIC}"),
    Claim("3.4a", "3.4", "The full elicitation (T2, Clamp) gives the best CE of the four varieties (both evaluation "
          "sets)",
          "Table 3.4 reveals that the … best performance is enjoyed by models trained on our full set of human "
          "knowledge", _S335,
          tuple(c for g in BOTH for c in _best("3.4", "T2, Clamp (32s)", _VARIETIES, "CE", g)),
          note=f"'best performance' {_NAMES_NO_METRIC}"),
    Claim("3.4b", "3.4", "T1 Clamp is enough: T2 Clamp does not outperform it significantly on CE (both "
          "evaluation sets)",
          "however, we likely could get by with just eliciting the most probable label with our clamp if "
          "annotation time is a factor in budgeting", _S335,
          tuple(NotBetter("3.4", "T2, Clamp (32s)", "T1, Clamp (19.2s)", "CE", g) for g in BOTH),
          note="'get by with' read as: the full elicitation is not significantly better than T1 Clamp"),
    Claim("3.4c", "3.4", "The 'impossible label' answers help: Clamp beats Unif for T1 and for T2 on CE (both "
          "evaluation sets)",
          "This supports the elicitation and incorporation of less common forms of human knowledge like the "
          "“impossible label” set-up we introduce.", _S335,
          tuple(c for t in ("T1", "T2") for c in _less("3.4", _VARIETIES[("T1", "T2").index(t) * 2 + 1],
                                                         _VARIETIES[("T1", "T2").index(t) * 2], "CE", BOTH)),
          note=f"the support is Clamp against Unif at each top-k; {_NAMES_NO_METRIC}"),
    # ---- Appendix B ----------------------------------------------------------------------------------------
    Claim("B.1a", "B.1", "On CIFAR-10H, label smoothing beats both human label sets on calibration and FGSM loss",
          "We find in Table B.1 that LS does outperform both CIFAR-10H and CIFAR-10S in terms of calibration and "
          "robustness over CIFAR-10H; however, this does not hold when evaluated on CIFAR-10S.", _B2,
          tuple(Less("B.1", "Label Smoothing", r, m) for m in ("Calibration", "FGSM Loss") for r in ("CIFAR-10H", OURS))),
    Claim("B.1b", "B.1", "On CIFAR-10S, label smoothing does not outperform either human label set on calibration "
          "or FGSM loss",
          "We find in Table B.1 that LS does outperform both CIFAR-10H and CIFAR-10S in terms of calibration and "
          "robustness over CIFAR-10H; however, this does not hold when evaluated on CIFAR-10S.", _B2,
          tuple(NotBetter("B.1", "Label Smoothing", r, m, "CIFAR-10S") for m in ("Calibration", "FGSM Loss")
                for r in ("CIFAR-10H", OURS)),
          note="'does not hold' read as: no significant win for label smoothing"),
    Claim("B.1c", "B.1", "On CIFAR-10S, label smoothing has a higher CE than both human label sets",
          "This lack of human-sensible alternatives may prohibit effective generalization to our richer, harder "
          "CIFAR-10S evaluation set", _B2,
          tuple(Less("B.1", r, "Label Smoothing", "CE", "CIFAR-10S") for r in ("CIFAR-10H", OURS))),
    Claim("B.2a", "B.2", "For T1, semantic against uniform redistribution: mixed results (no direction claimed)",
          "We find mixed results for whether the redistribution, in this setting, improves over Uniform.",
          "§B.4 (from p. 71), Table B.2 (p. 72)",
          tuple(Unclaimed("B.2", "Semantic", "Uniform", m, g) for m in M3 for g in BOTH)),
    Claim("B.3a", "B.3", "Semantic redistribution gains more over uniform with T2 (Table B.3) than with T1 "
          "(Table B.2) on CE (both evaluation sets)",
          "It appears that semantic redistribution is more effective when we use it in concert with our T2 setting "
          "(shown in Table B.3) compared to just using the T1 information (Table B.2).",
          "§B.4 (from p. 71), Tables B.2 and B.3 (p. 72)",
          tuple(Gain("B.3", "B.2", "Semantic", "Uniform", "CE", g, under="T2", under_less="T1") for g in BOTH),
          note=f"'more effective' {_NAMES_NO_METRIC}; a difference of differences across the two tables"),
    # ---- Chapter 4 -----------------------------------------------------------------------------------------
    Claim("4.1a", "4.1", "Agg against mixup labels: comparable calibration and FGSM loss, CE worse but within error "
          "bars (no direction claimed)",
          "We find in Table 4.1 that this is the case: calibration and FGSM are comparable, though surprisingly "
          "held-out cross entropy is worse – though within error bars.", "§4.3.2 (from p. 37), Table 4.1 (p. 38)",
          tuple(Unclaimed("4.1", AGG, "+ mixup Labels", m) for m in M3),
          note="'comparable' and 'within error bars' claim no direction"),
    Claim("4.1b", "4.1", "mixup labels and Agg both beat uniform and random labels on CE",
          "We see though that, as expected, using either synthetic mixing policy is better than “meaningless” "
          "alternatives (i.e., uniform or random labels)", "§4.3.2 (from p. 37), Table 4.1 (p. 38)",
          tuple(Less("4.1", a, b) for a in ("+ mixup Labels", AGG) for b in ("+ Uniform Labels", "+ Random Labels")),
          note=f"'better' {_NAMES_NO_METRIC}"),
    Claim("4.2a", "4.2", "Sep beats mixup labels on CE",
          "In Table ??, we see that when de-aggregated, like the explorations we were conducting in Section 4.3.2, "
          "human percepts differ from linear mixing in ways that are advantageous for model performance.",
          "§4.3.3 (from p. 37), Table 4.2 (p. 38)", (Less("4.2", SEP, "mixup Labels"),),
          note=f"'advantageous for model performance' {_NAMES_NO_METRIC}; Agg against mixup labels is §4.3.2's "
               "'within error bars' (4.1a), so it is no part of this claim"),
    Claim("4.2b", "4.2", "Not aggregating is preferable: Sep beats Agg on CE, without and with confidence",
          "We find that *not* aggregating over humans’ provided inferences is preferable", "§4.4 (p. 39), Tables 4.2 "
          "(p. 38) and 4.3 (p. 39)", (Less("4.2", SEP, AGG), Less("4.3", SEP_W, AGG_W)),
          note=f"{_NAMES_NO_METRIC}"),
    Claim("4.3a", "4.3", "Labels from lambda_h and omega (Agg and Sep) beat mixup labels on CE, calibration and "
          "FGSM loss",
          "Training instead using labels formed from both types of human knowledge leads to substantial boosts in "
          "generalization, calibration, and robustness over using the traditional linear mixing coefficient-based "
          "labels (see Table 4.3).", "§4.3.4 (from p. 38), Table 4.3 (p. 39)",
          tuple(Less("4.3", r, "mixup Labels", m) for r in (AGG_W, SEP_W) for m in M3)),
    Claim("4.3b", "4.3", "Confidence smoothing improves both Agg and Sep on CE",
          "and uncover that human confidence ω is a particularly potent signal for designing effective training "
          "labels", "§4.4 (p. 39), Table 4.3 (p. 39)",
          (Less("4.3", AGG_W, AGG), Less("4.3", SEP_W, SEP)), note=f"{_NAMES_NO_METRIC}"),
    # ---- Chapter 5 -----------------------------------------------------------------------------------------
    Claim("5.1a", "5.1", "Ent-WC beats mixup on CE, FGSM loss and corruption CE",
          "We find that our entropy-weighted loss significantly improves model generalization and robustness "
          "compared to traditional *mixup* label policy (Zhang et al., 2017)", _51,
          tuple(Less("5.1", "Ours (Ent-WC)", "mixup", m) for m in ("CE", "FGSM Loss", "Corruption CE")),
          note="robustness read as both FGSM loss and corruption CE (the paragraph speaks of natural robustness too)"),
    Claim("5.1b", "5.1", "Ent-WC is worse calibrated than mixup and than Mix-MaxEnt",
          "however, the approach yields somewhat poorer calibrated predictions, particularly with regard to "
          "Mix-MaxEnt (Pinto et al., 2021).", _51,
          tuple(Less("5.1", r, "Ours (Ent-WC)", "Calibration") for r in ("mixup", "Mix-MaxEnt"))),
    Claim("5.1c", "5.1", "Mix-MaxEnt has the best corruption CE",
          "We do note that Mix-MaxEnt yields the best *natural* robustness", _51,
          _best("5.1", "Mix-MaxEnt", ("mixup", "Mix-MaxEnt", "Ours (Ent-WC)"), "Corruption CE")),
    Claim("5.2a", "5.2", "Soft endpoints improve mixup and Mix-MaxEnt on CE, calibration and corruption CE",
          "Table 5.2 reveals that mixing over soft labels confers sizable improvements for traditional *mixup* and "
          "Mix-MaxEnt; particularly in calibration and corruption robustness.", _52W,
          tuple(Less("5.2", f"{a}, Ours (Soft)", f"{a}, Hard", m) for a in ("mixup", "Mix-MaxEnt")
                for m in ("CE", "Calibration", "Corruption CE")),
          note="'improvements' on CE (no metric named), 'particularly' calibration and corruption CE; the thesis's "
               "own Table 5.2 has mixup's calibration worse with soft endpoints (0.087 -> 0.131)"),
    Claim("5.2b", "5.2", "Soft endpoints with Ent-WC: inconclusive (no direction claimed)",
          "However, the soft endpoints yield inconclusive performance change when using our entropy-weighted loss.",
          _52W, tuple(Unclaimed("5.2", "Ours (Ent-WC), Ours (Soft)", "Ours (Ent-WC), Hard", m)
                      for m in ("CE", "FGSM Loss", "Calibration", "Corruption CE"))),
    Claim("5.2c", "5.2", "Mix-MaxEnt with soft endpoints has the best CE of the six",
          "Though the top-tier performance of Mix-MaxEnt when combined with our soft labels supports that this "
          "extension to classical *mixup*", _52W, _best("5.2", "Mix-MaxEnt, Ours (Soft)", _52),
          note=f"'top-tier performance' {_NAMES_NO_METRIC}"),
    # ---- Appendix C ----------------------------------------------------------------------------------------
    Claim("C.1a", "C.1", "tau mixing with Ent-WC has the best CE",
          "though combining with the entropy-weighted loss of Chapter 5 achieves the best CE", _C,
          _best("C.1", "tau mixing, Ent-WC", _C1)),
    Claim("C.1b", "C.1", "Without Ent-WC, tau mixing is worse than linear mixup on CE",
          "without said loss, the method is worse than linear *mixup* alone", _C,
          (Less("C.1", "mixup, no Ent-WC", "tau mixing, no Ent-WC"),),
          note="'worse' read on CE, the metric of the clause before"),
)
CLAIM_IDS = {c.id: c for c in CLAIMS}


def judge_claims(frames: dict[str, pd.DataFrame], column: str = "ours", thesis_n: dict | None = None,
                 claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """One row per (claim, comparison): kind, difference, its interval's half-width ``ci``, ``scale``, p, n and
    the comparison's verdict (or ``not run``)."""
    cells = Cells(frames, column, thesis_n)
    rows = []
    for k, claim in enumerate(claims):
        for comp in claim.comparisons:
            try:
                part = judge(comp, cells)
            except Missing:
                part = {"comparison": str(comp), "kind": comp.kind, "difference": math.nan, "ci": math.nan,
                        "scale": math.nan, "p": math.nan, "n": 0, "verdict": NOT_RUN}
            rows.append({"claim_id": k, "id": claim.id, "table": claim.table, "claim": claim.text, **part})
    return pd.DataFrame(rows)


def check(frames: dict[str, pd.DataFrame], column: str = "ours", thesis_n: dict | None = None,
          claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """Every claim's verdict (:data:`VERDICTS`), the p-value of the part that decides it (``p``; nan when nothing
    directional is claimed), the smallest n and the comparisons spelled out (``detail``)."""
    parts = judge_claims(frames, column, thesis_n, claims)
    rows = []
    for k, claim in enumerate(claims):
        ps = parts[parts.claim_id == k].to_dict("records")
        verdict, decider = combine(ps, claim.exceptions)
        if verdict == NOT_RUN:
            p, n_min, detail = math.nan, 0, ""
        else:
            p = decider["p"] if decider else math.nan
            n_min = min(q["n"] for q in ps)
            detail = "; ".join(f"{q['comparison']}: Δ = {q['difference']:+.3g}"
                               + ("" if math.isnan(q["p"]) else f", p = {q['p']:.1e}") for q in ps)
        rows.append({"id": claim.id, "table": claim.table, "claim": claim.text, "verdict": verdict, "p": p,
                     "n": n_min, "detail": detail})
    return pd.DataFrame(rows)


def thesis_frames(tables=None) -> dict[str, pd.DataFrame]:
    """The thesis's published tables as tidy frames with ``thesis`` and ``thesis_ci`` columns."""
    return {t: catalogue.published(t).rename(columns={"mean": "thesis", "ci": "thesis_ci"})
            for t in (tables or catalogue.TABLES)}


def side_by_side(frames: dict[str, pd.DataFrame], thesis_n: dict | None = None) -> pd.DataFrame:
    """Each claim judged on the thesis's own numbers and on ours: id, table, claim, thesis verdict and p, our
    verdict, p and n."""
    theirs = check(thesis_frames(), "thesis", thesis_n)
    ours = check(frames, "ours")
    return pd.DataFrame({"id": theirs.id, "table": theirs.table, "claim": theirs.claim,
                         "thesis": theirs.verdict, "thesis p": theirs.p,
                         "ours": ours.verdict, "ours p": ours.p, "ours n": ours.n, "ours detail": ours.detail})


def supported(verdicts: pd.DataFrame, column: str = "verdict") -> tuple[int, int]:
    """How many directional claims ``verdicts`` holds at p < 0.05, of how many directional claims."""
    directional = verdicts[verdicts[column] != NO_DIRECTION]
    return int((directional[column] == HELD).sum()), len(directional)
